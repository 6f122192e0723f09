package dev.espalier.engine.eval.zeroshot;

import dev.espalier.engine.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * Tokenises a {@link Request} as lm-evaluation-harness's {@code _encode_pair} does for a causal model: trailing
 * whitespace of the context moves to the front of the continuation; then {@code whole = encode(context + continuation)},
 * {@code context = encode(context)} and the continuation is {@code whole[len(context):]}. Both encodings start with
 * BOS, as the harness's Hugging Face tokenizer call adds it for LLaMA tokenizers by default. An empty context becomes
 * [BOS] before {@code encode(continuation)} (the harness's {@code prefix_token_id}).
 */
public final class RequestEncoder {
    private final Tokenizer tokenizer;
    private String lastContext; // one-entry memo: the choices of an item share their context
    private int[] lastContextIds;

    public RequestEncoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Throws IllegalArgumentException when the continuation adds no tokens to the context. */
    public EncodedRequest encode(Request request) {
        String context = request.context();
        String continuation = request.continuation();
        if (context.isEmpty()) {
            return checked(
                    new EncodedRequest(new int[] {tokenizer.bosId()}, tokenizer.encode(continuation, false)), request);
        }
        int spaces = PythonStrings.trailingSpaces(context);
        if (spaces > 0) {
            continuation = context.substring(context.length() - spaces) + continuation;
            context = context.substring(0, context.length() - spaces);
        }
        int[] whole = tokenizer.encode(context + continuation, true);
        int[] contextIds = contextIds(context);
        int[] continuationIds = whole.length > contextIds.length
                ? Arrays.copyOfRange(whole, contextIds.length, whole.length)
                : new int[0];
        return checked(new EncodedRequest(contextIds, continuationIds), request);
    }

    private int[] contextIds(String context) {
        if (!context.equals(lastContext)) {
            lastContextIds = tokenizer.encode(context, true);
            lastContext = context;
        }
        return lastContextIds;
    }

    private static EncodedRequest checked(EncodedRequest encoded, Request request) {
        if (encoded.continuation().length == 0) {
            throw new IllegalArgumentException(
                    "continuation \"" + request.continuation() + "\" adds no tokens to its context");
        }
        return encoded;
    }
}
