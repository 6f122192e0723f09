package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kills `espalier prune` with SIGKILL at different points (before any layer, mid-layer, mid-write of a checkpoint,
 * between layers, mid-export, after export) and shows that `espalier resume` then produces a model byte-identical to
 * an uninterrupted run's; a corrupted checkpoint is reported by its checksum, never used.
 */
class KillAndResumeIT {
    private static final int KILLED = 137; // 128 + SIGKILL

    @TempDir
    static Path shared;

    private static byte[] reference;
    private static List<String> referenceTable;

    /** The per-layer sparsity table and the achieved sparsity, as `prune` and `resume` print them. */
    private static List<String> sparsityTable(String out) {
        return out.lines()
                .filter(l -> l.matches("\\d+ .*") || l.startsWith("achieved sparsity"))
                .toList();
    }

    static String[] pruneArgs(Path out) {
        return pruneArgs(out, "wanda");
    }

    /** {@code method}: the method's name, possibly followed by more flags ("flap --export masked-dense"). */
    static String[] pruneArgs(Path out, String method) {
        String[] words = method.split(" ");
        String[] base = {
            "prune",
            "--quiet",
            "--model",
            SharedData.model("stories260K/stories260K.bin").toString(),
            "--method",
            words[0],
            "--sparsity",
            words[0].equals("wanda") || words[0].equals("alps") ? "0.6" : "0.3",
            "--calib",
            SharedData.data("tinystories/tinystories_val_sample.txt").toString(),
            "--calib-samples",
            "6",
            "--calib-seqlen",
            "96",
            "--devices",
            "cpu:2",
            "--out",
            out.toString()
        };
        String[] args = java.util.Arrays.copyOf(base, base.length + words.length - 1);
        System.arraycopy(words, 1, args, base.length, words.length - 1);
        return args;
    }

    @BeforeAll
    static void uninterruptedRun() throws Exception {
        Path out = shared.resolve("reference");
        CliProcess run = CliProcess.run(shared, List.of(), pruneArgs(out));
        assertEquals(0, run.exitCode(), run.err());
        reference = Files.readAllBytes(out.resolve("model.safetensors"));
        referenceTable = sparsityTable(run.out());
        assertEquals(6, referenceTable.size(), "five layers and the achieved sparsity: " + run.out());
    }

    @ParameterizedTest(name = "killed at {0}")
    @ValueSource(
            strings = {
                "planned",
                "before-checkpoint#2",
                "mid-write#3",
                "after-checkpoint#4",
                "mid-export",
                "after-export"
            })
    void resumedRunEqualsUninterruptedRun(String point, @TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model");
        CliProcess killed = CliProcess.run(tmp, List.of("-Despalier.crashAt=" + point), pruneArgs(out));
        assertEquals(KILLED, killed.exitCode(), "expected SIGKILL at " + point + "; stderr: " + killed.err());
        if (!point.equals("after-export")) {
            assertFalse(Files.exists(out.resolve("model.safetensors")), "no output before the export completed");
        }
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(
                reference, Files.readAllBytes(out.resolve("model.safetensors")), "resumed after kill at " + point);
    }

    /**
     * ALPS, the structured methods: GOA with recovery (dense stream), FLAP (scoring pass, masked-dense export), and
     * Wanda at OWL layer rates (scoring pass, rates recomputed on resume).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"alps", "goa", "flap --export masked-dense", "wanda --layer-sparsity owl"})
    void killedRunResumesToTheSameModel(String method, @TempDir Path tmp) throws Exception {
        Path reference = tmp.resolve("reference");
        CliProcess clean = CliProcess.run(tmp, List.of(), pruneArgs(reference, method));
        assertEquals(0, clean.exitCode(), clean.err());
        Path out = tmp.resolve("model");
        CliProcess killed =
                CliProcess.run(tmp, List.of("-Despalier.crashAt=before-checkpoint#3"), pruneArgs(out, method));
        assertEquals(KILLED, killed.exitCode(), killed.err());
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(
                Files.readAllBytes(reference.resolve("model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")));
        assertEquals(sparsityTable(clean.out()), sparsityTable(resumed.out()), "the resumed report covers every layer");
    }

    @Test
    void killedPolicyGradientRunResumesFromItsLearnerCheckpointToTheSameModel(@TempDir Path tmp) throws Exception {
        String[] extra = {"--steps", "30", "--rollouts-in-flight", "3", "--method-option", "checkpoint_every=10"};
        Path reference = tmp.resolve("reference");
        CliProcess clean = CliProcess.run(tmp, List.of(), concat(pruneArgs(reference, "policy-gradient"), extra));
        assertEquals(0, clean.exitCode(), clean.err());
        Path out = tmp.resolve("model");
        CliProcess killed = CliProcess.run(
                tmp,
                List.of("-Despalier.crashAt=policy-checkpoint#2"),
                concat(pruneArgs(out, "policy-gradient"), extra));
        assertEquals(KILLED, killed.exitCode(), killed.err());
        assertTrue(
                Files.exists(tmp.resolve("model.run/policy/checkpoint.bin")),
                "the learner's checkpoint is in the run directory");
        assertFalse(Files.exists(out.resolve("model.safetensors")));
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(
                Files.readAllBytes(reference.resolve("model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")));
    }

    /**
     * Policy gradient with recovery killed while learning, and in the recovery pipeline after two recovered layers are
     * checkpointed, resumes to the model of an uninterrupted run; the recovered model differs from the plain compaction.
     */
    @ParameterizedTest(name = "policy-gradient with recovery killed at {0}")
    @ValueSource(strings = {"policy-checkpoint#2", "before-checkpoint#3"})
    void killedPolicyGradientRunWithRecoveryResumesToTheSameModel(String point, @TempDir Path tmp) throws Exception {
        String[] extra = {"--steps", "30", "--method-option", "checkpoint_every=10", "--recovery", "on"};
        Path reference = tmp.resolve("reference");
        CliProcess clean = CliProcess.run(tmp, List.of(), concat(pruneArgs(reference, "policy-gradient"), extra));
        assertEquals(0, clean.exitCode(), clean.err());
        Path plain = tmp.resolve("plain");
        CliProcess compacted = CliProcess.run(
                tmp, List.of(), concat(pruneArgs(plain, "policy-gradient"), Arrays.copyOf(extra, extra.length - 2)));
        assertEquals(0, compacted.exitCode(), compacted.err());
        assertFalse(Arrays.equals(
                Files.readAllBytes(reference.resolve("model.safetensors")),
                Files.readAllBytes(plain.resolve("model.safetensors"))));
        Path out = tmp.resolve("model");
        CliProcess killed = CliProcess.run(
                tmp, List.of("-Despalier.crashAt=" + point), concat(pruneArgs(out, "policy-gradient"), extra));
        assertEquals(KILLED, killed.exitCode(), killed.err());
        assertFalse(Files.exists(out.resolve("model.safetensors")));
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(
                Files.readAllBytes(reference.resolve("model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")),
                "resumed after kill at " + point);
    }

    /**
     * A recipe (Wanda-sp 30 %, then SparseGPT 2:4 on the compact model) killed in its first stage's layers, in the
     * first stage's export, and in the second stage's layers resumes to the model of an uninterrupted recipe.
     */
    @ParameterizedTest(name = "recipe killed at {0}")
    @ValueSource(strings = {"before-checkpoint#3", "mid-export", "before-checkpoint#8"})
    void killedRecipeResumesToTheSameModel(String point, @TempDir Path tmp) throws Exception {
        Path reference = tmp.resolve("reference");
        CliProcess clean = CliProcess.run(tmp, List.of(), recipeArgs(reference));
        assertEquals(0, clean.exitCode(), clean.err());
        assertTrue(clean.out().contains("recipe stage 2 sparsegpt 2:4"), clean.out());
        Path out = tmp.resolve("model");
        CliProcess killed = CliProcess.run(tmp, List.of("-Despalier.crashAt=" + point), recipeArgs(out));
        assertEquals(KILLED, killed.exitCode(), "expected SIGKILL at " + point + "; stderr: " + killed.err());
        assertFalse(Files.exists(out.resolve("model.safetensors")), "no output before the last stage's export");
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(
                Files.readAllBytes(reference.resolve("model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")),
                "recipe resumed after kill at " + point);
        assertEquals(sparsityTable(clean.out()), sparsityTable(resumed.out()));
    }

    private static String[] recipeArgs(Path out) {
        String[] args = pruneArgs(out, "wanda-sp");
        List<String> list = new java.util.ArrayList<>(List.of(args));
        int m = list.indexOf("--method");
        list.subList(m, m + 4).clear(); // --method wanda-sp --sparsity 0.3
        list.addAll(List.of("--recipe", "wanda-sp:0.3,sparsegpt:2:4"));
        return list.toArray(String[]::new);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void sigtermStopsAtTheNextSafePointAndTheRunResumesToTheSameModel(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model");
        CliProcess stopped = CliProcess.run(tmp, List.of("-Despalier.signalAt=after-checkpoint#2"), pruneArgs(out));
        assertEquals(143, stopped.exitCode(), stopped.err());
        assertTrue(stopped.err().contains("SIGTERM: stopping at the next safe point"), stopped.err());
        assertTrue(stopped.err().contains("resume with `espalier resume " + tmp.resolve("model.run")), stopped.err());
        assertFalse(stopped.err().contains("Exception"), stopped.err());
        assertFalse(Files.exists(out), "no output from a stopped run");
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(reference, Files.readAllBytes(out.resolve("model.safetensors")));
    }

    @Test
    void aSecondSigtermStopsAtOnceAndTheRunStillResumes(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model");
        CliProcess stopped = CliProcess.run(
                tmp, List.of("-Despalier.signalAt=before-checkpoint#2", "-Despalier.signals=2"), pruneArgs(out));
        assertEquals(143, stopped.exitCode(), stopped.err());
        assertTrue(stopped.err().contains("stopping at once"), stopped.err());
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertArrayEquals(reference, Files.readAllBytes(out.resolve("model.safetensors")));
    }

    @Test
    void corruptedCheckpointIsReportedAndNotUsed(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model");
        CliProcess killed = CliProcess.run(tmp, List.of("-Despalier.crashAt=after-checkpoint#2"), pruneArgs(out));
        assertEquals(KILLED, killed.exitCode(), killed.err());
        Path checkpoint = tmp.resolve("model.run/layers/layer-00.safetensors");
        flipByte(checkpoint, Files.size(checkpoint) - 5);
        CliProcess resumed = CliProcess.run(
                tmp, List.of(), "resume", "--quiet", tmp.resolve("model.run").toString());
        assertTrue(resumed.exitCode() != 0, "resume must refuse a corrupted checkpoint");
        assertTrue(
                resumed.err().contains("layer-00.safetensors") && resumed.err().contains("checksum"), resumed.err());
        assertFalse(Files.exists(out), "nothing exported from a corrupted run");
    }

    private static void flipByte(Path file, long offset) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[(int) offset] ^= 0x40;
        Files.write(file, bytes);
    }
}
