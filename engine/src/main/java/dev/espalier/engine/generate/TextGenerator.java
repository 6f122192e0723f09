package dev.espalier.engine.generate;

import dev.espalier.engine.forward.KvCache;
import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.kernels.Tensor;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Autoregressive generation with a KV cache, llama2.c semantics: the prompt is encoded with BOS, then tokens are
 * generated until {@code steps} positions have been run or the model emits BOS or EOS. The prompt is prefilled in
 * one block.
 */
public final class TextGenerator {
    private final LlamaForward forward;
    private final Tokenizer tokenizer;

    public TextGenerator(LlamaForward forward, Tokenizer tokenizer) {
        this.forward = forward;
        this.tokenizer = tokenizer;
    }

    /** The generated ids (prompt excluded) and their decoded text. */
    public record Generation(int[] promptIds, int[] generatedIds, String text) {}

    /**
     * @param steps  positions to run in total, prompt included (as llama2.c's -n); at most the model's context
     * @param pieces receives the text of each generated token as it is produced
     */
    public Generation generate(String prompt, int steps, Sampler sampler, LayerMask[] masks, Consumer<String> pieces) {
        int[] promptIds = tokenizer.encode(prompt, true);
        int context = forward.model().config().maxPositionEmbeddings();
        if (steps < promptIds.length || steps > context) {
            throw new IllegalArgumentException("steps must be between the prompt's " + promptIds.length
                    + " tokens and the context of " + context + ", got " + steps);
        }
        KvCache cache = forward.newCache(steps);
        int[] generated = new int[steps];
        int count = 0;
        Tensor logits = forward.forward(promptIds, cache, masks, LayerTap.NONE, true);
        int previous = promptIds[promptIds.length - 1];
        StringBuilder text = new StringBuilder();
        while (true) {
            int next = sampler.next(logits);
            if (next == tokenizer.bosId() || next == tokenizer.eosId()) {
                break;
            }
            generated[count++] = next;
            String piece = tokenizer.decodeNext(previous, next);
            text.append(piece);
            pieces.accept(piece);
            previous = next;
            if (cache.length() >= steps) {
                break;
            }
            logits = forward.forward(new int[] {next}, cache, masks, LayerTap.NONE, true);
        }
        int[] ids = Arrays.copyOf(generated, count);
        return new Generation(promptIds, ids, text.toString());
    }
}
