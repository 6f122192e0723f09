package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.kernels.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bounded-memory path gives the bytes of the in-memory one: a bf16 checkpoint pruned straight from its mapped bf16
 * weights equals the same weights widened to an f32 checkpoint first; a memory budget that spills every activation to
 * the run directory changes nothing; a bf16 run killed with SIGKILL mid-way, spilling, resumes to the same bytes.
 */
class OutOfCoreIT {
    private static final Pattern SPILLED = Pattern.compile("\"peakSpilledBytes\"\\s*:\\s*\"?(\\d+)");

    @TempDir
    static Path shared;

    private static Path reference; // the bf16 model pruned in memory, exported bf16

    static String[] pruneArgs(Path model, Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "prune",
                "--quiet",
                "--model",
                model.toString(),
                "--method",
                "sparsegpt",
                "--sparsity",
                "0.5",
                "--calib",
                SharedData.data("c4/c4_validation_2k.jsonl").toString(),
                "--calib-samples",
                "8",
                "--calib-seqlen",
                "128",
                "--devices",
                "cpu:2",
                "--export-dtype",
                "bf16",
                "--out",
                out.toString()));
        args.addAll(Arrays.asList(extra));
        return args.toArray(String[]::new);
    }

    @BeforeAll
    static void inMemoryRun() throws Exception {
        reference = shared.resolve("reference");
        CliRun run = CliRun.of(pruneArgs(SharedData.model("stories260K-hf-bf16"), reference));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertEquals(0, spilled(reference), "the default budget holds every activation in memory");
    }

    @Test
    void theBf16CheckpointGivesTheBytesOfItsF32Widening(@TempDir Path tmp) throws Exception {
        Path f32 = tmp.resolve("stories260K-f32-from-bf16");
        try (LlamaModel bf16 = ModelLoader.load(SharedData.model("stories260K-hf-bf16"), Arena.ofShared())) {
            ModelExporter.exportHf(
                    bf16, f32, new ModelExporter.Format(DType.F32, ModelExporter.DEFAULT_MAX_SHARD_BYTES));
        }
        for (String file : List.of("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")) {
            Files.copy(SharedData.model("stories260K-hf-bf16").resolve(file), f32.resolve(file));
        }
        assertTrue(Files.readString(f32.resolve("config.json")).contains("\"float32\""));
        Path out = tmp.resolve("from-f32");
        CliRun run = CliRun.of(pruneArgs(f32, out));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertSameWeights(reference, out);
    }

    @Test
    void spillingEveryActivationToTheRunDirectoryGivesTheSameBytes(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("spilled");
        CliRun run = CliRun.of(pruneArgs(SharedData.model("stories260K-hf-bf16"), out, "--memory-budget", "1B"));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(spilled(out) > 0, "a 1-byte budget spills");
        assertTrue(Files.readString(Path.of(out + ".run", "report.md")).contains("were spilled to the run directory"));
        assertSameWeights(reference, out);
        assertEmptyOrAbsent(Path.of(out + ".run", "spill"));
    }

    @Test
    void aBf16RunKilledMidwayWhileSpillingResumesToTheSameBytes(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model");
        CliProcess killed = CliProcess.run(
                tmp,
                List.of("-Despalier.crashAt=before-checkpoint#3"),
                pruneArgs(SharedData.model("stories260K-hf-bf16"), out, "--memory-budget", "1B"));
        assertEquals(137, killed.exitCode(), killed.err());
        assertFalse(Files.exists(out));
        CliProcess resumed = CliProcess.run(
                tmp,
                List.of(),
                "resume",
                "--quiet",
                "--memory-budget",
                "1B",
                tmp.resolve("model.run").toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertSameWeights(reference, out);
    }

    private static void assertSameWeights(Path expected, Path actual) throws IOException {
        try (var files = Files.list(expected)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (name.endsWith(".safetensors") || name.equals("model.safetensors.index.json")) {
                    assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(actual.resolve(name)), name);
                }
            }
        }
        assertTrue(Files.readString(actual.resolve("config.json")).contains("\"bfloat16\""));
    }

    private static long spilled(Path out) throws IOException {
        Matcher m = SPILLED.matcher(Files.readString(Path.of(out + ".run", "report.json")));
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    private static void assertEmptyOrAbsent(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                assertEquals(0, files.count(), "spilled activations are deleted when released");
            }
        }
    }

    @Test
    void planPrintsTheCostAndWritesNothing(@TempDir Path tmp) {
        Path out = tmp.resolve("planned");
        CliRun run = CliRun.of(
                "prune",
                "--model",
                SharedData.model("stories260K/stories260K.bin").toString(),
                "--method",
                "sparsegpt",
                "--calib",
                SharedData.data("c4/c4_validation_2k.jsonl").toString(),
                "--calib-samples",
                "16",
                "--calib-seqlen",
                "256",
                "--memory-budget",
                "1MB",
                "--out",
                out.toString(),
                "--plan");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("calibration: 16 × 256 = 4096 tokens"), run.out());
        assertTrue(run.out().contains("GFLOP/s (f32 GEMM n=2048"), run.out());
        assertTrue(run.out().matches("(?s).*spilled activations [1-9].*"), "2 × 1 MiB of activations: " + run.out());
        assertTrue(run.lastLine().startsWith("plan_flops="), run.out());
        assertFalse(Files.exists(out) || Files.exists(Path.of(out + ".run")), "a plan writes nothing");
    }
}
