package dev.espalier.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.espalier.engine.SharedFiles;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Token ids against the reference ids in shared/models/README.md (whole file as one string, BOS first). */
class Llama2cTokenizerTest {
    private static final String TINYSTORIES = "data/tinystories/tinystories_val_sample.txt";
    private static final String WIKITEXT = "data/wikitext-2/test.txt";
    private static final String PTB = "data/ptb/ptb.test.txt";

    private static Llama2cTokenizer tok512;
    private static Llama2cTokenizer tok32000;

    @BeforeAll
    static void load() {
        tok512 = Llama2cTokenizer.read(SharedFiles.path("models/stories260K/tok512.bin"));
        tok32000 = Llama2cTokenizer.read(SharedFiles.path("models/llama2c-tokenizer-32000/tokenizer.bin"));
    }

    private static void assertStream(Llama2cTokenizer tokenizer, String file, int[] firstIds, int total) {
        String text = SharedFiles.text(file);
        // Not a speed target: a merge loop quadratic in the text length takes many minutes on these files; a loaded
        // 2-core machine encodes them in well under a second to a few seconds.
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> tokenizer.encode(text, true));
        assertArrayEquals(firstIds, Arrays.copyOf(ids, firstIds.length), file);
        assertEquals(total, ids.length, file);
        assertEquals(text, tokenizer.decode(ids), file + " round trip");
    }

    @Test
    void vocabulariesHaveTheDocumentedSizes() {
        assertEquals(512, tok512.vocabSize());
        assertEquals(32000, tok32000.vocabSize());
        assertEquals("\n<s>\n", tok512.piece(1));
        assertEquals("<0x0A>", tok32000.piece(13));
    }

    @Test
    void tok512TinyStories() {
        assertStream(tok512, TINYSTORIES, new int[] {1, 301, 427, 309, 426, 301, 427, 309, 394, 265}, 393_019);
    }

    @Test
    void tok512WikiText() {
        assertStream(tok512, WIKITEXT, new int[] {1, 410, 410, 13, 410, 64, 410, 461, 414, 430}, 792_800);
    }

    @Test
    void tok512Ptb() {
        assertStream(tok512, PTB, new int[] {1, 410, 297, 414, 312, 286, 297, 439, 413, 268}, 269_895);
    }

    @Test
    void llama32000TinyStories() {
        assertStream(tok32000, TINYSTORIES, new int[] {1, 1706, 327, 29889, 1706, 327, 4446, 278, 528, 4901}, 212_398);
    }

    @Test
    void llama32000WikiText() {
        assertStream(tok32000, WIKITEXT, new int[] {1, 259, 13, 353, 4755, 529, 2960, 29958, 353, 29871}, 339_370);
    }

    @Test
    void llama32000Ptb() {
        assertStream(tok32000, PTB, new int[] {1, 29871, 694, 372, 471, 302, 29915, 29873, 4628, 7398}, 114_488);
    }

    @Test
    void emptyTextHasNoDummyPrefix() {
        assertArrayEquals(new int[] {1}, tok512.encode("", true));
        assertArrayEquals(new int[0], tok512.encode("", false));
    }

    @Test
    void charactersOutsideTheVocabularyFallBackToBytes() {
        int[] ids = tok512.encode("日", false); // E6 97 A5 -> ids 0xE6+3, 0x97+3, 0xA5+3 after the dummy space
        assertArrayEquals(new int[] {410, 0xE6 + 3, 0x97 + 3, 0xA5 + 3}, ids);
        assertEquals("日", tok512.decode(ids));
    }

    @Test
    void decodeNextFollowsLlama2c() {
        int[] ids = tok512.encode("Once upon", true);
        assertEquals("Once", tok512.decodeNext(1, ids[1]));
        assertEquals(" upon", tok512.decodeNext(ids[1], ids[2]));
        assertEquals("\n", tok512.decodeNext(5, 13)); // <0x0A> becomes its byte
        assertEquals("", tok512.decodeNext(5, 2)); // EOS adds nothing
        assertEquals("Once upon", tok512.decode(new int[] {1, ids[1], ids[2], 2}));
    }
}
