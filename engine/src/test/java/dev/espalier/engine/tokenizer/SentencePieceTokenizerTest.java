package dev.espalier.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SentencePieceTokenizerTest {
    private static SentencePieceTokenizer llama;
    private static Llama2cTokenizer llamaBin;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() {
        llama = SentencePieceTokenizer.read(SharedFiles.path("models/llama2c-tokenizer-32000/tokenizer.model"));
        llamaBin = Llama2cTokenizer.read(SharedFiles.path("models/llama2c-tokenizer-32000/tokenizer.bin"));
    }

    @Test
    void llama2ModelEqualsTokenizerBinOnTheWholeTinyStoriesSample() {
        String text = SharedFiles.text("data/tinystories/tinystories_val_sample.txt");
        int[] ids = llama.encode(text, true);
        assertEquals(212_398, ids.length);
        assertArrayEquals(llamaBin.encode(text, true), ids);
        assertEquals(text, llama.decode(ids));
    }

    @Test
    void llama2ModelEqualsTokenizerBinOnTheFirst200LinesOfWikiText() {
        List<String> lines =
                SharedFiles.text("data/wikitext-2/test.txt").lines().limit(200).toList();
        String text = String.join("\n", lines) + "\n";
        assertArrayEquals(llamaBin.encode(text, true), llama.encode(text, true));
        for (String line : lines) {
            assertArrayEquals(llamaBin.encode(line, false), llama.encode(line, false), line);
        }
    }

    @Test
    void llama2ModelHasTheDocumentedSpecialIds() {
        assertEquals(32000, llama.vocabSize());
        assertEquals(1, llama.bosId());
        assertEquals(2, llama.eosId());
        assertEquals("▁the", llama.piece(278));
    }

    @Test
    void tok512ModelPiecesAndScoresEqualTok512Bin() {
        SentencePieceTokenizer model = SentencePieceTokenizer.read(SharedFiles.path("models/stories260K/tok512.model"));
        Llama2cTokenizer bin = Llama2cTokenizer.read(SharedFiles.path("models/stories260K/tok512.bin"));
        assertEquals(512, model.vocabSize());
        for (int id = 3; id < 512; id++) {
            assertEquals(bin.piece(id), model.piece(id).replace('▁', ' '), "piece " + id);
            assertEquals(bin.score(id), model.score(id), "score " + id);
        }
    }

    @Test
    void tok512ModelRemovesExtraWhitespaceLikeSentencepiece() {
        SentencePieceTokenizer model = SentencePieceTokenizer.read(SharedFiles.path("models/stories260K/tok512.model"));
        Llama2cTokenizer bin = Llama2cTokenizer.read(SharedFiles.path("models/stories260K/tok512.bin"));
        assertEquals("▁Once▁upon▁a▁time", model.normalize("  Once  upon a   time  "));
        assertArrayEquals(bin.encode("Once upon a time", true), model.encode("  Once  upon a   time  ", true));
        assertEquals(bin.encode("Lily was happy. ", false).length, model.encode("Lily was happy. ", false).length + 1);
        assertArrayEquals(new int[0], model.encode("   ", false));
    }

    @Test
    void llama2NormalizerKeepsWhitespaceAndAddsOneDummyPrefix() {
        assertEquals("▁▁a▁▁b▁", llama.normalize(" a  b "));
        assertEquals("", llama.normalize(""));
        assertEquals("▁\t\n", llama.normalize("\t\n"));
    }

    @Test
    void unknownCharactersFallBackToBytes() {
        int[] ids = llama.encode("\u0F00", false); // Tibetan OM: not a Llama 2 piece
        assertArrayEquals(new int[] {29871, 0xE0 + 3, 0xBC + 3, 0x80 + 3}, ids);
        assertEquals("\u0F00", llama.decode(ids));
    }

    @Test
    void userDefinedSymbolsStayWholeAndUnusedPiecesSplitBack() throws IOException {
        // pieces: 0 <unk>, 1 <s>, 2 </s>, 3 ▁, 4 a, 5 b, 6 ab (UNUSED), 7 ▁ab, 8 <x> (USER_DEFINED), 9 ▁a
        ProtoWriter model = new ProtoWriter()
                .message(1, piece("<unk>", 0, 2))
                .message(1, piece("<s>", 0, 3))
                .message(1, piece("</s>", 0, 3))
                .message(1, piece("▁", -1, 1))
                .message(1, piece("a", -2, 1))
                .message(1, piece("b", -3, 1))
                .message(1, piece("ab", 5, 5))
                .message(1, piece("▁ab", -9, 1))
                .message(1, piece("<x>", 0, 4))
                .message(1, piece("▁a", -10, 1))
                .message(2, new ProtoWriter().varint(3, 2))
                .message(3, new ProtoWriter().string(1, "identity").varint(4, 0));
        Path file = dir.resolve("tiny.model");
        Files.write(file, model.toByteArray());
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.read(file);
        // "ab" (score 5) merges first; "▁" + "ab" -> "▁ab" (score -9); the result is not UNUSED, so it stays.
        assertArrayEquals(new int[] {1, 7}, tokenizer.encode("ab", true));
        // "<x>" is one frozen symbol; "ab" alone merges to the UNUSED piece 6 and is split back into a, b.
        assertArrayEquals(new int[] {3, 8, 4, 5}, tokenizer.encode("<x>ab", false));
        // 'c' is not a piece and there is no byte fallback: <unk>.
        assertArrayEquals(new int[] {9, 0}, tokenizer.encode("ac", false));
        assertEquals("a ⁇ ", tokenizer.decode(new int[] {1, 9, 0}));
    }

    @Test
    void unigramModelsAreRejectedWithAClearMessage() throws IOException {
        Path file = dir.resolve("unigram.model");
        Files.write(
                file,
                new ProtoWriter()
                        .message(1, piece("<unk>", 0, 2))
                        .message(2, new ProtoWriter().varint(3, 1))
                        .toByteArray());
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SentencePieceTokenizer.read(file));
        assertEquals(file + ": unigram sentencepiece models are not supported; give a tokenizer.json", e.getMessage());
    }

    @Test
    void corruptFilesNameTheFile() throws IOException {
        Path file = dir.resolve("tokenizer.model");
        byte[] good = Files.readAllBytes(SharedFiles.path("models/stories260K/tok512.model"));
        Files.write(file, Arrays.copyOf(good, good.length / 2));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SentencePieceTokenizer.read(file));
        assertTrue(e.getMessage().startsWith(file + ": not a sentencepiece model"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    private static ProtoWriter piece(String text, float score, int type) {
        return new ProtoWriter().string(1, text).fixed32(2, score).varint(3, type);
    }
}
