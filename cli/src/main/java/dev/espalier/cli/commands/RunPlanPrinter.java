package dev.espalier.cli.commands;

import dev.espalier.engine.bench.GemmBenchmark;
import dev.espalier.engine.job.RunPlan;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.protocol.v1.JobSpec;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** {@code prune --plan}: the run's estimated cost, with the GEMM rate measured here and now. */
final class RunPlanPrinter {
    private static final int GEMM_N = 2048;

    private RunPlanPrinter() {}

    static int print(JobSpec spec, long memoryBudget, PrintWriter out) {
        LlamaConfig config;
        try (LlamaModel model = ModelLoader.load(Path.of(spec.getModel()), Arena.ofShared())) { // mapped: reads headers
            config = model.config();
        }
        RunPlan plan =
                RunPlan.of(spec, config, memoryBudget, Runtime.getRuntime().maxMemory());
        DeviceSpec devices = DeviceSpec.of(spec.getDevicesList());
        int threads = devices.isCuda() ? devices.count() * devices.threadsPerDevice() : devices.threadsPerDevice();
        GemmBenchmark.Result rate = new GemmBenchmark(threads, 1, 3)
                .run(List.of(GEMM_N)).stream()
                        .filter(r -> r.path().equals(GemmBenchmark.Path.CPU_OPS.label()))
                        .findFirst()
                        .orElseThrow();
        out.printf(
                Locale.ROOT,
                "plan: %s on %s (%s, %d layers, hidden %d, %s); nothing is run%n",
                spec.getMethod().name().replace("PRUNE_METHOD_", "").toLowerCase(Locale.ROOT),
                spec.getModel(),
                config.modelType(),
                config.numLayers(),
                config.hiddenSize(),
                config.torchDtype());
        String source = String.format(Locale.ROOT, "f32 GEMM n=%d on %d thread(s), measured now", GEMM_N, threads);
        plan.describe(rate.gflops(), source).forEach(out::println);
        out.printf(
                Locale.ROOT,
                "plan_flops=%.4e bound_seconds=%.1f peak_memory_bytes=%d checkpoint_bytes=%d export_bytes=%d%n",
                plan.flops(),
                plan.boundSeconds(rate.gflops()),
                plan.peakMemoryBytes(),
                plan.checkpointBytes(),
                plan.exportBytes());
        out.flush();
        return 0;
    }
}
