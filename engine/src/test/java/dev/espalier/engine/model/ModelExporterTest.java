package dev.espalier.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelExporterTest {
    @TempDir
    Path tmp;

    /** Import from llama2.c, export, and the weights file is the independently converted one, byte for byte. */
    @Test
    void exportsStories260KAsTheSharedHuggingFaceFolder() throws IOException {
        Path out = tmp.resolve("exported");
        try (Arena a = Arena.ofConfined()) {
            LlamaModel imported = Llama2cImporter.load(SharedFiles.storiesBin(), a);
            ModelExporter.exportHf(imported, out);
            assertEquals(
                    -1,
                    Files.mismatch(
                            SharedFiles.storiesHf().resolve("model.safetensors"), out.resolve("model.safetensors")));
            try (Arena b = Arena.ofConfined()) {
                LlamaModel back = ModelLoader.load(out, b);
                assertEquals(imported.config(), back.config());
                assertSameTensors(HfTensorLayout.tensorsOf(imported, a), HfTensorLayout.tensorsOf(back, b));
            }
        }
    }

    @Test
    void roundTripsAPrunedQwen2ModelWithBiasesAndAnUntiedHead() {
        LlamaConfig config = new LlamaConfig(
                "qwen2",
                16,
                20,
                4,
                List.of(
                        new LlamaConfig.LayerDims(4, 2, 10),
                        new LlamaConfig.LayerDims(2, 1, 6),
                        new LlamaConfig.LayerDims(0, 0, 3)),
                64,
                1e-6f,
                1e6,
                null,
                false,
                true,
                true,
                true,
                0,
                5,
                6,
                DType.BF16);
        Random random = new Random(7);
        try (Arena a = Arena.ofConfined()) {
            List<DecoderLayerWeights> layers = new ArrayList<>();
            for (LlamaConfig.LayerDims d : config.layers()) {
                int q = d.numHeads() * 4, kv = d.numKvHeads() * 4, h = 16, f = d.intermediateSize();
                boolean flapOnly =
                        d.numHeads() == 2; // FLAP leaves a down bias only: gate/up biases are exported as zeros
                layers.add(new DecoderLayerWeights(
                        rand(a, random, h),
                        rand(a, random, q, h),
                        rand(a, random, kv, h),
                        rand(a, random, kv, h),
                        rand(a, random, h, q),
                        rand(a, random, q),
                        rand(a, random, kv),
                        rand(a, random, kv),
                        rand(a, random, h),
                        rand(a, random, h),
                        rand(a, random, f, h),
                        rand(a, random, f, h),
                        rand(a, random, h, f),
                        flapOnly ? null : rand(a, random, f),
                        flapOnly ? null : rand(a, random, f),
                        rand(a, random, h)));
            }
            Tensor embed = rand(a, random, 20, 16).copyAs(a, DType.BF16); // a non-F32 tensor exported as F32 asked for
            LlamaModel model =
                    new LlamaModel(config, embed, layers, rand(a, random, 16), rand(a, random, 20, 16), tmp, a);
            Path out = tmp.resolve("pruned");
            ModelExporter.exportHf(
                    model, out, new ModelExporter.Format(DType.F32, ModelExporter.DEFAULT_MAX_SHARD_BYTES));
            try (Arena b = Arena.ofConfined()) {
                LlamaModel back = ModelLoader.load(out, b);
                assertEquals(config.layers(), back.config().layers());
                assertEquals(DType.F32, back.config().torchDtype());
                assertEquals(
                        config,
                        new LlamaConfig(
                                config.modelType(),
                                config.hiddenSize(),
                                config.vocabSize(),
                                config.headDim(),
                                back.config().layers(),
                                back.config().maxPositionEmbeddings(),
                                back.config().rmsNormEps(),
                                back.config().ropeTheta(),
                                back.config().ropeScaling(),
                                back.config().tieWordEmbeddings(),
                                back.config().attentionBias(),
                                back.config().attentionOutputBias(),
                                back.config().mlpBias(),
                                back.config().slidingWindow(),
                                back.config().bosTokenId(),
                                back.config().eosTokenId(),
                                DType.BF16));
                assertArrayEquals(new float[6], back.layer(1).gateBias().toFloatArray());
                assertArrayEquals(new int[] {0, 16}, back.layer(2).q().shape());
                try (Arena c = Arena.ofConfined()) {
                    assertSameTensors(HfTensorLayout.tensorsOf(model, c), HfTensorLayout.tensorsOf(back, c));
                }
            }
        }
    }

    /** A bf16 checkpoint comes back bf16 by default: the shared bf16 folder's weights file, byte for byte. */
    @Test
    void exportsABf16CheckpointInBf16() throws IOException {
        Path out = tmp.resolve("bf16");
        try (Arena a = Arena.ofConfined()) {
            LlamaModel loaded = ModelLoader.load(SharedFiles.storiesHfBf16(), a);
            ModelExporter.exportHf(loaded, out);
            assertEquals(
                    -1,
                    Files.mismatch(
                            SharedFiles.storiesHfBf16().resolve("model.safetensors"),
                            out.resolve("model.safetensors")));
            assertTrue(Files.readString(out.resolve("config.json")).contains("\"bfloat16\""));
            try (Arena b = Arena.ofConfined()) {
                LlamaModel back = ModelLoader.load(out, b);
                assertEquals(DType.BF16, back.config().torchDtype());
                assertSameTensors(HfTensorLayout.tensorsOf(loaded, a), HfTensorLayout.tensorsOf(back, b));
            }
        }
    }

    /** f32 weights asked for as bf16 are rounded to nearest even; zeros stay zeros, so a pruned mask survives. */
    @Test
    void roundsF32WeightsToBf16WhenAskedAndKeepsZeros() {
        Path out = tmp.resolve("as-bf16");
        try (Arena a = Arena.ofConfined()) {
            LlamaModel stories = Llama2cImporter.load(SharedFiles.storiesBin(), a);
            Tensor q = stories.layer(0).q();
            q.set(0, 0, 0f);
            ModelExporter.exportHf(
                    stories, out, new ModelExporter.Format(DType.BF16, ModelExporter.DEFAULT_MAX_SHARD_BYTES));
            try (Arena b = Arena.ofConfined()) {
                LlamaModel back = ModelLoader.load(out, b);
                Tensor got = back.layer(0).q(); // read back widened to f32
                assertEquals(DType.BF16, back.config().torchDtype());
                assertEquals(0f, got.get(0, 0));
                for (int r = 0; r < q.rows(); r++) {
                    for (int c = 0; c < q.cols(); c++) {
                        assertEquals(DType.bf16ToFloat(DType.floatToBf16(q.get(r, c))), got.get(r, c));
                    }
                }
            }
        }
    }

    /** Beyond the shard size, shards and an index as save_pretrained writes them: the shared sharded folder's files. */
    @Test
    void splitsALargeExportIntoShardsWithAnIndex() throws IOException {
        Path out = tmp.resolve("sharded");
        Path shared = SharedFiles.storiesHfSharded();
        try (Arena a = Arena.ofConfined()) {
            LlamaModel imported = Llama2cImporter.load(SharedFiles.storiesBin(), a);
            ModelExporter.exportHf(imported, out, new ModelExporter.Format(null, 521_000));
            for (String file : List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")) {
                assertEquals(-1, Files.mismatch(shared.resolve(file), out.resolve(file)), file);
            }
            assertTrue(Files.notExists(out.resolve("model.safetensors")));
            String index = Files.readString(out.resolve("model.safetensors.index.json"));
            assertTrue(index.contains("\"total_size\""), index);
            try (Arena b = Arena.ofConfined()) {
                assertSameTensors(
                        HfTensorLayout.tensorsOf(imported, a), HfTensorLayout.tensorsOf(ModelLoader.load(out, b), b));
            }
        }
    }

    @Test
    void refusesF16ForAWeightBeyondItsRange() {
        try (Arena a = Arena.ofConfined()) {
            LlamaModel loaded = Llama2cImporter.load(SharedFiles.storiesBin(), a);
            DecoderLayerWeights w = loaded.layer(1);
            Tensor down = w.down().copyAs(a, DType.F32);
            down.set(3, 4, 1e5f);
            List<DecoderLayerWeights> layers = new ArrayList<>(loaded.layers());
            layers.set(
                    1,
                    new DecoderLayerWeights(
                            w.inputNorm(),
                            w.q(),
                            w.k(),
                            w.v(),
                            w.o(),
                            null,
                            null,
                            null,
                            null,
                            w.postAttentionNorm(),
                            w.gate(),
                            w.up(),
                            down,
                            null,
                            null,
                            null));
            LlamaModel stories = loaded.withLayers(loaded.config(), layers);
            ModelFormatException e = assertThrows(
                    ModelFormatException.class,
                    () -> ModelExporter.exportHf(
                            stories,
                            tmp.resolve("f16"),
                            new ModelExporter.Format(DType.F16, ModelExporter.DEFAULT_MAX_SHARD_BYTES)));
            assertTrue(e.getMessage().contains("model.layers.1.mlp.down_proj.weight"), e.getMessage());
            assertTrue(e.getMessage().contains("beyond F16's range"), e.getMessage());
        }
    }

    @Test
    void refusesABiasTheConfigDoesNotDeclare() {
        try (Arena a = Arena.ofConfined()) {
            LlamaModel stories = Llama2cImporter.load(SharedFiles.storiesBin(), a);
            DecoderLayerWeights w = stories.layer(0);
            DecoderLayerWeights withBias = new DecoderLayerWeights(
                    w.inputNorm(),
                    w.q(),
                    w.k(),
                    w.v(),
                    w.o(),
                    null,
                    null,
                    null,
                    Tensor.allocate(a, DType.F32, 64),
                    w.postAttentionNorm(),
                    w.gate(),
                    w.up(),
                    w.down(),
                    null,
                    null,
                    null);
            List<DecoderLayerWeights> layers = new ArrayList<>(stories.layers());
            layers.set(0, withBias);
            LlamaModel bad = stories.withLayers(stories.config(), layers);
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> ModelExporter.exportHf(bad, tmp.resolve("bad")));
            assertTrue(e.getMessage().contains("model.layers.0.self_attn.o_proj.bias"), e.getMessage());
        }
    }

    private static Tensor rand(Arena a, Random random, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return Tensor.ofFloats(a, v, shape);
    }

    private static void assertSameTensors(SequencedMap<String, Tensor> expected, SequencedMap<String, Tensor> actual) {
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()));
        expected.forEach((name, t) -> {
            assertArrayEquals(t.shape(), actual.get(name).shape(), name);
            assertArrayEquals(t.toFloatArray(), actual.get(name).toFloatArray(), name);
        });
    }
}
