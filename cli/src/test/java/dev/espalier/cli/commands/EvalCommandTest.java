package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static dev.espalier.cli.commands.CliHarness.shared;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.zeroshot.ZeroShotTask;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EvalCommandTest {

    @Test
    void parsesAnEvaluation() {
        EvalCommand eval = parse(
                EvalCommand.class,
                "eval",
                "--model",
                "../shared/models/stories260K-hf",
                "--tokenizer",
                "../shared/models/stories260K/tok512.bin",
                "--data",
                "../shared/data/wikitext-2/test.txt",
                "--protocol",
                "seq128",
                "--max-tokens",
                "20480",
                "--backend",
                "reference",
                "--threads",
                "2",
                "--quiet");
        assertEquals(Path.of("../shared/models/stories260K-hf"), eval.modelOptions.model);
        assertEquals(Path.of("../shared/models/stories260K/tok512.bin"), eval.modelOptions.tokenizer);
        assertEquals(Path.of("../shared/data/wikitext-2/test.txt"), eval.input.data);
        assertEquals(PerplexityProtocol.SEQ128, eval.protocol);
        assertEquals(20480, eval.maxTokens);
        assertEquals(CommonOptions.Backend.REFERENCE, eval.common.backend);
        assertEquals(2, eval.common.threadCount());
        assertFalse(eval.common.showProgress());
    }

    @Test
    void defaults() {
        EvalCommand eval = parse(EvalCommand.class, "eval", "--model", "m.bin", "--data", "t.txt");
        assertEquals(PerplexityProtocol.STREAM, eval.protocol);
        assertEquals(0, eval.maxTokens);
        assertNull(eval.modelOptions.tokenizer);
        assertEquals(CommonOptions.Backend.CPU, eval.common.backend);
        assertEquals(Runtime.getRuntime().availableProcessors(), eval.common.threadCount());
        assertTrue(eval.common.showProgress());
        assertFalse(eval.common.verbose);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp(
                "eval",
                "      --data ../shared/data/tinystories/tinystories_val_sample.txt --protocol stream --max-tokens 20480");
    }

    @Test
    void aRangeScoresOnlyItsLinesAsAFileOfThoseBytesWould(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        String model = shared("models/stories260K/stories260K.bin");
        Path tiny = Path.of(shared("data/tinystories/tinystories_val_sample.txt"));
        byte[] content = java.nio.file.Files.readAllBytes(tiny);
        int half = content.length / 2;
        while (content[half - 1] != '\n') {
            half++; // the line start the range 0.5:1 moves to
        }
        Path secondHalf = java.nio.file.Files.write(
                tmp.resolve("second-half.txt"), java.util.Arrays.copyOfRange(content, half, content.length));
        CliHarness.Run ranged = run(
                "eval",
                "--model",
                model,
                "--data",
                tiny.toString(),
                "--range",
                "0.5:1",
                "--max-tokens",
                "4096",
                "--quiet");
        CliHarness.Run alone =
                run("eval", "--model", model, "--data", secondHalf.toString(), "--max-tokens", "4096", "--quiet");
        CliHarness.Run whole =
                run("eval", "--model", model, "--data", tiny.toString(), "--max-tokens", "4096", "--quiet");
        assertEquals(0, ranged.exit(), ranged.err());
        assertEquals(0, alone.exit(), alone.err());
        List<String> rangedLines = ranged.out().lines().toList();
        assertTrue(rangedLines.getFirst().contains(" range 0.5:1: "), rangedLines.getFirst());
        assertEquals(alone.out().lines().toList().getLast(), rangedLines.getLast());
        assertFalse(
                whole.out().lines().toList().getLast().equals(rangedLines.getLast()), "the range made a difference");
    }

    @Test
    void refusesABadRangeNamingTheFlag() {
        String message = refused("--range", "eval", "--model", "m.bin", "--data", "t.txt", "--range", "half");
        assertTrue(message.contains("expected START:END"), message);
        refused("--range", "eval", "--model", "m.bin", "--data", "t.txt", "--range", "0.8:0.2");
        CliHarness.Run beyond = run(
                "eval",
                "--model",
                shared("models/stories260K/stories260K.bin"),
                "--data",
                shared("data/tinystories/tinystories_val_sample.txt"),
                "--range",
                "0:10MB",
                "--quiet");
        assertTrue(beyond.exit() != 0);
        assertTrue(
                beyond.err().contains("--range '0:10000000B': expected offsets within the file's 794375 bytes"),
                beyond.err());
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        String message = refused("--protocol", "eval", "--model", "m.bin", "--data", "t.txt", "--protocol", "windows");
        assertTrue(message.contains("[STREAM, SEQ128, FULL]"), message); // says what was expected
        refused("--max-tokens", "eval", "--model", "m.bin", "--data", "t.txt", "--max-tokens", "many");
        refused("--backend", "eval", "--model", "m.bin", "--data", "t.txt", "--backend", "tpu");
        refused("--data", "eval", "--model", "m.bin");
        refused("--tasks", "eval", "--model", "m.bin", "--tasks", "mmlu");
        refused("--data", "eval", "--model", "m.bin", "--data", "t.txt", "--tasks", "piqa"); // one or the other
    }

    @Test
    void parsesZeroShotTasks() {
        EvalCommand eval = parse(
                EvalCommand.class,
                "eval",
                "--model",
                "m.bin",
                "--tasks",
                "piqa,arc_easy,openbookqa",
                "--task-file",
                "mine=my.jsonl",
                "--task-file",
                "lam=l.jsonl",
                "--limit",
                "100",
                "--batch-size",
                "4");
        assertNull(eval.input.data);
        assertEquals(
                List.of(ZeroShotTask.PIQA, ZeroShotTask.ARC_EASY, ZeroShotTask.OPENBOOKQA), eval.input.zeroShot.tasks);
        assertEquals(Map.of("mine", Path.of("my.jsonl"), "lam", Path.of("l.jsonl")), eval.input.zeroShot.taskFiles);
        assertEquals(List.of("mine", "lam"), List.copyOf(eval.input.zeroShot.taskFiles.keySet()));
        assertEquals(100, eval.input.zeroShot.limit);
        assertEquals(4, eval.input.zeroShot.batchSize);
        assertEquals(Path.of("../shared/data/zeroshot"), eval.input.zeroShot.taskData);
    }

    @Test
    void zeroShotOnStories260KPrintsATableAndAMachineReadableLastLine() {
        CliHarness.Run run = run(
                "eval",
                "--model",
                shared("models/stories260K/stories260K.bin"),
                "--tasks",
                "piqa,winogrande",
                "--task-data",
                shared("data/zeroshot"),
                "--limit",
                "20",
                "--quiet");
        assertEquals(0, run.exit(), run.err());
        String[] lines = run.out().strip().split("\n");
        assertTrue(
                lines[lines.length - 1].matches(
                        "zeroshot piqa\\.acc=0\\.\\d{4} piqa\\.acc_stderr=\\S+ piqa\\.acc_norm=\\S+ "
                                + "piqa\\.acc_norm_stderr=\\S+ piqa\\.n=20 winogrande\\.acc=\\S+ winogrande\\.acc_stderr=\\S+ winogrande\\.n=20"),
                lines[lines.length - 1]);
        assertTrue(
                run.out()
                        .contains("task piqa: 20 items from "
                                + Path.of(shared("data/zeroshot/piqa-official/valid.jsonl"))
                                        .toAbsolutePath()
                                        .normalize()),
                run.out());
    }

    @Test
    void aBadTaskFileIsOneLineNamingTheFileAndLine(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws java.io.IOException {
        Path bad = java.nio.file.Files.writeString(
                tmp.resolve("bad.jsonl"), "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 5}");
        CliHarness.Run run =
                run("eval", "--model", shared("models/stories260K/stories260K.bin"), "--task-file", "mine=" + bad);
        assertEquals(2, run.exit());
        assertTrue(
                run.err().contains(bad.toAbsolutePath().normalize() + ": line 1: field \"gold\" is 5, outside 0..1"),
                run.err());
    }

    @Test
    void refusesANegativeTokenCountBeforeLoadingTheModel() {
        CliHarness.Run run = run("eval", "--model", "no-such-model", "--data", "t.txt", "--max-tokens", "-1");
        assertEquals(2, run.exit());
        assertTrue(run.err().startsWith("espalier eval: error: --max-tokens must be ≥ 0, got -1"), run.err());
    }
}
