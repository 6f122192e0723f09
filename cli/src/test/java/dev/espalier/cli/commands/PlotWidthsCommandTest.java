package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.store.RunDirectory;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotWidthsCommandTest {

    @TempDir
    Path tmp;

    @Test
    void parsesRunsLabelsAndOutput() {
        PlotWidthsCommand plot = parse(
                PlotWidthsCommand.class,
                "plot-widths",
                "--run",
                "out/flap30.run,out/goa30.run",
                "--label",
                "flap,goa",
                "--title",
                "30 %",
                "--out",
                "widths.png");
        assertEquals(List.of(Path.of("out/flap30.run"), Path.of("out/goa30.run")), plot.runs);
        assertEquals(List.of("flap", "goa"), plot.labels);
        assertEquals("30 %", plot.title);
        assertEquals(Path.of("widths.png"), plot.out);
    }

    @Test
    void defaults() {
        PlotWidthsCommand plot = parse(PlotWidthsCommand.class, "plot-widths", "--run", "a.run", "--out", "w.png");
        assertEquals(List.of(), plot.labels);
        assertEquals("Kept heads and channels per layer", plot.title);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp(
                "plot-widths",
                "  ./espalier plot-widths --run out/flap30.run,out/goa30.run --label flap,goa --out widths.png");
    }

    @Test
    void refusesMissingFlags() {
        refused("--out", "plot-widths", "--run", "a.run");
        refused("--run", "plot-widths", "--out", "w.png");
    }

    @Test
    void refusesLabelsThatDoNotMatchTheRunsOrAnUnfinishedRun() {
        CliHarness.Run labels = run(
                "plot-widths",
                "--run",
                "a.run,b.run",
                "--label",
                "one",
                "--out",
                tmp.resolve("w.png").toString());
        assertEquals(2, labels.exit());
        assertTrue(
                labels.err().startsWith("espalier plot-widths: error: --label gives 1 labels for 2 runs"),
                labels.err());

        CliHarness.Run unfinished = run(
                "plot-widths",
                "--run",
                tmp.toString(),
                "--out",
                tmp.resolve("w.png").toString());
        assertEquals(2, unfinished.exit());
        assertTrue(
                unfinished
                        .err()
                        .contains(tmp.resolve(RunDirectory.REPORT_FILE) + ": no run report (is the run finished?)"),
                unfinished.err());
    }
}
