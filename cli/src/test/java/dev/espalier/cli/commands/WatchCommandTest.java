package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSucceeded;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.RunReport;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class WatchCommandTest {

    @Test
    void parsesTheJobAndWhereToResume() {
        WatchCommand watch = parse(
                WatchCommand.class,
                "watch",
                "20261122-163827-3fa9",
                "--from",
                "40",
                "--quiet",
                "--node",
                "127.0.0.1:7070");
        assertEquals("20261122-163827-3fa9", watch.jobId);
        assertEquals(40, watch.from);
        assertTrue(watch.quiet);
        assertEquals("127.0.0.1:7070", watch.node.node);
    }

    @Test
    void defaultsToEveryEventWithABar() {
        WatchCommand watch = parse(WatchCommand.class, "watch", "some-job");
        assertEquals(1, watch.from);
        assertFalse(watch.quiet);
        assertNull(watch.node.node);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("watch", "  ./espalier watch 20261122-163827-3fa9");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused("--from", "watch", "some-job", "--from", "start");
        refused("<job-id>", "watch", "--quiet");
    }

    @Test
    void aLayerWithoutAnErrorInItsEventPrintsNoError() {
        // the actor pipeline's events carry no reconstruction error (proto3: 0); it used to print "reconstruction error
        // 0.000"
        assertEquals(
                "layer 3 pruned: sparsity 0.5000, 2.0 s",
                WatchCommand.layerLine(LayerPruned.newBuilder()
                        .setLayer(3)
                        .setSparsity(0.5)
                        .setSeconds(2)
                        .build()));
        assertEquals(
                "layer 3 pruned: sparsity 0.5000, reconstruction error 0.05260, 2.0 s",
                WatchCommand.layerLine(LayerPruned.newBuilder()
                        .setLayer(3)
                        .setSparsity(0.5)
                        .setReconstructionError(0.0526)
                        .setSeconds(2)
                        .build()));
    }

    @Test
    void theFinalReportPrintsTheErrorsReportJsonHolds() {
        RunReport report = RunReport.newBuilder()
                .addLayers(LayerReport.newBuilder()
                        .setLayer(0)
                        .addMatrices(MatrixReport.newBuilder()
                                .setName("q_proj")
                                .setSparsity(0.5)
                                .setReconstructionError(0.01))
                        .addMatrices(MatrixReport.newBuilder()
                                .setName("k_proj")
                                .setSparsity(0.5)
                                .setReconstructionError(0.03)))
                .addLayers(LayerReport.newBuilder()
                        .setLayer(1)
                        .addMatrices(MatrixReport.newBuilder()
                                .setName("q_proj")
                                .setSparsity(0.5)
                                .setReconstructionError(0.05)))
                .build();
        StringWriter text = new StringWriter();
        WatchCommand watch = parse(WatchCommand.class, "watch", "job", "--quiet");
        Integer exit = watch.show(
                new PrintWriter(text, true),
                JobEvent.newBuilder()
                        .setSucceeded(
                                JobSucceeded.newBuilder().setOutput("out/w50").setReport(report))
                        .build());
        assertEquals(0, exit);
        assertEquals(
                List.of(
                        "layer 0: reconstruction error 0.04000 (sum over 2 matrices)",
                        "layer 1: reconstruction error 0.05000 (sum over 1 matrices)",
                        "mean reconstruction error 0.0300 over 3 matrices",
                        "succeeded: pruned model in out/w50"),
                text.toString().lines().toList());
    }

    @Test
    void aReportWithoutMeasuredErrorsPrintsNone() {
        RunReport structured = RunReport.newBuilder()
                .addLayers(LayerReport.newBuilder()
                        .setLayer(0)
                        .addMatrices(MatrixReport.newBuilder().setName("q_proj").setSparsity(0.25)))
                .build();
        StringWriter text = new StringWriter();
        WatchCommand.printReport(new PrintWriter(text, true), structured);
        assertEquals("", text.toString());
    }
}
