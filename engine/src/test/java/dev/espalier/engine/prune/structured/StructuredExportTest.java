package dev.espalier.engine.prune.structured;

import static dev.espalier.engine.prune.structured.StructuredFixtures.logits;
import static dev.espalier.engine.prune.structured.StructuredFixtures.randomKept;
import static dev.espalier.engine.prune.structured.StructuredFixtures.relativeDifference;
import static dev.espalier.engine.prune.structured.StructuredFixtures.tokens;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LayerCheckpoint;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.model.ModelFormatException;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.cpu.CpuOps;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StructuredExportTest {
    @TempDir
    Path tmp;

    @Test
    void compactExportRecordsPerLayerDimsAndLoadsBackToTheSameLogits() throws IOException {
        int[] tokens = tokens(40, 8);
        try (LlamaModel loaded = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                Arena arena = Arena.ofShared();
                CpuOps ops = new CpuOps(1)) {
            List<KeptUnits> kept = randomKept(loaded.config(), 21, 2, 4);
            LlamaModel dense = LayerSurgeryTest.withRandomCompensation(loaded, kept, arena);
            LlamaModel compact = StructuredModels.Form.COMPACT.apply(dense, kept, arena);
            Path out = tmp.resolve("compact");
            ModelExporter.export(compact, out, Map.of(), "structured-export-test", false);
            String json = Files.readString(out.resolve("config.json"));
            assertTrue(
                    json.contains("espalier_num_attention_heads") && json.contains("espalier_intermediate_sizes"),
                    json);
            try (LlamaModel back = ModelLoader.load(out, Arena.ofShared())) {
                assertEquals(compact.config(), back.config());
                for (int l = 0; l < 5; l++) {
                    assertEquals(
                            kept.get(l).dims(loaded.config().layer(l)),
                            back.config().layer(l));
                }
                float[] expected = logits(compact, ops, tokens, null);
                assertArrayEquals(expected, logits(back, ops, tokens, null), 1e-6f);
                assertTrue(relativeDifference(
                                logits(dense, ops, tokens, StructuredModels.masks(dense.config(), kept)), expected)
                        <= 1e-5);
            }
        }
    }

    @Test
    void maskedDenseExportHasAStockConfigAndLoadsBackToTheSameLogits() throws IOException {
        int[] tokens = tokens(40, 9);
        try (LlamaModel loaded = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                Arena arena = Arena.ofShared();
                CpuOps ops = new CpuOps(1)) {
            List<KeptUnits> kept = randomKept(loaded.config(), 22, 0, 1);
            LlamaModel dense = LayerSurgeryTest.withRandomCompensation(loaded, kept, arena);
            LlamaModel masked = StructuredModels.Form.MASKED_DENSE.apply(dense, kept, arena);
            Path out = tmp.resolve("masked");
            ModelExporter.export(masked, out, Map.of(), "structured-export-test", false);
            String json = Files.readString(out.resolve("config.json"));
            assertTrue(json.contains("\"attention_bias\" : true") && json.contains("\"mlp_bias\" : true"), json);
            assertFalse(json.contains("espalier_"), json);
            try (LlamaModel back = ModelLoader.load(out, Arena.ofShared())) {
                assertEquals(loaded.config().layers(), back.config().layers());
                DecoderLayerWeights layer0 = back.layer(0);
                assertArrayEquals(
                        new float[64], layer0.qBias().toFloatArray(), "q bias written as zeros for stock loaders");
                assertArrayEquals(new float[172], layer0.upBias().toFloatArray());
                float[] expected = logits(StructuredModels.compact(dense, kept, arena), ops, tokens, null);
                assertTrue(relativeDifference(expected, logits(back, ops, tokens, null)) <= 1e-5);
            }
        }
    }

    @Test
    void aModelWithoutCompensationExportsMaskedDenseWithoutBiases() throws IOException {
        try (LlamaModel loaded = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                Arena arena = Arena.ofShared()) {
            LlamaModel masked =
                    StructuredModels.Form.MASKED_DENSE.apply(loaded, randomKept(loaded.config(), 23, -1, -1), arena);
            assertEquals(loaded.config(), masked.config());
            Path out = tmp.resolve("plain");
            ModelExporter.export(masked, out, Map.of(), "structured-export-test", false);
            String json = Files.readString(out.resolve("config.json"));
            assertTrue(json.contains("\"attention_bias\" : false") && json.contains("\"mlp_bias\" : false"), json);
        }
    }

    @Test
    void layerCheckpointsStoreCompactLayersReadWithTheirDims() throws IOException {
        try (LlamaModel loaded = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                Arena arena = Arena.ofShared()) {
            LlamaConfig dense = loaded.config();
            KeptUnits kept = new KeptUnits(new int[] {2, 3, 6, 7}, new int[] {0, 5, 9});
            LlamaConfig.LayerDims dims = kept.dims(dense.layer(1));
            assertEquals(new LlamaConfig.LayerDims(4, 2, 3), dims);
            DecoderLayerWeights compact =
                    LayerSurgery.compact(loaded.layer(1), dense.layer(1), dense.headDim(), kept, arena);
            Path file = tmp.resolve("layer1.safetensors");
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                LayerCheckpoint.write(ch, dense, 1, dims, compact);
            }
            DecoderLayerWeights back = LayerCheckpoint.read(file, dense, 1, dims, arena);
            assertArrayEquals(compact.o().toFloatArray(), back.o().toFloatArray());
            assertArrayEquals(compact.gate().toFloatArray(), back.gate().toFloatArray());
            assertArrayEquals(new int[] {32, 64}, back.q().shape());
            ModelFormatException e =
                    assertThrows(ModelFormatException.class, () -> LayerCheckpoint.read(file, dense, 1, arena));
            assertTrue(
                    e.getMessage()
                            .contains(
                                    "has shape [32, 64], layer 1 with 8 heads, 4 key/value heads and FFN width 172 expects [64, 64]"),
                    e.getMessage());
        }
    }

    @Test
    void stockConfigsDeclareEveryBiasHuggingFaceImpliesOrRefuse() {
        List<LlamaConfig.LayerDims> dims = Collections.nCopies(2, new LlamaConfig.LayerDims(4, 2, 16));
        LlamaConfig llamaWithO = config("llama", dims, false, true, false, 0);
        LlamaConfig stock = StructuredModels.forStockLoaders(llamaWithO);
        assertTrue(stock.attentionBias() && stock.attentionOutputBias() && !stock.mlpBias());
        LlamaConfig qwenWithDown = config("qwen2", dims, true, false, true, 0);
        LlamaConfig asLlama = StructuredModels.forStockLoaders(qwenWithDown);
        assertEquals("llama", asLlama.modelType());
        assertTrue(asLlama.attentionBias() && asLlama.attentionOutputBias() && asLlama.mlpBias());
        LlamaConfig plainQwen = config("qwen2", dims, true, false, false, 0);
        assertEquals(plainQwen, StructuredModels.forStockLoaders(plainQwen));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> StructuredModels.forStockLoaders(config("mistral", dims, false, true, false, 4096)));
        assertTrue(e.getMessage().contains("sliding window of 4096"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> StructuredModels.forStockLoaders(config(
                        "llama",
                        List.of(new LlamaConfig.LayerDims(4, 2, 16), new LlamaConfig.LayerDims(2, 1, 16)),
                        false,
                        false,
                        false,
                        0)));
    }

    private static LlamaConfig config(
            String type,
            List<LlamaConfig.LayerDims> dims,
            boolean attention,
            boolean attentionOutput,
            boolean mlp,
            int window) {
        return new LlamaConfig(
                type,
                16,
                32,
                4,
                dims,
                64,
                1e-6f,
                1e4,
                null,
                false,
                attention,
                attentionOutput,
                mlp,
                window,
                1,
                2,
                DType.F32);
    }
}
