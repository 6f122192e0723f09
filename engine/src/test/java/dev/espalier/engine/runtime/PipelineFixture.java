package dev.espalier.engine.runtime;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.data.CalibrationSampler;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.prune.UnstructuredMethod;
import dev.espalier.engine.prune.SolveOrder;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.job.EventSink;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;

/** Runs the pruning pipeline on stories260K with small calibration, for the runtime tests. */
final class PipelineFixture {
    static final Path MODEL = SharedFiles.storiesBin();
    static final Path TOKENIZER = SharedFiles.path("models/stories260K/tok512.bin");

    private PipelineFixture() {}

    static int[][] calibration(int samples, int seqlen) {
        Tokenizer tokenizer = TokenizerLoader.load(TOKENIZER);
        int[] stream = tokenizer.encode(SharedFiles.text("data/tinystories/tinystories_val_sample.txt"), true);
        return CalibrationSampler.sample(stream, samples, seqlen, 0, tokenizer.bosId());
    }

    static PrunePlan plan(LlamaModel model, PruneMethod method, SparsityPattern pattern, double sparsity, int[][] calibration,
                          int devices, FaultInjector faults, Path output) {
        return plan(model, method, SolveOrder.SHARED, pattern, sparsity, calibration, devices, faults, output);
    }

    static PrunePlan plan(LlamaModel model, PruneMethod method, SolveOrder order, SparsityPattern pattern, double sparsity,
                          int[][] calibration, int devices, FaultInjector faults, Path output) {
        DeviceSpec spec = new DeviceSpec(devices, 1);
        return plan(model, new UnstructuredMethod(PruneMethods.linear(method, UnstructuredSettings.getDefaultInstance()), pattern, sparsity, order, true), calibration, devices,
                faults, output);
    }

    static PrunePlan plan(LlamaModel model, LayerMethod method, int[][] calibration, int devices, FaultInjector faults, Path output) {
        DeviceSpec spec = new DeviceSpec(devices, 1);
        return new PrunePlan(model, method, calibration, calibration, List.of(),
                PerplexityProtocol.STREAM, 0, devices, spec::createOps, 2, 2, faults, output, false, Map.of(TOKENIZER, "tokenizer.bin"));
    }

    /** Runs the plan to its end in a fresh run directory and returns the outcome. */
    static PruneSupervisor.Outcome run(ActorTestKit kit, PrunePlan plan, Path runDir) {
        JobSpec spec = JobSpec.newBuilder().setModel(MODEL.toString()).setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                .setOutput(plan.output().toString()).build();
        try (RunDirectory run = RunDirectory.create(runDir, "test-job", spec)) {
            TestProbe<PruneSupervisor.Outcome> done = kit.createTestProbe();
            kit.spawn(PruneSupervisor.create(plan, run, EventSink.of(run), done.ref()));
            return done.expectMessageClass(PruneSupervisor.Outcome.class, Duration.ofSeconds(120));
        }
    }

    static LlamaModel load() {
        return ModelLoader.load(MODEL, Arena.ofShared());
    }
}
