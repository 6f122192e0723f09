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
        return fixedWindow > 0 ? fixedWindow : config.maxPositionEmbeddings();
    }

    public boolean keepsPartialWindow() {
        return keepsPartialWindow;
    }

    /** The name used on the command line and in reports. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
