package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bf16 checkpoint pruned by SparseGPT (which rewrites the kept weights) comes back bf16, in shards with an index
 * when it exceeds --max-shard-size, and its perplexity read back equals the run's exactly: each pruned layer is rounded
 * to bf16 before it is checkpointed and streamed on, so the run measured the very weights it exported.
 */
class Bf16ExportIT {
    private static final Pattern AFTER = Pattern.compile("ppl_after=([0-9.]+)");
    private static final Pattern EVAL = Pattern.compile("ppl=([0-9.]+)");

    @TempDir
    Path tmp;

    @Test
    void aBf16ModelIsExportedInBf16AndScoresExactlyAsTheRunSaid() throws Exception {
        Path out = tmp.resolve("sgpt");
        String data = SharedData.data("tinystories/tinystories_val_sample.txt").toString();
        CliRun prune = CliRun.of(
                "prune",
                "--model",
                SharedData.model("stories260K-hf-bf16").toString(),
                "--method",
                "sparsegpt",
                "--calib",
                SharedData.data("c4/c4_validation_2k.jsonl").toString(),
                "--calib-samples",
                "8",
                "--eval-data",
                data,
                "--eval-max-tokens",
                "4096",
                "--max-shard-size",
                "300KB",
                "--out",
                out.toString());
        assertEquals(0, prune.exitCode(), prune.out() + prune.err());
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"bfloat16\""));
        assertTrue(Files.isRegularFile(out.resolve("model-00002-of-00002.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")));
        long weights;
        try (var files = Files.list(out)) {
            weights = files.filter(p -> p.toString().endsWith(".safetensors"))
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
        assertTrue(weights < 600_000, "bf16: about half of the 1.04 MB of f32 weights, got " + weights);

        CliRun eval = CliRun.of("eval", "--model", out.toString(), "--data", data, "--max-tokens", "4096");
        assertEquals(0, eval.exitCode(), eval.out() + eval.err());
        double run = number(AFTER, prune.lastLine());
        double readBack = number(EVAL, eval.lastLine());
        assertEquals(run, readBack, 0.0, "the export scores as the run reported");
    }

    private static double number(Pattern p, String line) {
        Matcher m = p.matcher(line);
        assertTrue(m.find(), line);
        return Double.parseDouble(m.group(1));
    }
}
