package dev.espalier.engine.report;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RunReport;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunReportMarkdownTest {
    private static RunReport report() {
        return Reports.run("job-7", PruneMethod.PRUNE_METHOD_SPARSEGPT, 0.5, 5.25, 0.48).toBuilder()
                .setCalibration("/data/c4.jsonl")
                .setCalibrationSamples(16)
                .setCalibrationSeqlen(256)
                .setCalibrationTokens(4096)
                .addLayers(LayerReport.newBuilder()
                        .setLayer(0)
                        .setNumHeads(8)
                        .setNumKvHeads(4)
                        .setIntermediateSize(172)
                        .setSeconds(1.5)
                        .addMatrices(MatrixReport.newBuilder()
                                .setName("q_proj")
                                .setSparsity(0.5)
                                .setReconstructionError(0.01))
                        .addMatrices(MatrixReport.newBuilder()
                                .setName("k_proj")
                                .setSparsity(0.25)
                                .setReconstructionError(0.02)))
                .addLayers(LayerReport.newBuilder()
                        .setLayer(1)
                        .setNumHeads(8)
                        .setNumKvHeads(4)
                        .setIntermediateSize(172)
                        .addMatrices(MatrixReport.newBuilder().setName("q_proj").setSparsity(0.5)))
                .setTotalSeconds(300)
                .setPeakRssBytes(3L << 30)
                .build();
    }

    @Test
    void rendersTheJobItsMeasurementsAndItsLayers() {
        String md = RunReportMarkdown.render(report(), List.of("reconstruction-errors.png"));
        assertTrue(md.startsWith("# Run job-7\n"), md);
        assertTrue(md.contains("| method | sparsegpt |"), md);
        assertTrue(md.contains("| calibration | /data/c4.jsonl: 16 × 256 tokens (4096 tokens) |"), md);
        assertTrue(md.contains("| devices | cpu |"), md);
        assertTrue(md.contains("| tinystories_val_sample.txt | stream | 512 | 2047 | 4.0000 | 5.2500 |"), md);
        assertTrue(md.contains("| piqa * | 100 | 50.0 | 50.0 ± 5.0 | 48.0 ± 5.0 | 51.0 ± 5.0 | 49.0 ± 5.0 |"), md);
        assertTrue(md.contains("| 0 | 37.50 % | 0.03000 | 8 | 4 | 172 | 1.5 s |"), md);
        assertTrue(md.contains("| 1 | 50.00 % | - | 8 | 4 | 172 | - |"), md);
        assertTrue(md.contains("| - | - | - | 5.0 min | - | 3.0 GiB |"), md);
        assertTrue(md.contains("![reconstruction-errors.png](reconstruction-errors.png)"), md);
    }

    @Test
    void sectionsWithoutMeasurementsAreLeftOut() {
        RunReport bare = report().toBuilder()
                .clearPerplexitiesBefore()
                .clearPerplexitiesAfter()
                .clearTasksBefore()
                .clearTasksAfter()
                .build();
        String md = RunReportMarkdown.render(bare, List.of());
        assertFalse(md.contains("## Perplexity"), md);
        assertFalse(md.contains("## Zero-shot"), md);
        assertFalse(md.contains("## Plots"), md);
        assertTrue(md.contains("## Layers"), md);
    }
}
