package dev.espalier.engine.eval;

import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LlamaForward;
import java.util.Arrays;

/** Scores a token stream window by window under a {@link PerplexityProtocol}; sums are f64 and in stream order. */
public final class PerplexityEvaluator {
    private PerplexityEvaluator() {}

    /**
     * @param stream    [BOS] + encode(text)
     * @param maxTokens use only the first maxTokens tokens of the stream (≤ 0: all)
     * @param masks     structural masks per layer, or null
     */
    public static PerplexityResult evaluate(
            LlamaForward forward,
            String dataset,
            int[] stream,
            PerplexityProtocol protocol,
            int maxTokens,
            LayerMask[] masks,
            ProgressListener progress) {
        int used = maxTokens > 0 ? Math.min(maxTokens, stream.length) : stream.length;
        int window = Math.min(protocol.window(forward.model().config()), forward.maxTokens());
        int fullWindows = used / window;
        int remainder = used - fullWindows * window;
        boolean partial = protocol.keepsPartialWindow() && remainder >= 2;
        int windows = fullWindows + (partial ? 1 : 0);
        if (windows == 0) {
            throw new IllegalArgumentException(dataset + ": " + used + " tokens do not fill one window of " + window
                    + " tokens (protocol " + protocol.label() + ")");
        }
        double sum = 0;
        long scored = 0;
        for (int w = 0; w < windows; w++) {
            int from = w * window;
            int to = Math.min(from + window, used);
            double[] nll = forward.negativeLogLikelihoods(Arrays.copyOfRange(stream, from, to), masks);
            for (double v : nll) {
                sum += v;
            }
            scored += nll.length;
            progress.progress(w + 1, windows);
        }
        long tokensUsed = partial ? used : (long) fullWindows * window;
        return new PerplexityResult(dataset, protocol, window, tokensUsed, scored, sum / scored);
    }
}
