package dev.espalier.engine.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.model.HfConfigReader;
import dev.espalier.engine.model.HfConfigWriter;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Synthetic checkpoints of real shapes: configs as the real ones, shards that load, bytes from the seed alone. */
class SyntheticCheckpointsTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(RealShape.class)
    void everyRealShapeWritesAConfigThatReadsBackTheSame(RealShape shape) {
        LlamaConfig config = shape.config(2, DType.BF16);
        Path file = tmp.resolve(shape.label() + ".json");
        HfConfigWriter.write(config, file);
        assertEquals(config, HfConfigReader.read(file));
    }

    @Test
    void theShapesAreTheRealModels() {
        LlamaConfig llama3 = RealShape.LLAMA3_8B.config(32, DType.BF16);
        assertEquals(8, llama3.layer(0).numKvHeads());
        assertEquals(14336, llama3.layer(0).intermediateSize());
        assertEquals(128256, llama3.vocabSize());
        assertNotNull(llama3.ropeScaling());
        LlamaConfig qwen2 = RealShape.QWEN2_7B.config(28, DType.BF16);
        assertTrue(qwen2.attentionBias());
        assertEquals(128, qwen2.headDim());
        assertEquals(4096, RealShape.MISTRAL_7B.config(1, DType.BF16).slidingWindow());
        assertEquals(40, RealShape.LLAMA2_13B.layers());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RealShape.of("gpt-5"));
        assertTrue(e.getMessage().contains("llama2-7b, llama2-13b, llama3-8b, mistral-7b, qwen2-7b"), e.getMessage());
    }

    @Test
    void aShardedSyntheticModelLoadsInItsDtypeAndItsBytesDependOnTheSeedOnly() throws IOException {
        LlamaConfig config = SyntheticModels.config(64, 4, 2, 96, 100, 256, 3).withTorchDtype(DType.BF16);
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        SyntheticCheckpoints.write(config, a, Map.of(), 40_000, 7, false);
        SyntheticCheckpoints.write(config, b, Map.of(), 40_000, 7, false);
        assertTrue(Files.isRegularFile(a.resolve("model.safetensors.index.json")), "sharded at 40 kB");
        try (var files = Files.list(a)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (f.getFileName().toString().equals("espalier.json")) {
                    continue; // the output marker
                }
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(b.resolve(f.getFileName())), f.toString());
            }
        }
        try (LlamaModel m = ModelLoader.load(a, Arena.ofShared())) {
            assertEquals(config, m.config());
            Tensor up = m.layer(2).up();
            assertEquals(DType.BF16, up.dtype());
            double bound = 1 / Math.sqrt(64);
            double max = 0;
            for (long i = 0; i < up.numel(); i++) {
                max = Math.max(max, Math.abs(up.getFlat(i)));
            }
            assertTrue(max <= bound * 1.01 && max > bound * 0.9, "uniform in ±1/sqrt(fan_in): max " + max);
            assertEquals(1f, m.layer(0).inputNorm().getFlat(5));
        }
    }
}
