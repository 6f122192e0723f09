package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchCommandTest {

    @Test
    void parsesAStructuredBenchmark() {
        BenchCommand bench = parse(
                BenchCommand.class,
                "bench",
                "--structured",
                "0.2,0.3,0.5",
                "--layers",
                "2",
                "--seq",
                "512",
                "--repeats",
                "1",
                "--threads",
                "2",
                "--gemm-sizes",
                "256,512",
                "--solvers",
                "4096x4096,11008x4096");
        assertEquals(List.of(0.2, 0.3, 0.5), bench.structured);
        assertEquals(2, bench.layers);
        assertEquals(512, bench.seq);
        assertEquals(1, bench.repeats);
        assertEquals(2, bench.common.threadCount());
        assertEquals(List.of(256, 512), bench.gemmSizes);
        assertEquals(List.of("4096x4096", "11008x4096"), bench.solverShapes);
    }

    @Test
    void defaults() {
        BenchCommand bench = parse(BenchCommand.class, "bench");
        assertEquals(Path.of("../shared/models/stories260K/stories260K.bin"), bench.model);
        assertEquals(Path.of("../shared/data/c4/c4_validation_2k.jsonl"), bench.calib);
        assertEquals(2048, bench.seq);
        assertEquals(3, bench.repeats);
        assertNull(bench.layers, "the real model's layers for --export-synthetic, one for --structured");
        assertEquals("llama2-7b", bench.shape);
        assertEquals("bf16", bench.dtype);
        assertEquals(5_000_000_000L, bench.maxShardBytes);
        assertEquals(List.of(1024, 2048, 4096), bench.gemmSizes);
        assertEquals(List.of(), bench.solverShapes);
        assertEquals(List.of(), bench.structured);
        assertNull(bench.exportSynthetic);
        assertFalse(bench.alpsAblation);
        assertFalse(bench.policyRollouts);
    }

    @Test
    void helpExitsZeroWithoutPicocliWarningsAndEndsWithExamples() {
        String help = assertHelp("bench", "  ./espalier bench --seq 512 --repeats 1 --threads 2");
        assertTrue(
                help.contains("Also time SparseGPT (50 %) and ALPS (70 %) on synthetic layers"),
                help); // formatted, not raw
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused("--seq", "bench", "--seq", "long");
        refused("--structured", "bench", "--structured", "a,b");
        refused("--gemm-sizes", "bench", "--gemm-sizes", "1024,big");
        refused("--max-shard-size", "bench", "--max-shard-size", "lots");
    }

    @Test
    void refusesOutOfRangeValuesBeforeMeasuring() {
        CliHarness.Run seq = run("bench", "--seq", "0");
        assertEquals(2, seq.exit());
        assertTrue(seq.err().startsWith("espalier bench: error: --seq and --repeats must be at least 1"), seq.err());
        CliHarness.Run structured = run("bench", "--structured", "0.3,1.5");
        assertEquals(2, structured.exit());
        assertTrue(
                structured
                        .err()
                        .startsWith(
                                "espalier bench: error: --structured takes fractions strictly between 0 and 1, got 1.5"),
                structured.err());
    }
}
