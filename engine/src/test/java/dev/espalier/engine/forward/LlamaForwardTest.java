package dev.espalier.engine.forward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.LayerPruningState;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LlamaForwardTest {

    private static int[] randomTokens(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] t = new int[n];
        t[0] = 1;
        for (int i = 1; i < n; i++) {
            t[i] = random.nextInt(512);
        }
        return t;
    }

    private static float[] logits(LlamaModel model, TensorOps ops, int[] tokens) {
        try (LlamaForward forward = new LlamaForward(model, ops, tokens.length, tokens.length)) {
            return forward.forward(tokens, forward.newCache(tokens.length), null, LayerTap.NONE, false)
                    .toFloatArray();
        }
    }

    @Test
    void huggingFaceFolderGivesTheLlama2cLogits() {
        int[] tokens = randomTokens(301, 0);
        try (LlamaModel bin = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
                LlamaModel hf = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                LlamaModel sharded = ModelLoader.load(SharedFiles.storiesHfSharded(), Arena.ofShared());
                CpuOps ops = new CpuOps(2)) {
            float[] reference = logits(bin, ops, tokens);
            float[] fromHf = logits(hf, ops, tokens);
            float[] fromShards = logits(sharded, ops, tokens);
            double maxAbs = 0;
            for (int i = 0; i < reference.length; i++) {
                maxAbs = Math.max(maxAbs, Math.abs(reference[i] - fromHf[i]));
                maxAbs = Math.max(maxAbs, Math.abs(reference[i] - fromShards[i]));
            }
            assertTrue(maxAbs <= 1e-4, "max |logit difference| " + maxAbs);
        }
    }

    @Test
    void cpuBackendMatchesTheReferenceBackend() {
        int[] tokens = randomTokens(64, 1);
        try (LlamaModel model = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
                CpuOps cpu = new CpuOps(2)) {
            float[] reference = logits(model, new ReferenceOps(), tokens);
            float[] fast = logits(model, cpu, tokens);
            for (int i = 0; i < reference.length; i++) {
                assertEquals(reference[i], fast[i], 1e-3, "logit " + i);
            }
        }
    }

    @Test
    void incrementalDecodingEqualsOneBlock() {
        int[] tokens = randomTokens(40, 2);
        try (LlamaModel model = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
                CpuOps ops = new CpuOps(1);
                LlamaForward forward = new LlamaForward(model, ops, tokens.length, tokens.length)) {
            float[] block = forward.forward(tokens, forward.newCache(tokens.length), null, LayerTap.NONE, true)
                    .toFloatArray();
            KvCache cache = forward.newCache(tokens.length);
            Tensor last = null;
            for (int token : tokens) {
                last = forward.forward(new int[] {token}, cache, null, LayerTap.NONE, true);
            }
            float[] stepwise = last.toFloatArray();
            for (int i = 0; i < block.length; i++) {
                assertEquals(block[i], stepwise[i], 1e-4, "logit " + i);
            }
        }
    }

    @Test
    void zeroMasksEqualRemovingTheUnits() {
        int[] tokens = randomTokens(32, 3);
        try (LlamaModel model = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
                CpuOps ops = new CpuOps(1)) {
            LayerMask[] masks = new LayerMask[model.config().numLayers()];
            float[] heads = {1, 0, 1, 1, 1, 1, 0, 1};
            float[] channels = new float[model.config().layer(0).intermediateSize()];
            Arrays.fill(channels, 1f);
            channels[5] = 0f;
            Arrays.fill(masks, LayerMask.NONE);
            masks[2] = new LayerMask(heads, channels);
            float[] masked;
            try (LlamaForward forward = new LlamaForward(model, ops, tokens.length, tokens.length)) {
                masked = forward.forward(tokens, forward.newCache(tokens.length), masks, LayerTap.NONE, false)
                        .toFloatArray();
            }
            // the same units removed by zeroing their weights instead
            try (Arena arena = Arena.ofConfined()) {
                var layer = LayerPruningState.copy(model.layer(2), arena);
                int headDim = model.config().headDim();
                for (int h : new int[] {1, 6}) {
                    for (int r = 0; r < layer.o().rows(); r++) {
                        for (int c = h * headDim; c < (h + 1) * headDim; c++) {
                            layer.o().set(r, c, 0);
                        }
                    }
                }
                for (int r = 0; r < layer.down().rows(); r++) {
                    layer.down().set(r, 5, 0);
                }
                List<DecoderLayerWeights> layers = new ArrayList<>(model.layers());
                layers.set(2, layer);
                LlamaModel zeroed = model.withLayers(model.config(), layers);
                try (LlamaForward forward = new LlamaForward(zeroed, ops, tokens.length, tokens.length)) {
                    float[] expected = forward.forward(
                                    tokens, forward.newCache(tokens.length), null, LayerTap.NONE, false)
                            .toFloatArray();
                    assertArrayEquals(expected, masked, 1e-5f);
                }
            }
        }
    }
}
