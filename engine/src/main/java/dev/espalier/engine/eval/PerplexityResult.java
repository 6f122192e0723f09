package dev.espalier.engine.eval;

import java.util.Locale;

/**
 * Perplexity of a model on a token stream under a protocol.
 *
 * @param dataset      what was scored (usually the text file's path)
 * @param tokensUsed   tokens of the stream that entered windows
 * @param tokensScored tokens whose NLL was averaged
 * @param meanNll      mean negative log-likelihood, natural log
 */
public record PerplexityResult(
        String dataset, PerplexityProtocol protocol, int window, long tokensUsed, long tokensScored, double meanNll) {

    public double perplexity() {
        return Math.exp(meanNll);
    }

    /** The machine-readable line, e.g. {@code ppl=4.0677 nll=1.403074 tokens=20440 protocol=stream}. */
    public String summaryLine() {
        return String.format(
                Locale.ROOT,
                "ppl=%.4f nll=%.6f tokens=%d protocol=%s",
                perplexity(),
                meanNll,
                tokensScored,
                protocol.label());
    }
}
