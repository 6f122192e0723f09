package dev.espalier.engine.eval;

import dev.espalier.engine.model.LlamaConfig;
import java.util.Locale;

/**
 * How a token stream is cut into scored windows. In every protocol the text file is encoded once as
 * [BOS] + encode(text), cut into consecutive non-overlapping windows, each run from position 0, and every token
 * but the first of a window is scored. Numbers from different protocols are not comparable.
 */
public enum PerplexityProtocol {
    /** Windows of the model's context; a final partial window is scored too (llama2.c-style; ../shared references). */
    STREAM(0, true),
    /** Windows of 128 tokens; a partial window is dropped (LLM-Pruner / FLAP convention). */
    SEQ128(128, false),
    /** Windows of the model's context; a partial window is dropped (SparseGPT / Wanda / ALPS convention). */
    FULL(0, false);

    private final int fixedWindow;
    private final boolean keepsPartialWindow;

    PerplexityProtocol(int fixedWindow, boolean keepsPartialWindow) {
        this.fixedWindow = fixedWindow;
        this.keepsPartialWindow = keepsPartialWindow;
    }

    /** Tokens per window for this model. */
    public int window(LlamaConfig config) {
        return window(config, 0);
    }

    /**
     * Tokens per window for this model when windows of {@code seqlen} tokens are asked for (0: the model's context):
     * stream and full take it (papers score at 2048 or 4096 whatever the context); seq128 is 128 by definition and
     * refuses another length.
     */
    public int window(LlamaConfig config, int seqlen) {
        String problem = seqlenProblem(seqlen);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (fixedWindow > 0) {
            return fixedWindow;
        }
        return seqlen > 0 ? seqlen : config.maxPositionEmbeddings();
    }

    /** Why windows of {@code seqlen} tokens (0: the model's context) cannot be scored this way, or null if they can. */
    public String seqlenProblem(int seqlen) {
        if (seqlen < 0) {
            return "the evaluation window must be ≥ 0 tokens (0: the model's context), got " + seqlen;
        }
        if (fixedWindow > 0 && seqlen != 0 && seqlen != fixedWindow) {
            return label() + " scores windows of " + fixedWindow + " tokens by definition; a window of " + seqlen
                    + " needs the stream or full protocol";
        }
        return null;
    }

    public boolean keepsPartialWindow() {
        return keepsPartialWindow;
    }

    /** The name used on the command line and in reports. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
