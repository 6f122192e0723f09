package dev.espalier.engine.eval.zeroshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.data.DataFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every built-in task file reads completely; a bad file is refused naming the file, the line and what was expected. */
class TaskLoaderTest {
    private static final Path DIR = SharedFiles.path("data/zeroshot");

    @TempDir
    Path tmp;

    @Test
    void readsEveryItemOfEveryBuiltInTask() {
        int[] expected = {1838, 2376, 1172, 3270, 1000, 1267, 500};
        for (ZeroShotTask task : ZeroShotTask.values()) {
            assertEquals(
                    expected[task.ordinal()], TaskLoader.load(task, DIR).items().size(), task.label());
        }
        assertTrue(TaskLoader.load(ZeroShotTask.PIQA, DIR).file().endsWith(TaskLoader.PIQA_OFFICIAL));
    }

    @Test
    void piqaFallsBackToLlmFoundrysFileWithTheSameGoldLabels() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("foundry"));
        Files.copy(DIR.resolve("piqa.jsonl"), dir.resolve("piqa.jsonl"));
        TaskData foundry = TaskLoader.load(ZeroShotTask.PIQA, dir);
        TaskData official = TaskLoader.load(ZeroShotTask.PIQA, DIR);
        for (int i = 0; i < official.items().size(); i++) {
            TaskItem.Choice a = (TaskItem.Choice) foundry.items().get(i);
            TaskItem.Choice b = (TaskItem.Choice) official.items().get(i);
            assertEquals(b.gold(), a.gold());
            assertEquals(
                    b.requests().getFirst().context(), a.requests().getFirst().context());
        }
    }

    @Test
    void genericFormatsAreToldByTheirFields() throws IOException {
        TaskData choice = TaskLoader.loadFile(
                "mine", write("mc.jsonl", "{\"query\": \"2 + 2 =\", \"choices\": [\"3\", \"4\"], \"gold\": 1}"));
        assertEquals(
                new Request("2 + 2 =", " 4"),
                choice.items().getFirst().requests().get(1));
        TaskData lambada = TaskLoader.loadFile(
                "lam", write("l.jsonl", "{\"context\": \"Once upon a\", \"continuation\": \" time\"}\n\n"));
        assertInstanceOf(TaskItem.Continuation.class, lambada.items().getFirst());
        assertEquals(
                new Request("Once upon a", " time"),
                lambada.items().getFirst().requests().getFirst());
    }

    @Test
    void missingFieldIsNamedWithItsLine() throws IOException {
        Path f = write(
                "m.jsonl",
                "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{\"query\": \"q\", \"gold\": 0}");
        assertMessage(f, "line 2: missing field \"choices\" (expected an array of strings)");
    }

    @Test
    void goldOutOfRangeIsNamedWithItsLine() throws IOException {
        Path f = write("g.jsonl", "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}");
        assertMessage(f, "line 1: field \"gold\" is 2, outside 0..1 (the 2 choices)");
        assertMessage(
                write("g2.jsonl", "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": \"yes\"}"),
                "line 1: field \"gold\" is \"yes\", expected an integer index");
    }

    @Test
    void badJsonIsNamedWithItsLine() throws IOException {
        Path f = write("j.jsonl", "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n\n{\"query\": \"q\",");
        assertMessage(f, "line 3: not valid JSON");
        assertMessage(write("arr.jsonl", "[1, 2]"), "line 1: expected a JSON object, got array");
    }

    @Test
    void emptyOrMissingFileIsRefused() throws IOException {
        assertMessage(write("e.jsonl", "\n\n"), "contains no items (expected one JSON object a line)");
        assertMessage(tmp.resolve("nothing.jsonl"), "no such file");
    }

    @Test
    void builtInNameReadsTheTasksFormat() throws IOException {
        Path f = write("arc.jsonl", "{\"query\": \"What is 2 + 2?\", \"choices\": [\"3\", \"4\"], \"gold\": 1}");
        assertThrows(DataFormatException.class, () -> TaskLoader.loadFile("arc_easy", f)); // not "Question: ..."
        DataFormatException e = assertThrows(DataFormatException.class, () -> TaskLoader.loadFile("arc_easy", f));
        assertTrue(e.getMessage().contains("line 1: field \"query\" should start with \"Question: \""), e.getMessage());
        assertMessage(write("u.jsonl", "{\"text\": \"hello\"}"), "line 1: unknown format");
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(tmp.resolve(name), content);
    }

    private static void assertMessage(Path file, String expected) {
        DataFormatException e = assertThrows(DataFormatException.class, () -> TaskLoader.loadFile("mine", file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
