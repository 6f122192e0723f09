package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {

    @TempDir
    Path tmp;

    @Test
    void parsesTheModelArgument() {
        InspectCommand inspect =
                parse(InspectCommand.class, "inspect", "../shared/models/stories260K-hf", "--backend", "reference");
        assertEquals(Path.of("../shared/models/stories260K-hf"), inspect.model);
        assertEquals(CommonOptions.Backend.REFERENCE, inspect.common.backend);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("inspect", "  ./espalier inspect ../shared/models/stories260K/stories260K.bin");
    }

    @Test
    void refusesAMissingModelAndBadFlags() {
        refused("<model>", "inspect");
        refused("--threads", "inspect", "m.bin", "--threads", "all");
    }

    @Test
    void aModelThatDoesNotExistIsBadInputNamingThePath() {
        Path missing = tmp.resolve("no-such-model");
        CliHarness.Run run = run("inspect", missing.toString());
        assertEquals(2, run.exit());
        assertTrue(
                run.err().startsWith("espalier inspect: error: ") && run.err().contains(missing.toString()), run.err());
    }
}
