package dev.espalier.cli.commands;

import dev.espalier.engine.bench.AlpsBenchmark;
import dev.espalier.engine.bench.ForwardBenchmark;
import dev.espalier.engine.bench.LinearShape;
import dev.espalier.engine.bench.SparseGptBenchmark;
import dev.espalier.engine.bench.SyntheticModels;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.bench.GemmBenchmark;
import dev.espalier.kernels.cpu.OpenBlas;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code espalier bench}: forward-pass throughput on stories260K and on one synthetic decoder layer with LLaMA-7B
 * shapes, next to the GEMM rate measured in the same run.
 */
@Command(name = "bench", description = "Measure forward tokens/s (stories260K and a synthetic LLaMA-7B-shaped layer) in one run.",
        footer = {"", "Examples:", "  ./espalier bench", "  ./espalier bench --seq 512 --repeats 1 --threads 2"})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--model", defaultValue = "../shared/models/stories260K/stories260K.bin", paramLabel = "<dir|file>",
            description = "Small real model to time end to end (default: ${DEFAULT-VALUE}).")
    Path model;

    @Option(names = "--seq", defaultValue = "2048", description = "Sequence length of the synthetic layer (default: ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--gemm-sizes", split = ",", defaultValue = "1024,2048,4096", paramLabel = "n",
            description = "Square f32 GEMM sizes to time (default: ${DEFAULT-VALUE}).")
    List<Integer> gemmSizes;

    @Option(names = "--solvers", split = ",", paramLabel = "out x in",
            description = "Also time SparseGPT (50 %) and ALPS (70 %) on synthetic layers of these shapes with 16×2048 tokens, "
                    + "e.g. 4096x4096,11008x4096,4096x11008 (default: none; minutes each).")
    List<String> solverShapes = List.of();

    @Option(names = "--repeats", defaultValue = "3", description = "Timed repetitions after one warm-up; the best is reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (seq < 1 || repeats < 1) {
            throw new IllegalArgumentException("--seq and --repeats must be at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "%d threads; OpenBLAS %s%n", common.threadCount(), OpenBlas.available() ? OpenBlas.get().config() : "not loaded");
        out.printf(Locale.ROOT, "%-22s %6s %10s %10s %14s%n", "gemm (f32, n×n·n×n)", "n", "seconds", "GFLOP/s", "vs OpenBLAS");
        List<GemmBenchmark.Result> gemm = new GemmBenchmark(common.threadCount(), 10, repeats).run(gemmSizes);
        for (GemmBenchmark.Result r : gemm) {
            double blas = gemm.stream().filter(b -> b.n() == r.n() && b.path().startsWith("openblas")).mapToDouble(GemmBenchmark.Result::gflops)
                    .findFirst().orElse(Double.NaN);
            out.printf(Locale.ROOT, "%-22s %6d %10.4f %10.1f %13.0f%%%n", r.path(), r.n(), r.seconds(), r.gflops(), 100 * r.gflops() / blas);
        }
        out.flush();
        try (TensorOps ops = common.createOps()) {
            out.printf(Locale.ROOT, "backend %s%n", ops.name());
            out.printf(Locale.ROOT, "%-52s %8s %10s %12s %10s%n", "forward", "tokens", "seconds", "tokens/s", "GFLOP/s");
            try (LlamaModel m = ModelLoader.load(model, Arena.ofShared())) {
                int tokens = m.config().maxPositionEmbeddings();
                print(out, ForwardBenchmark.model("stories260K (real weights), whole model", m, ops, tokens, repeats));
            }
            print(out, ForwardBenchmark.syntheticLayer("LLaMA-7B-shaped decoder layer (synthetic weights)",
                    SyntheticModels.llama7b(1), ops, seq, repeats));
            if (!solverShapes.isEmpty()) {
                out.printf(Locale.ROOT, "%-34s %10s %10s %10s %10s%n", "solver (synthetic layer, 16×2048 tokens)", "gram s", "GFLOP/s",
                        "solve s", "GFLOP/s");
            }
            for (String text : solverShapes) {
                LinearShape shape = parseShape(text);
                SparseGptBenchmark.LayerResult s = SparseGptBenchmark.layer(shape, ops, 1);
                out.printf(Locale.ROOT, "%-34s %10.3f %10.1f %10.3f %10.1f%n", "SparseGPT 50% " + shape, s.gram().seconds(),
                        s.gram().gflops(), s.solve().seconds(), s.solve().gflops());
                out.flush();
                AlpsBenchmark.Result a = AlpsBenchmark.run(shape, AlpsBenchmark.SPARSITY, AlpsBenchmark.SEQUENCES,
                        AlpsBenchmark.SEQUENCE_LENGTH, 1, ops);
                out.printf(Locale.ROOT, "%-34s %10.3f %10.1f %10.3f %10.1f  (%d ADMM iterations)%n", "ALPS 70% " + shape, a.gramSeconds(),
                        a.gramGflops(), a.solveSeconds(), a.solveGflops(), a.solve().iterations());
                out.flush();
            }
        }
        return 0;
    }

    private static LinearShape parseShape(String text) {
        String[] parts = text.trim().toLowerCase(Locale.ROOT).split("x");
        try {
            return new LinearShape(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--solvers takes shapes like 4096x4096 (out x in), got \"" + text + "\"");
        }
    }

    private static void print(PrintWriter out, ForwardBenchmark.Result r) {
        out.printf(Locale.ROOT, "%-52s %8d %10.3f %12.1f %10.1f%n", r.what(), r.tokens(), r.seconds(), r.tokensPerSecond(), r.gflops());
        out.flush();
    }
}
