package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResumeCommandTest {

    @TempDir
    Path tmp;

    @Test
    void parsesTheRunDirectoryAndOutputFlags() {
        ResumeCommand resume = parse(ResumeCommand.class, "resume", "out/stories-wanda50.run", "--quiet", "--verbose");
        assertEquals(Path.of("out/stories-wanda50.run"), resume.runDir);
        assertTrue(resume.output.quiet);
        assertTrue(resume.output.verbose);

        ResumeCommand plain = parse(ResumeCommand.class, "resume", "r.run");
        assertFalse(plain.output.quiet);
        assertFalse(plain.output.verbose);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("resume", "  ./espalier resume out/stories-wanda50.run");
    }

    @Test
    void refusesAMissingOrExtraArgument() {
        refused("<run-dir>", "resume");
        refused("--from", "resume", "r.run", "--from", "3");
    }

    @Test
    void refusesAFolderThatIsNotARunDirectory() throws IOException {
        Path notARun = Files.createDirectories(tmp.resolve("model"));
        CliHarness.Run run = run("resume", notARun.toString());
        assertEquals(2, run.exit());
        assertTrue(
                run.err()
                        .startsWith("espalier resume: error: " + notARun
                                + ": not a run directory (expected spec.pb and manifest.pb"),
                run.err());
    }
}
