package dev.espalier.engine.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ForwardBenchmarkTest {
    @Test
    void uniformKeptUnitsRemoveWholeGroupsAndTheRequestedShareOfChannels() {
        LlamaConfig.LayerDims stories = new LlamaConfig.LayerDims(8, 4, 172);
        KeptUnits kept = ForwardBenchmark.uniformKept(stories, 0.5, new SplittableRandom(1));
        assertEquals(new LlamaConfig.LayerDims(4, 2, 86), kept.dims(stories));
        assertEquals(
                new LlamaConfig.LayerDims(22, 22, 7706),
                ForwardBenchmark.uniformKept(new LlamaConfig.LayerDims(32, 32, 11008), 0.3, new SplittableRandom(2))
                        .dims(new LlamaConfig.LayerDims(32, 32, 11008)));
    }

    @Test
    void structuredRowsCountRemovedParametersAndFlops() {
        try (LlamaModel m = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                CpuOps ops = new CpuOps(1)) {
            List<ForwardBenchmark.StructuredResult> rows =
                    ForwardBenchmark.structured("stories", m.config(), m.layers(), List.of(0.5), ops, 32, 1, 3);
            ForwardBenchmark.StructuredResult r = rows.getFirst();
            assertEquals(0.5, r.paramsRemoved(), 1e-12); // 2 of 4 groups, 86 of 172 channels
            assertEquals(0.5, r.flopsRatio(), 1e-12); // linear maps and the n² attention products both halve
            assertTrue(r.denseTokensPerSecond() > 0 && r.compactTokensPerSecond() > 0);
            assertEquals(r.speedUp() * 0.5, r.speedUpPerFlopReduction(), 1e-12);
        }
    }
}
