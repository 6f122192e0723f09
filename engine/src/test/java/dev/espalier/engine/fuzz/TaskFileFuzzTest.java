package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.eval.zeroshot.Request;
import dev.espalier.engine.eval.zeroshot.RequestEncoder;
import dev.espalier.engine.eval.zeroshot.TaskData;
import dev.espalier.engine.eval.zeroshot.TaskItem;
import dev.espalier.engine.eval.zeroshot.TaskLoader;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zero-shot task files (the first lines of each real file in ../shared/data/zeroshot, read as that task and as a
 * user's own file) with fields replaced by random JSON values or removed, lines cut, bytes changed: each loads (and
 * every request encodes) or is refused naming the file.
 */
class TaskFileFuzzTest {
    private static final int CASES = 140;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> TASKS = List.of(
            "piqa:piqa.jsonl",
            "arc_easy:arc_easy.jsonl",
            "boolq:boolq.jsonl",
            "hellaswag:hellaswag_val_1000.jsonl",
            "winogrande:winogrande.jsonl",
            "openbookqa:openbook_qa.jsonl",
            "mine:arc_challenge.jsonl",
            "mine:winogrande.jsonl");

    @TempDir
    Path tmp;

    @Test
    void everyMutatedTaskFileLoadsOrIsRefusedNamingIt() throws Exception {
        RequestEncoder encoder =
                new RequestEncoder(TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.bin")));
        FuzzTally tally = new FuzzTally("task files");
        assertTimeoutPreemptively(
                Duration.ofSeconds(60),
                () -> {
                    for (int i = 0; i < CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 9000 + i;
                        Random r = new Random(seed);
                        String[] task = TASKS.get(i % TASKS.size()).split(":");
                        List<String> lines =
                                new ArrayList<>(Files.readAllLines(SharedFiles.path("data/zeroshot/" + task[1]))
                                        .subList(0, 4));
                        byte[] mutated = mutate(r, lines);
                        Path file = Mutate.write(tmp.resolve("case" + i).resolve(task[1]), mutated);
                        tally.run(seed, file, () -> {
                            TaskData data = TaskLoader.loadFile(task[0], file);
                            for (TaskItem item : data.items()) {
                                for (Request request : item.requests()) {
                                    encoder.encode(request);
                                }
                            }
                        });
                        FuzzFiles.deleteTree(file.getParent());
                    }
                },
                () -> "task file fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CASES);
    }

    private static byte[] mutate(Random r, List<String> lines) throws Exception {
        int at = r.nextInt(lines.size());
        switch (r.nextInt(4)) {
            case 0 -> {
                byte[] bytes = String.join("\n", lines).getBytes(StandardCharsets.UTF_8);
                return Mutate.bytes(r, bytes);
            }
            case 1 ->
                lines.set(
                        at,
                        r.nextBoolean()
                                ? ""
                                : lines.get(at)
                                        .substring(0, r.nextInt(lines.get(at).length())));
            default -> {
                ObjectNode item = (ObjectNode) JSON.readTree(lines.get(at));
                for (int e = 0; e < 1 + r.nextInt(2); e++) {
                    String key = Mutate.pick(r, Mutate.names(item));
                    if (r.nextInt(3) == 0) {
                        item.remove(key);
                    } else {
                        item.set(key, Mutate.value(r, 0));
                    }
                    if (item.isEmpty()) {
                        break;
                    }
                }
                lines.set(at, JSON.writeValueAsString(item));
            }
        }
        return String.join("\n", lines).getBytes(StandardCharsets.UTF_8);
    }
}
