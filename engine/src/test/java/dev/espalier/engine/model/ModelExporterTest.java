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
            Tensor embed = rand(a, random, 20, 16).copyAs(a, DType.BF16); // a non-F32 tensor is exported as F32
            LlamaModel model =
                    new LlamaModel(config, embed, layers, rand(a, random, 16), rand(a, random, 20, 16), tmp, a);
            Path out = tmp.resolve("pruned");
            ModelExporter.exportHf(model, out);
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
