package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated llama2.c tokenizer.bin and sentencepiece tokenizer.model files (stories260K's), and tokenizer_config.json
 * files beside a real tokenizer.json; a tokenizer that loads must encode and decode.
 */
class TokenizerFilesFuzzTest {
    private static final int BINARY_CASES = 100;
    private static final int CONFIG_CASES = 20;
    private static final int JSON_CASES = 40;
    private static final String TEXT = "Once upon a time, a ünïcödé 🙂 cat\nsat.";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void everyMutatedLlama2cTokenizerLoadsOrIsRefusedNamingIt() {
        fuzzBytes("tokenizer.bin", SharedFiles.path("models/stories260K/tok512.bin"), 3000);
    }

    @Test
    void everyMutatedSentencePieceModelLoadsOrIsRefusedNamingIt() {
        fuzzBytes("tokenizer.model", SharedFiles.path("models/stories260K/tok512.model"), 4000);
    }

    @Test
    void everyMutatedTokenizerConfigLoadsOrIsRefusedNamingTheFolder() throws Exception {
        Path source = SharedFiles.path("models/tokenizers/tinyllama");
        byte[] tokenizer = Mutate.read(source.resolve("tokenizer.json"));
        ObjectNode config = (ObjectNode)
                JSON.readTree(source.resolve("tokenizer_config.json").toFile());
        FuzzTally tally = new FuzzTally("tokenizer_config.json");
        assertTimeoutPreemptively(
                Duration.ofSeconds(40),
                () -> {
                    for (int i = 0; i < CONFIG_CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 5000 + i;
                        Random r = new Random(seed);
                        Path dir = tmp.resolve("case" + i);
                        Path file = Mutate.write(dir.resolve("tokenizer.json"), tokenizer);
                        ObjectNode c = config.deepCopy();
                        List<String> keys = Mutate.names(c);
                        for (int e = 0; e < 1 + r.nextInt(3); e++) {
                            c.set(
                                    r.nextInt(4) == 0 ? "added_tokens_decoder" : Mutate.pick(r, keys),
                                    Mutate.value(r, 0));
                        }
                        Mutate.write(dir.resolve("tokenizer_config.json"), JSON.writeValueAsBytes(c));
                        tally.run(seed, dir, () -> exercise(TokenizerLoader.load(file)));
                        FuzzFiles.deleteTree(dir);
                    }
                },
                () -> "tokenizer_config.json fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CONFIG_CASES);
    }

    /**
     * tokenizer.json files (TinyLlama's) with their sections replaced by random JSON values or removed, the model's
     * type, vocabulary and merges among them, and some cut short; the Rust tokenizer behind them must refuse, not panic.
     */
    @Test
    void everyMutatedTokenizerJsonLoadsOrIsRefusedNamingIt() throws Exception {
        Path source = SharedFiles.path("models/tokenizers/tinyllama");
        byte[] original = Mutate.read(source.resolve("tokenizer.json"));
        ObjectNode parsed = (ObjectNode) JSON.readTree(original);
        FuzzTally tally = new FuzzTally("tokenizer.json");
        assertTimeoutPreemptively(
                Duration.ofSeconds(60),
                () -> {
                    for (int i = 0; i < JSON_CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 6000 + i;
                        Random r = new Random(seed);
                        byte[] mutated;
                        if (r.nextInt(5) == 0) {
                            mutated = java.util.Arrays.copyOf(original, r.nextInt(original.length));
                        } else {
                            ObjectNode t = parsed.deepCopy();
                            for (int e = 0; e < 1 + r.nextInt(2); e++) {
                                ObjectNode target = r.nextBoolean() ? (ObjectNode) t.get("model") : t;
                                String key = Mutate.pick(r, Mutate.names(target));
                                if (r.nextInt(3) == 0) {
                                    target.remove(key);
                                } else {
                                    target.set(key, Mutate.value(r, 0));
                                }
                            }
                            mutated = JSON.writeValueAsBytes(t);
                        }
                        Path file = Mutate.write(tmp.resolve("json" + i).resolve("tokenizer.json"), mutated);
                        tally.run(seed, file, () -> exercise(TokenizerLoader.load(file)));
                        FuzzFiles.deleteTree(file.getParent());
                    }
                },
                () -> "tokenizer.json fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= JSON_CASES);
    }

    private void fuzzBytes(String name, Path original, long offset) {
        byte[] bytes = Mutate.read(original);
        FuzzTally tally = new FuzzTally(name);
        assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () -> {
                    for (int i = 0; i < BINARY_CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + offset + i;
                        Random r = new Random(seed);
                        byte[] mutated = bytes;
                        for (int e = 0; e < 1 + r.nextInt(3); e++) {
                            mutated = Mutate.bytes(r, mutated);
                        }
                        Path file = Mutate.write(tmp.resolve("case" + i).resolve(name), mutated);
                        tally.run(seed, file, () -> exercise(TokenizerLoader.load(file)));
                        FuzzFiles.deleteTree(file.getParent());
                    }
                },
                () -> name + " fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= BINARY_CASES);
    }

    /** Encodes and decodes a text and every id of the vocabulary; any exception fails the case. */
    private static void exercise(Tokenizer t) {
        int[] ids = t.encode(TEXT, true);
        for (int id : ids) {
            assertTrue(id >= 0 && id < t.vocabSize(), () -> "id " + id + " outside the vocabulary of " + t.vocabSize());
        }
        t.decode(ids);
        int[] all = new int[Math.min(t.vocabSize(), 4096)];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        t.decode(all);
    }
}
