package dev.espalier.cli.commands;

import dev.espalier.engine.bench.AlpsBenchmark;
import dev.espalier.engine.bench.CudaGemmBenchmark;
import dev.espalier.engine.bench.ForwardBenchmark;
import dev.espalier.engine.bench.GemmBenchmark;
import dev.espalier.engine.bench.LinearShape;
import dev.espalier.engine.bench.PolicyRolloutBenchmark;
import dev.espalier.engine.bench.RealShape;
import dev.espalier.engine.bench.SparseGptBenchmark;
import dev.espalier.engine.bench.SyntheticCheckpoints;
import dev.espalier.engine.bench.SyntheticModels;
import dev.espalier.engine.data.CalibrationSampler;
import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.Alps;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.OpenBlas;
import dev.espalier.kernels.cuda.CudaHost;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code espalier bench}: forward-pass throughput on stories260K and on one synthetic decoder layer with LLaMA-7B
 * shapes, next to the GEMM rate measured in the same run.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Measure forward tokens/s (stories260K and a synthetic LLaMA-7B-shaped layer) in one run.",
        footer = {
            "",
            "Examples:",
            "  ./espalier bench",
            "  ./espalier bench --seq 512 --repeats 1 --threads 2",
            "  ./espalier bench --structured 0.2,0.3,0.5 --layers 2 --seq 2048 --repeats 3",
            "  ./espalier bench --solvers 4096x4096,11008x4096 --repeats 1",
            "  ./espalier bench --policy-rollouts --calib ../shared/data/c4/c4_validation_2k.jsonl",
            "  ./espalier bench --export-synthetic out/llama2-7b-bf16",
            "  ./espalier bench --export-synthetic out/llama3-8b-2layers --shape llama3-8b --layers 2 --dtype bf16"
        })
public final class BenchCommand implements Callable<Integer> {

    @Option(
            names = "--model",
            defaultValue = "../shared/models/stories260K/stories260K.bin",
            paramLabel = "<dir|file>",
            description = "Small real model to time end to end (default: ${DEFAULT-VALUE}).")
    Path model;

    @Option(
            names = "--seq",
            defaultValue = "2048",
            description = "Sequence length of the synthetic layer (default: ${DEFAULT-VALUE}).")
    int seq;

    @Option(
            names = "--gemm-sizes",
            split = ",",
            defaultValue = "1024,2048,4096",
            paramLabel = "n",
            description = "Square f32 GEMM sizes to time (default: ${DEFAULT-VALUE}).")
    List<Integer> gemmSizes;

    @Option(
            names = "--solvers",
            split = ",",
            paramLabel = "out x in",
            description =
                    "Also time SparseGPT (50 %%) and ALPS (70 %%) on synthetic layers of these shapes with 16×2048 tokens, "
                            + "e.g. 4096x4096,11008x4096,4096x11008 (default: none; minutes each).")
    List<String> solverShapes = List.of();

    @Option(
            names = "--alps-ablation",
            description = "Instead of timing, trace ALPS on a real layer of --model (up_proj of layer 2, "
                    + "70 %%, 128 × 512 tokens of --calib): the ρ schedule against fixed ρ = 0.3 and ρ = 3.")
    boolean alpsAblation;

    @Option(
            names = "--calib",
            defaultValue = "../shared/data/c4/c4_validation_2k.jsonl",
            paramLabel = "<file>",
            description = "Calibration text for --alps-ablation (default: ${DEFAULT-VALUE}).")
    Path calib;

    @Option(
            names = "--export-synthetic",
            paramLabel = "<dir>",
            description = "Instead of timing, write a model of a real shape (--shape) with seeded random weights as a"
                    + " Hugging Face folder (sharded, --dtype, the Llama 2 tokenizer), one tensor in memory at a time,"
                    + " to measure pruning at real scale.")
    Path exportSynthetic;

    @Option(
            names = "--shape",
            defaultValue = "llama2-7b",
            paramLabel = "<name>",
            description = "Shape of --export-synthetic: llama2-7b, llama2-13b, llama3-8b (Llama 3.1: GQA, vocab 128256,"
                    + " llama3 RoPE scaling), mistral-7b (sliding window 4096), qwen2-7b (q/k/v biases)"
                    + " (default: ${DEFAULT-VALUE}).")
    String shape;

    @Option(
            names = "--dtype",
            defaultValue = "bf16",
            paramLabel = "<dtype>",
            description = "Weight dtype of --export-synthetic: bf16, f16 or f32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(
            names = "--max-shard-size",
            defaultValue = "5GB",
            paramLabel = "<size>",
            converter = ByteSizeConverter.class,
            description = "Shard size of --export-synthetic (default: ${DEFAULT-VALUE}).")
    long maxShardBytes;

    @Option(
            names = "--layers",
            paramLabel = "N",
            description = "Decoder layers of --export-synthetic (default: the real model's) and of the --structured"
                    + " synthetic stack (default: 1).")
    Integer layers;

    @Option(
            names = "--structured",
            split = ",",
            paramLabel = "s",
            description =
                    "Instead of the usual timings, compare prefill tokens/s of compact structurally pruned models that remove "
                            + "a fraction s of the key/value groups (with their query heads) and of the FFN channels of every layer against "
                            + "the dense model, on the decoder layers of --model (its context in tokens) and of a synthetic LLaMA-7B-shaped "
                            + "stack (--layers layers, --seq tokens), e.g. 0.2,0.3,0.5.")
    List<Double> structured = List.of();

    @Option(
            names = "--repeats",
            defaultValue = "3",
            description = "Timed repetitions after one warm-up; the best is reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(
            names = "--policy-rollouts",
            description =
                    "Instead of timing kernels, time policy-gradient rollouts through the layer "
                            + "pipeline on --model (calibration --calib, 4 sequences of 128 tokens per step, K = 2, 100 steps, best of --repeats) for 1 and 2 device "
                            + "workers and 1 to 8 rollout passes in flight; prints rollouts per second and the final state's hash.")
    boolean policyRollouts;

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
        if (alpsAblation) {
            return ablation(out);
        }
        if (!structured.isEmpty()) {
            return structured(out);
        }
        if (policyRollouts) {
            return policyRollouts(out);
        }
        if (exportSynthetic != null) {
            return exportSynthetic(out);
        }
        out.printf(
                Locale.ROOT,
                "%d threads; OpenBLAS %s%n",
                common.threadCount(),
                OpenBlas.available() ? OpenBlas.get().config() : "not loaded");
        out.printf(
                Locale.ROOT,
                "%-22s %6s %10s %10s %14s%n",
                "gemm (f32, n×n·n×n)",
                "n",
                "seconds",
                "GFLOP/s",
                "vs OpenBLAS");
        List<GemmBenchmark.Result> gemm = new GemmBenchmark(common.threadCount(), 10, repeats).run(gemmSizes);
        for (GemmBenchmark.Result r : gemm) {
            double blas = gemm.stream()
                    .filter(b -> b.n() == r.n() && b.path().startsWith("openblas"))
                    .mapToDouble(GemmBenchmark.Result::gflops)
                    .findFirst()
                    .orElse(Double.NaN);
            out.printf(
                    Locale.ROOT,
                    "%-22s %6d %10.4f %10.1f %13.0f%%%n",
                    r.path(),
                    r.n(),
                    r.seconds(),
                    r.gflops(),
                    100 * r.gflops() / blas);
        }
        printCudaGemm(out, gemmSizes);
        out.flush();
        try (TensorOps ops = common.createOps()) {
            out.printf(Locale.ROOT, "backend %s%n", ops.name());
            out.printf(
                    Locale.ROOT, "%-52s %8s %10s %12s %10s%n", "forward", "tokens", "seconds", "tokens/s", "GFLOP/s");
            try (LlamaModel m = ModelLoader.load(model, Arena.ofShared())) {
                int tokens = m.config().maxPositionEmbeddings();
                print(out, ForwardBenchmark.model("stories260K (real weights), whole model", m, ops, tokens, repeats));
            }
            print(
                    out,
                    ForwardBenchmark.syntheticLayer(
                            "LLaMA-7B-shaped decoder layer (synthetic weights)",
                            SyntheticModels.llama7b(1),
                            ops,
                            seq,
                            repeats));
            double gemmRate = dispatchRate(gemm);
            if (!solverShapes.isEmpty()) {
                out.printf(
                        Locale.ROOT,
                        "%-34s %10s %10s %10s %10s %9s%n",
                        "solver (synthetic layer, 16×2048 tokens)",
                        "gram s",
                        "GFLOP/s",
                        "solve s",
                        "GFLOP/s",
                        "vs GEMM");
            }
            for (String text : solverShapes) {
                LinearShape shape = parseShape(text);
                SparseGptBenchmark.LayerResult s = SparseGptBenchmark.layer(shape, ops, 1);
                out.printf(
                        Locale.ROOT,
                        "%-34s %10.3f %10.1f %10.3f %10.1f %8.0f%%  (factorisation %.3f s, sweep %.3f s)%n",
                        "SparseGPT 50% " + shape,
                        s.gram().seconds(),
                        s.gram().gflops(),
                        s.solve().seconds(),
                        s.solve().gflops(),
                        100 * s.solve().gflops() / gemmRate,
                        s.factorisation().seconds(),
                        s.sweep().seconds());
                out.flush();
                AlpsBenchmark.Result a = AlpsBenchmark.run(
                        shape, AlpsBenchmark.SPARSITY, AlpsBenchmark.SEQUENCES, AlpsBenchmark.SEQUENCE_LENGTH, 1, ops);
                out.printf(
                        Locale.ROOT,
                        "%-34s %10.3f %10.1f %10.3f %10.1f %8.0f%%  (%d ADMM iterations; eigen %.1f s, ADMM %.1f s,"
                                + " backsolve %.1f s)%n",
                        "ALPS 70% " + shape,
                        a.gramSeconds(),
                        a.gramGflops(),
                        a.solveSeconds(),
                        a.solveGflops(),
                        100 * a.solveGflops() / gemmRate,
                        a.solve().iterations(),
                        a.solve().timing().eigenSeconds(),
                        a.solve().timing().admmSeconds(),
                        a.solve().timing().backsolveSeconds());
                out.flush();
            }
        }
        return 0;
    }

    /**
     * The rate the solvers are compared with: the dispatched GEMM's best over the sizes measured in this run (what the
     * solvers' own GEMMs run on).
     */
    private static double dispatchRate(List<GemmBenchmark.Result> gemm) {
        return gemm.stream()
                .filter(r -> r.path().equals(GemmBenchmark.Path.CPU_OPS.label()))
                .mapToDouble(GemmBenchmark.Result::gflops)
                .max()
                .orElse(Double.NaN);
    }

    /** The --structured table: dense against compact decoder stacks, measured in alternation. */
    private int structured(PrintWriter out) {
        for (double s : structured) {
            if (!(s > 0 && s < 1)) {
                throw new IllegalArgumentException("--structured takes fractions strictly between 0 and 1, got " + s);
            }
        }
        try (TensorOps ops = common.createOps()) {
            int smallRepeats = Math.max(repeats, 20); // stories260K takes milliseconds: more rounds steady its numbers
            out.printf(
                    Locale.ROOT,
                    "backend %s, %d threads; prefill through the decoder layers only (embedding and head excluded); "
                            + "best of %d (stories260K) / %d (LLaMA-7B shapes) rounds, each running the dense and every compact stack%n",
                    ops.name(),
                    common.threadCount(),
                    smallRepeats,
                    repeats);
            out.printf(
                    Locale.ROOT,
                    "s: fraction of KV groups and FFN channels removed per layer; params-: share of prunable parameters removed; "
                            + "FLOPs: compact/dense; last column: speed-up ÷ (dense FLOPs / compact FLOPs)%n");
            out.printf(
                    Locale.ROOT,
                    "%-52s %5s %8s %7s %12s %14s %9s %11s%n",
                    "model",
                    "s",
                    "params-",
                    "FLOPs",
                    "dense tok/s",
                    "compact tok/s",
                    "speed-up",
                    "÷ FLOP cut");
            try (LlamaModel m = ModelLoader.load(model, Arena.ofShared())) {
                int tokens = m.config().maxPositionEmbeddings();
                printStructured(
                        out,
                        ForwardBenchmark.structured(
                                "stories260K (real weights), " + tokens + " tokens",
                                m.config(),
                                m.layers(),
                                structured,
                                ops,
                                tokens,
                                smallRepeats,
                                17));
            }
            int stack = layers == null ? 1 : layers;
            LlamaConfig shape = SyntheticModels.llama7b(stack);
            try (Arena arena = Arena.ofShared()) {
                printStructured(
                        out,
                        ForwardBenchmark.structured(
                                "LLaMA-7B shapes (synthetic), " + stack + " layer(s), " + seq + " tokens",
                                shape,
                                SyntheticModels.layers(arena, shape, 7),
                                structured,
                                ops,
                                seq,
                                repeats,
                                17));
            }
        }
        return 0;
    }

    private static void printStructured(PrintWriter out, List<ForwardBenchmark.StructuredResult> rows) {
        for (ForwardBenchmark.StructuredResult r : rows) {
            out.printf(
                    Locale.ROOT,
                    "%-52s %5.2f %7.1f%% %7.3f %12.1f %14.1f %8.2fx %11.2f%n",
                    r.what(),
                    r.removed(),
                    100 * r.paramsRemoved(),
                    r.flopsRatio(),
                    r.denseTokensPerSecond(),
                    r.compactTokensPerSecond(),
                    r.speedUp(),
                    r.speedUpPerFlopReduction());
        }
        out.flush();
    }

    /** Policy-gradient rollouts per second for 1 and 2 device workers and 1 to 8 passes in flight. */
    private int policyRollouts(PrintWriter out) {
        try (LlamaModel m = ModelLoader.load(model, Arena.ofShared())) {
            int[][][] batches = PolicyRolloutBenchmark.batches(TokenizerLoader.forModel(model), TextCorpus.read(calib));
            List<PolicyRolloutBenchmark.Row> rows = PolicyRolloutBenchmark.run(
                    m, batches, new int[] {1, 2}, new int[] {1, 2, 3, 4, 6, 8}, 100, repeats);
            out.printf(
                    Locale.ROOT,
                    "policy-gradient rollouts on %s: K = 2, 4 x 128 tokens per rollout, 100 steps, best of %d, %d cores%n",
                    model,
                    repeats,
                    Runtime.getRuntime().availableProcessors());
            out.printf(
                    Locale.ROOT,
                    "%8s %10s %10s %12s %14s %10s%n",
                    "devices",
                    "in-flight",
                    "seconds",
                    "rollouts/s",
                    "passes/s",
                    "state");
            for (var r : rows) {
                out.printf(
                        Locale.ROOT,
                        "%8d %10d %10.2f %12.1f %14.1f %10s%n",
                        r.devices(),
                        r.inFlight(),
                        r.seconds(),
                        r.rolloutsPerSecond(),
                        r.passes() / r.seconds(),
                        Integer.toHexString(r.stateHash()));
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return 0;
    }

    /** The ALPS ρ ablation on up_proj of layer 2 of the model, printed as one table per run. */
    /** {@code --export-synthetic}: a model of a real shape, written one tensor at a time. */
    private int exportSynthetic(PrintWriter out) {
        RealShape real;
        try {
            real = RealShape.of(shape);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--shape: " + e.getMessage());
        }
        DType weights = switch (dtype.trim().toLowerCase(Locale.ROOT)) {
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "float16" -> DType.F16;
            case "f32", "float32" -> DType.F32;
            default -> throw new IllegalArgumentException("--dtype must be bf16, f16 or f32, got '" + dtype + "'");
        };
        LlamaConfig config = real.config(layers == null ? real.layers() : layers, weights);
        Path tokenizer = model.toAbsolutePath()
                .getParent()
                .resolveSibling("llama2c-tokenizer-32000")
                .resolve("tokenizer.model");
        long start = System.nanoTime();
        SyntheticCheckpoints.write(
                config, exportSynthetic, TokenizerLoader.exportFiles(tokenizer), maxShardBytes, 7, false);
        out.printf(
                Locale.ROOT,
                "wrote %s in %.1f s: %s shapes, %d layer(s), %s, %.2f GB of synthetic weights (seeded random), tokenizer %s%n",
                exportSynthetic,
                (System.nanoTime() - start) / 1e9,
                real.label(),
                config.numLayers(),
                weights,
                SyntheticCheckpoints.bytes(config) / 1e9,
                tokenizer);
        return 0;
    }

    private int ablation(PrintWriter out) {
        try (TensorOps ops = common.createOps();
                LlamaModel m = ModelLoader.load(model, Arena.ofShared())) {
            Tokenizer tokenizer = TokenizerLoader.forModel(model);
            int[][] calibration = CalibrationSampler.sample(
                    tokenizer.encode(TextCorpus.read(calib), true),
                    128,
                    m.config().maxPositionEmbeddings(),
                    0,
                    tokenizer.bosId());
            AlpsBenchmark.LayerAblation ablation = AlpsBenchmark.upProjAblation(m, calibration, ops);
            out.printf(
                    Locale.ROOT,
                    "ALPS at 70 %% on layer %d up_proj %s of %s, %d calibration tokens%n",
                    ablation.layer(),
                    Arrays.toString(ablation.shape()),
                    model,
                    ablation.tokens());
            for (AlpsBenchmark.AblationRun run : ablation.runs()) {
                Alps.Result r = run.result();
                out.printf(
                        Locale.ROOT,
                        "%n%s: %d iterations, final rho %.4g, relative error after ADMM %.5f, after backsolve %.5f%n",
                        run.label(),
                        r.iterations(),
                        r.finalRho(),
                        r.admmObjective(),
                        r.objective());
                out.printf(Locale.ROOT, "%10s %12s %14s %16s%n", "iteration", "rho", "objective", "support changes");
                for (Alps.Iteration it : r.trace()) {
                    out.printf(
                            Locale.ROOT,
                            "%10d %12.4g %14.6f %16d%s%n",
                            it.iteration(),
                            it.rho(),
                            it.objective(),
                            it.supportChanges(),
                            it.restarted() ? "  (restart)" : "");
                }
            }
        }
        return 0;
    }

    private static LinearShape parseShape(String text) {
        String[] parts = text.trim().toLowerCase(Locale.ROOT).split("x");
        try {
            return new LinearShape(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(
                    "--solvers takes shapes like 4096x4096 (out x in), got \"" + text + "\"");
        }
    }

    private static void print(PrintWriter out, ForwardBenchmark.Result r) {
        out.printf(
                Locale.ROOT,
                "%-52s %8d %10.3f %12.1f %10.1f%n",
                r.what(),
                r.tokens(),
                r.seconds(),
                r.tokensPerSecond(),
                r.gflops());
        out.flush();
    }

    /** GEMM on cuda:0 beside the CPU rows, or the one line saying why there is none. */
    private static void printCudaGemm(PrintWriter out, List<Integer> sizes) {
        String reason = CudaHost.unavailableReason();
        if (reason != null) {
            out.printf(Locale.ROOT, "gemm on cuda: none (%s)%n", reason);
            return;
        }
        out.printf(Locale.ROOT, "gemm on %s%n", CudaHost.get().describe());
        for (CudaGemmBenchmark.Result r : CudaGemmBenchmark.run(0, sizes, 3, 10)) {
            out.println(r.format());
        }
    }
}
