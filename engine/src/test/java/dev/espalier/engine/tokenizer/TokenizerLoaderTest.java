package dev.espalier.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerLoaderTest {
    private static final int[] TOK512_TINYSTORIES_START = {1, 301, 427, 309, 426, 301, 427, 309, 394, 265};

    @TempDir
    Path dir;

    @Test
    void llama2cCheckpointUsesTheTokBinBesideIt() {
        Tokenizer tokenizer = TokenizerLoader.forModel(SharedFiles.path("models/stories260K/stories260K.bin"));
        assertInstanceOf(Llama2cTokenizer.class, tokenizer);
        assertEquals(512, tokenizer.vocabSize());
        String text =
                SharedFiles.text("data/tinystories/tinystories_val_sample.txt").substring(0, 200);
        assertArrayEquals(TOK512_TINYSTORIES_START, Arrays.copyOf(tokenizer.encode(text, true), 10));
    }

    @Test
    void huggingFaceFolderWithoutTokenizerJsonUsesTokenizerModel() {
        Tokenizer folder = TokenizerLoader.forModel(SharedFiles.path("models/stories260K-hf"));
        Tokenizer weights = TokenizerLoader.forModel(SharedFiles.path("models/stories260K-hf/model.safetensors"));
        assertInstanceOf(SentencePieceTokenizer.class, folder);
        assertInstanceOf(SentencePieceTokenizer.class, weights);
        assertEquals(512, folder.vocabSize());
        String text =
                SharedFiles.text("data/tinystories/tinystories_val_sample.txt").substring(0, 200);
        assertArrayEquals(TOK512_TINYSTORIES_START, Arrays.copyOf(folder.encode(text, true), 10));
    }

    @Test
    void folderPrefersTokenizerJson() throws IOException {
        Path shared = SharedFiles.path("models/tokenizers/tinyllama");
        Files.copy(shared.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(shared.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        Files.copy(SharedFiles.path("models/llama2c-tokenizer-32000/tokenizer.model"), dir.resolve("tokenizer.model"));
        Tokenizer tokenizer = TokenizerLoader.forModel(dir);
        assertInstanceOf(HuggingFaceTokenizer.class, tokenizer);
        assertTrue(TokenizerLoader.addsBosByDefault(tokenizer));
        assertEquals(1, tokenizer.bosId());
    }

    @Test
    void loadPicksTheReaderByFileType() {
        assertInstanceOf(
                Llama2cTokenizer.class, TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.bin")));
        assertInstanceOf(
                SentencePieceTokenizer.class,
                TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.model")));
        Tokenizer gpt2 = TokenizerLoader.load(SharedFiles.path("models/tokenizers/gpt2/tokenizer.json"));
        assertInstanceOf(HuggingFaceTokenizer.class, gpt2);
        assertFalse(TokenizerLoader.addsBosByDefault(gpt2));
    }

    @Test
    void missingTokenizerInAFolderNamesTheFolderAndTheFilesLookedFor() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.forModel(dir));
        assertEquals(
                dir + ": no tokenizer found; looked for tokenizer.json, tokenizer.model, tokenizer.bin",
                e.getMessage());
    }

    @Test
    void exportedFolderFindsItsCopiedTokenizerAgain() throws IOException {
        Path tok512 = SharedFiles.path("models/stories260K/tok512.bin");
        Map<Path, String> files = TokenizerLoader.exportFiles(tok512);
        assertEquals(Map.of(tok512, "tokenizer.bin"), files);
        Files.copy(tok512, dir.resolve("tokenizer.bin"));
        Files.writeString(dir.resolve("config.json"), "{}");
        assertEquals(dir.resolve("tokenizer.bin"), TokenizerLoader.locate(dir));
        String text = "Once upon a time, there was a dog.";
        assertArrayEquals(
                TokenizerLoader.load(tok512).encode(text, true),
                TokenizerLoader.forModel(dir).encode(text, true));
    }

    @Test
    void exportFilesBringTheHuggingFaceConfigsAlong() {
        Path model = SharedFiles.path("models/stories260K-hf/tokenizer.model");
        Map<Path, String> files = TokenizerLoader.exportFiles(model);
        assertEquals("tokenizer.model", files.get(model));
        assertEquals("tokenizer_config.json", files.get(model.resolveSibling("tokenizer_config.json")));
        assertEquals("generation_config.json", files.get(model.resolveSibling("generation_config.json")));
    }

    @Test
    void missingTokenizerBesideALlama2cModelNamesTheFolderAndTheFilesLookedFor() throws IOException {
        Path model = Files.write(dir.resolve("stories.bin"), new byte[28]);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.forModel(model));
        assertEquals(
                dir.toAbsolutePath() + ": no tokenizer found beside llama2.c model stories.bin; "
                        + "looked for tokenizer.bin, tok*.bin, tokenizer.model",
                e.getMessage());
    }

    @Test
    void twoTokBinFilesAreAmbiguous() throws IOException {
        Path model = Files.write(dir.resolve("stories.bin"), new byte[28]);
        Files.copy(SharedFiles.path("models/stories260K/tok512.bin"), dir.resolve("tok512.bin"));
        assertInstanceOf(Llama2cTokenizer.class, TokenizerLoader.forModel(model));
        Files.copy(SharedFiles.path("models/stories260K/tok512.bin"), dir.resolve("tok1024.bin"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.forModel(model));
        assertEquals(
                dir.toAbsolutePath() + ": several tokenizers beside stories.bin: tok1024.bin, tok512.bin; "
                        + "expected one (or name the tokenizer file)",
                e.getMessage());
    }

    @Test
    void corruptFilesAreNamedInOneLine() throws IOException {
        Path bin = Files.write(dir.resolve("tokenizer.bin"), new byte[] {7, 0, 0, 0, 0, 0, 0, 0, 3, 0});
        Path json = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
        Path notTokenizer = Files.writeString(dir.resolve("other.json"), "{\"version\": \"1.0\"}");
        Path model = Files.write(dir.resolve("tokenizer.model"), new byte[] {(byte) 0x0A, (byte) 0xFF, 1, 2});
        for (Path file : new Path[] {bin, json, notTokenizer, model}) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.load(file));
            assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.forModel(dir));
        assertTrue(e.getMessage().startsWith(json + ": not valid JSON at line 1"), e.getMessage());
    }

    @Test
    void unknownFileTypesAndMissingFilesAreNamed() throws IOException {
        Path txt = Files.writeString(dir.resolve("vocab.txt"), "a\nb\n");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.load(txt));
        assertEquals(
                txt + ": unknown tokenizer file type; expected .json (Hugging Face), .model (sentencepiece) "
                        + "or .bin (llama2.c)",
                e.getMessage());
        Path missing = dir.resolve("nothing-here");
        e = assertThrows(ModelFormatException.class, () -> TokenizerLoader.forModel(missing));
        assertTrue(e.getMessage().startsWith(missing + ": no such file or folder"), e.getMessage());
    }

    @Test
    void aTokenizerWithMoreIdsThanTheModelIsAnError() {
        Path file = SharedFiles.path("models/stories260K/tok512.bin");
        Tokenizer tokenizer = TokenizerLoader.load(file);
        assertEquals(Optional.empty(), TokenizerLoader.vocabularyMismatch(tokenizer, 512));
        assertEquals(Optional.empty(), TokenizerLoader.vocabularyMismatch(tokenizer, 640));
        assertDoesNotThrow(() -> TokenizerLoader.requireFitsModel(tokenizer, 512, file));
        ModelFormatException e =
                assertThrows(ModelFormatException.class, () -> TokenizerLoader.requireFitsModel(tokenizer, 500, file));
        assertEquals(
                file + ": the tokenizer has 512 ids but the model's vocabulary has 500; expected at most 500",
                e.getMessage());
    }
}
