package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CancelCommandTest {

    @Test
    void parsesTheJobAndTheNode() {
        CancelCommand cancel = parse(CancelCommand.class, "cancel", "20261122-163827-3fa9", "--home", "/data/espalier");
        assertEquals("20261122-163827-3fa9", cancel.jobId);
        assertEquals(Path.of("/data/espalier"), cancel.node.home());
        assertFalse(cancel.node.verbose);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("cancel", "  ./espalier cancel 20261122-163827-3fa9 --node 127.0.0.1:7070");
    }

    @Test
    void refusesAMissingJobAndBadFlags() {
        refused("<job-id>", "cancel");
        refused("--home", "cancel", "some-job", "--home");
        refused("--force", "cancel", "some-job", "--force");
    }
}
