package dev.espalier.engine.eval.zeroshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The harness's _encode_pair on the stories260K tokenizer. */
class RequestEncoderTest {
    private static final Tokenizer TOKENIZER = TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.bin"));

    @Test
    void continuationIsTheWholeEncodingAfterTheContext() {
        EncodedRequest r =
                new RequestEncoder(TOKENIZER).encode(new Request("Question: Is the sky blue?\nAnswer:", " yes"));
        int[] whole = TOKENIZER.encode("Question: Is the sky blue?\nAnswer: yes", true);
        int[] context = TOKENIZER.encode("Question: Is the sky blue?\nAnswer:", true);
        assertEquals(TOKENIZER.bosId(), r.context()[0]);
        assertArrayEquals(context, r.context());
        assertArrayEquals(Arrays.copyOfRange(whole, context.length, whole.length), r.continuation());
    }

    @Test
    void trailingSpacesOfTheContextMoveToTheContinuation() {
        RequestEncoder encoder = new RequestEncoder(TOKENIZER);
        EncodedRequest moved = encoder.encode(new Request("Once upon a ", "time"));
        EncodedRequest plain = encoder.encode(new Request("Once upon a", " time"));
        assertArrayEquals(plain.context(), moved.context());
        assertArrayEquals(plain.continuation(), moved.continuation());
    }

    @Test
    void emptyContextIsBos() {
        EncodedRequest r = new RequestEncoder(TOKENIZER).encode(new Request("", "Once upon a time"));
        assertArrayEquals(new int[] {TOKENIZER.bosId()}, r.context());
        assertArrayEquals(TOKENIZER.encode("Once upon a time", false), r.continuation());
    }

    @Test
    void aContinuationWithoutTokensIsRefused() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new RequestEncoder(TOKENIZER).encode(new Request("Once upon a time", "")));
        assertEquals("continuation \"\" adds no tokens to its context", e.getMessage());
    }
}
