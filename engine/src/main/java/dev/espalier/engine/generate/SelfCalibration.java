package dev.espalier.engine.generate;

import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.forward.KvCache;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.util.SplittableRandom;

/**
 * Calibration data without data (the data-free mode of structured pruning): sequences the model writes itself, and
 * sequences of random token ids.
 */
public final class SelfCalibration {
    private SelfCalibration() {}

    /**
     * {@code samples} sequences of {@code seqlen} tokens sampled from the dense model at temperature 1, each starting at
     * BOS; when the model ends a text (BOS or EOS) a BOS is written and it goes on with a new one. Sequence i samples
     * with seed {@code seed · 1_000_003 + i}, so each is reproducible on its own.
     */
    public static int[][] generate(
            LlamaModel model,
            TensorOps ops,
            int samples,
            int seqlen,
            long seed,
            int bos,
            int eos,
            ProgressListener progress) {
        int[][] out = new int[samples][seqlen];
        try (LlamaForward forward = new LlamaForward(model, ops, 1, seqlen)) {
            for (int i = 0; i < samples; i++) {
                Sampler sampler = new Sampler(1f, seed * 1_000_003L + i);
                KvCache cache = forward.newCache(seqlen);
                out[i][0] = bos;
                for (int t = 1; t < seqlen; t++) {
                    Tensor logits = forward.forward(new int[] {out[i][t - 1]}, cache, null, LayerTap.NONE, true);
                    int next = sampler.next(logits);
                    out[i][t] = next == eos ? bos : next;
                }
                progress.progress(i + 1, samples);
            }
        }
        return out;
    }

    /** {@code samples} sequences of BOS followed by token ids drawn uniformly from the vocabulary, other than BOS and EOS. */
    public static int[][] randomTokens(int vocab, int samples, int seqlen, long seed, int bos, int eos) {
        SplittableRandom random = new SplittableRandom(seed);
        int[][] out = new int[samples][seqlen];
        for (int[] seq : out) {
            seq[0] = bos;
            for (int t = 1; t < seqlen; t++) {
                int id;
                do {
                    id = random.nextInt(vocab);
                } while (id == bos || id == eos);
                seq[t] = id;
            }
        }
        return out;
    }
}
