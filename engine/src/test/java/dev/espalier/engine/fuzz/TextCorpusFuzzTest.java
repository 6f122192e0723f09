package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.data.TextCorpus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Generated and mutated task/data files: plain text (valid and invalid UTF-8) and JSON lines with or without "text". */
class TextCorpusFuzzTest {
    private static final int CASES = 100;
    private static final List<String> LINES = List.of(
            "{\"text\": \"a story\"}",
            "{\"text\": \"\"}",
            "{\"text\": 3}",
            "{\"txt\": \"x\"}",
            "[1, 2]",
            "null",
            "3",
            "\"text\"",
            "{\"text\": \"a\"} trailing",
            "{\"text\": \"x\\u0000y\"}",
            "{",
            "",
            "{\"text\": {\"text\": \"nested\"}}",
            "{\"text\": \"é🙂\"}",
            "[".repeat(3000),
            "{\"text\": \"a\", \"text\": \"b\"}");

    @TempDir
    Path tmp;

    @Test
    void everyGeneratedCorpusReadsOrIsRefusedNamingIt() {
        byte[] sample = SharedFiles.text("data/tinystories/tinystories_val_sample.txt")
                .substring(0, 4000)
                .getBytes(StandardCharsets.UTF_8);
        FuzzTally tally = new FuzzTally("text corpus");
        assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () -> {
                    for (int i = 0; i < CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 6000 + i;
                        Random r = new Random(seed);
                        boolean jsonLines = r.nextBoolean();
                        Path file =
                                tmp.resolve("case" + i + (jsonLines ? (r.nextBoolean() ? ".jsonl" : ".json") : ".txt"));
                        Mutate.write(
                                file,
                                jsonLines
                                        ? jsonLines(r)
                                        : Mutate.bytes(r, r.nextInt(5) == 0 ? new byte[] {' ', '\n'} : sample));
                        tally.run(seed, file, () -> {
                            String text = TextCorpus.read(file);
                            assertFalse(text.isBlank());
                        });
                        FuzzFiles.deleteTree(file);
                    }
                },
                () -> "text corpus fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CASES);
    }

    private static byte[] jsonLines(Random r) {
        StringBuilder b = new StringBuilder();
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n; i++) {
            b.append(Mutate.pick(r, LINES)).append(r.nextInt(4) == 0 ? "\r\n" : "\n");
        }
        byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
        return r.nextInt(4) == 0 ? Mutate.bytes(r, bytes) : bytes;
    }
}
