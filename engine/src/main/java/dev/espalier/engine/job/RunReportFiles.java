package dev.espalier.engine.job;

import com.google.protobuf.util.JsonFormat;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.report.RunReportMarkdown;
import dev.espalier.engine.report.WidthPlot;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.RunReport;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The files a finished run leaves for people and scripts beside its report.pb: report.json, report.md (what
 * {@link RunReportMarkdown} renders) and the run's plots — the kept widths per layer for structured methods, the
 * reconstruction error per layer and matrix where it was measured, and the policy learner's loss curve when it wrote
 * one. Each is a committed artefact of the run directory, the report last.
 */
final class RunReportFiles {
    static final String WIDTHS_PLOT = "widths.png";
    static final String ERRORS_PLOT = "reconstruction-errors.png";

    private RunReportFiles() {}

    static void commit(RunDirectory run, RunReport report, LlamaConfig dense) throws Exception {
        byte[] json = JsonFormat.printer().print(report).getBytes(StandardCharsets.UTF_8);
        run.commitArtefact("report-json", "report.json", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(json)));
        List<String> plots = new ArrayList<>();
        if (structured(report, dense)) {
            commitPng(run, "widths-plot", WIDTHS_PLOT, widths(report, dense));
            plots.add(WIDTHS_PLOT);
        }
        BufferedImage errors = errors(report);
        if (errors != null) {
            commitPng(run, "errors-plot", ERRORS_PLOT, errors);
            plots.add(ERRORS_PLOT);
        }
        if (Files.isRegularFile(run.dir().resolve(PolicyGradientMethod.LOSS_PLOT_FILE))) {
            plots.add(PolicyGradientMethod.LOSS_PLOT_FILE);
        }
        byte[] md = RunReportMarkdown.render(report, plots).getBytes(StandardCharsets.UTF_8);
        run.commitArtefact("report-md", "report.md", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(md)));
        run.commitReport(report);
    }

    /** Whether some layer lost heads or FFN channels. */
    private static boolean structured(RunReport report, LlamaConfig dense) {
        for (LayerReport l : report.getLayersList()) {
            LlamaConfig.LayerDims d = dense.layer(l.getLayer());
            if (l.getNumHeads() != d.numHeads() || l.getIntermediateSize() != d.intermediateSize()) {
                return true;
            }
        }
        return false;
    }

    private static BufferedImage widths(RunReport report, LlamaConfig dense) {
        int n = report.getLayersCount();
        int[] denseHeads = new int[n];
        int[] denseChannels = new int[n];
        int[] heads = new int[n];
        int[] channels = new int[n];
        for (int i = 0; i < n; i++) {
            LayerReport l = report.getLayers(i);
            denseHeads[i] = dense.layer(l.getLayer()).numHeads();
            denseChannels[i] = dense.layer(l.getLayer()).intermediateSize();
            heads[i] = l.getNumHeads();
            channels[i] = l.getIntermediateSize();
        }
        return WidthPlot.renderWidths(
                "kept widths per layer",
                new WidthPlot.LayerWidths("dense", denseHeads, denseChannels),
                List.of(new WidthPlot.LayerWidths(methodLabel(report), heads, channels)));
    }

    /** Relative reconstruction error per layer, one line per matrix; null when none was measured. */
    private static BufferedImage errors(RunReport report) {
        int n = report.getLayersCount();
        Map<String, double[]> byMatrix = new LinkedHashMap<>();
        boolean measured = false;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            LayerReport l = report.getLayers(i);
            x[i] = l.getLayer();
            for (MatrixReport m : l.getMatricesList()) {
                double[] y = byMatrix.computeIfAbsent(m.getName(), k -> filledNaN(n));
                if (m.getReconstructionError() > 0) {
                    y[i] = m.getReconstructionError();
                    measured = true;
                }
            }
        }
        if (!measured) {
            return null;
        }
        List<WidthPlot.Series> series = new ArrayList<>();
        byMatrix.forEach((name, y) -> series.add(new WidthPlot.Series(name, y)));
        return WidthPlot.renderLines(
                "relative reconstruction error per layer (" + methodLabel(report) + ")",
                "layer",
                "||XW' - XW||² / ||XW||²",
                x,
                series);
    }

    private static double[] filledNaN(int n) {
        double[] a = new double[n];
        Arrays.fill(a, Double.NaN);
        return a;
    }

    private static String methodLabel(RunReport report) {
        return PruneMethods.label(report.getSpec().getMethod());
    }

    private static void commitPng(RunDirectory run, String name, String file, BufferedImage image) {
        byte[] png = WidthPlot.png(image);
        run.commitArtefact(name, file, ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(png)));
    }
}
