package dev.espalier.engine.runtime;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.data.CalibrationSampler;
import dev.espalier.engine.job.PruneJob;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.SolveOrder;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.prune.UnstructuredMethod;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.kernels.DType;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs the pruning pipeline on stories260K with small calibration, for the runtime tests: on one process-wide set of
 * two single-threaded device workers ({@link #devices()}, started once), as the node and the CLI run it.
 */
final class PipelineFixture {
    static final Path MODEL = SharedFiles.storiesBin();
    static final Path TOKENIZER = SharedFiles.path("models/stories260K/tok512.bin");
    private static final AtomicLong JOBS = new AtomicLong();
    private static Devices devices;

    private PipelineFixture() {}

    /** The tests' device workers: two, one thread each (a job uses the first one or both). */
    static synchronized Devices devices() {
        if (devices == null) {
            devices = Devices.start(new DeviceSpec(2, 1));
            Runtime.getRuntime().addShutdownHook(new Thread(devices::close));
        }
        return devices;
    }

    static int[][] calibration(int samples, int seqlen) {
        Tokenizer tokenizer = TokenizerLoader.load(TOKENIZER);
        int[] stream = tokenizer.encode(SharedFiles.text("data/tinystories/tinystories_val_sample.txt"), true);
        return CalibrationSampler.sample(stream, samples, seqlen, 0, tokenizer.bosId());
    }

    /** One pipeline run: the dense model, the method, its calibration, how many workers, faults, where the export goes. */
    record Plan(
            LlamaModel model,
            LayerMethod method,
            int[][] calibration,
            int devices,
            FaultInjector faults,
            Path output) {}

    static Plan plan(
            LlamaModel model,
            PruneMethod method,
            SparsityPattern pattern,
            double sparsity,
            int[][] calibration,
            int devices,
            FaultInjector faults,
            Path output) {
        return plan(model, method, SolveOrder.SHARED, pattern, sparsity, calibration, devices, faults, output);
    }

    static Plan plan(
            LlamaModel model,
            PruneMethod method,
            SolveOrder order,
            SparsityPattern pattern,
            double sparsity,
            int[][] calibration,
            int devices,
            FaultInjector faults,
            Path output) {
        return plan(
                model,
                new UnstructuredMethod(
                        PruneMethods.linear(method, UnstructuredSettings.getDefaultInstance()),
                        pattern,
                        sparsity,
                        order,
                        true),
                calibration,
                devices,
                faults,
                output);
    }

    static Plan plan(
            LlamaModel model, LayerMethod method, int[][] calibration, int devices, FaultInjector faults, Path output) {
        return new Plan(model, method, calibration, devices, faults, output);
    }

    /**
     * Runs the plan's pipeline to its end in a fresh run directory, then exports the model its checkpoints hold to the
     * plan's output (as the job skeleton does); returns the outcome.
     */
    static PruneSupervisor.Outcome run(Plan plan, Path runDir) throws Exception {
        JobSpec spec = JobSpec.newBuilder()
                .setModel(MODEL.toString())
                .setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                .setOutput(plan.output().toString())
                .build();
        Devices d = devices();
        String job = "test-job-" + JOBS.incrementAndGet();
        ModelRef dense = d.models().register(job, plan.model());
        int maxTokens = 1;
        for (int[] s : plan.calibration()) {
            maxTokens = Math.max(maxTokens, s.length);
        }
        try (RunDirectory run = RunDirectory.create(runDir, job, spec);
                Devices.JobDevices session = d.open(
                        job, new DeviceSpec(plan.devices(), 1), dense, maxTokens, run, DType.F32, plan.faults());
                Devices.Listener<PruneSupervisor.Event> events =
                        d.listener(job + "-events", PruneSupervisor.Event.class, e -> {})) {
            PruneSupervisor.Plan pipeline = new PruneSupervisor.Plan(
                    session,
                    plan.method(),
                    plan.calibration(),
                    plan.calibration(),
                    plan.model().config().numLayers(),
                    2,
                    2,
                    run,
                    false,
                    1);
            PruneSupervisor.Outcome outcome = d.run(
                            "supervisor",
                            PruneSupervisor.Outcome.class,
                            done -> PruneSupervisor.create(pipeline, events.ref(), done))
                    .get(120, TimeUnit.SECONDS);
            try (Arena arena = Arena.ofShared()) {
                ModelExporter.export(
                        PruneJob.fromCheckpoints(plan.model(), run, arena),
                        plan.output(),
                        Map.of(TOKENIZER, "tokenizer.bin"),
                        job,
                        false);
            }
            return outcome;
        } finally {
            d.models().release(dense);
        }
    }

    static LlamaModel load() {
        return ModelLoader.load(MODEL, Arena.ofShared());
    }
}
