package dev.espalier.engine.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Window accounting of the three protocols on a 1,000-token stream (stories260K, context 512). */
class PerplexityEvaluatorTest {

    private static PerplexityResult score(PerplexityProtocol protocol, int tokens) {
        int[] stream = new int[tokens];
        Arrays.fill(stream, 300);
        stream[0] = 1;
        try (LlamaModel model = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
                CpuOps ops = new CpuOps(1);
                LlamaForward forward = new LlamaForward(model, ops, 512, 512)) {
            return PerplexityEvaluator.evaluate(forward, "synthetic", stream, protocol, 0, null, ProgressListener.NONE);
        }
    }

    @Test
    void streamKeepsThePartialLastWindow() {
        PerplexityResult r = score(PerplexityProtocol.STREAM, 1000);
        assertEquals(1000, r.tokensUsed());
        assertEquals(511 + 487, r.tokensScored());
        assertEquals(512, r.window());
    }

    @Test
    void fullDropsThePartialWindow() {
        PerplexityResult r = score(PerplexityProtocol.FULL, 1000);
        assertEquals(512, r.tokensUsed());
        assertEquals(511, r.tokensScored());
    }

    @Test
    void seq128UsesWindowsOf128() {
        PerplexityResult r = score(PerplexityProtocol.SEQ128, 1000);
        assertEquals(7 * 128, r.tokensUsed());
        assertEquals(7 * 127, r.tokensScored());
        assertEquals(128, r.window());
    }

    @Test
    void tooFewTokensForOneWindowIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> score(PerplexityProtocol.FULL, 100));
    }
}
