package dev.espalier.engine.runtime;

import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.PruneMethods;
import dev.espalier.engine.generate.SelfCalibration;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.protocol.v1.ExportForm;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.engine.runtime.node.CancellationToken;
import dev.espalier.engine.runtime.node.EventSink;
import dev.espalier.engine.runtime.node.JobExecutor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.kernels.TensorOps;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.RunReport;
import com.google.protobuf.util.JsonFormat;
import dev.espalier.engine.io.AtomicFiles;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.ChildFailed;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Runs one pruning job (unstructured / N:M, or structured) through the actor pipeline: prepares the plan from the
 * {@link JobSpec}, runs a {@link PruneSupervisor} in its own actor system until it ends, and commits the run report.
 * The same code serves one-shot CLI runs, {@code espalier resume} and jobs of the node.
 */
public final class PruneJob implements JobExecutor {
    /** Largest default calibration sequence; longer contexts are sampled in windows of this many tokens. */
    static final int DEFAULT_MAX_SEQLEN = 2048;

    /**
     * Checks what can be checked before anything is written: the spec ({@link JobSpecs#validate}: method, pattern and
     * sparsity, calibration, devices, every setting), then what needs this build or the files: the devices' backend and
     * that the calibration file is readable text. Throws IllegalArgumentException / UnsupportedOperationException
     * naming the problem.
     */
    @Override
    public void validate(JobSpec spec) {
        JobSpecs.validate(spec);
        PruneMethods.layerMethod(spec, spec.getCalibration().equals(JobSpecs.SELF_CALIBRATION), null);
        DeviceSpec.of(spec.getDevicesList());
        if (!spec.getCalibration().equals(JobSpecs.SELF_CALIBRATION)) {
            TextCorpus.read(Path.of(spec.getCalibration()));
        }
    }

    /** The structured settings' export form: masked-dense, or compact (the default). */
    private static boolean maskedDense(JobSpec spec) {
        return spec.getStructured().getExport() == ExportForm.EXPORT_FORM_MASKED_DENSE;
    }

    @Override
    public void run(JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel) throws Exception {
        validate(spec);
        DeviceSpec devices = DeviceSpec.of(spec.getDevicesList());
        try (LlamaModel model = ModelLoader.load(Path.of(spec.getModel()), Arena.ofShared())) {
            Tokenizer tokenizer = JobInputs.tokenizer(spec);
            int seqlen = JobInputs.seqlen(spec, model.config(), DEFAULT_MAX_SEQLEN);
            int[][] calibration;
            int[][] scoringCalibration;
            if (spec.getCalibration().equals(JobSpecs.SELF_CALIBRATION)) {
                try (TensorOps generator = devices.createOps(0)) {
                    calibration = SelfCalibration.generate(model, generator, spec.getCalibrationSamples(), seqlen, spec.getSeed(),
                            tokenizer.bosId(), tokenizer.eosId(), (done, total) -> events.emit(JobEvent.newBuilder()
                                    .setProgress(Progress.newBuilder().setStage("generate-calibration").setDone(done).setTotal(total))));
                }
                scoringCalibration = SelfCalibration.randomTokens(model.config().vocabSize(), spec.getCalibrationSamples(), seqlen,
                        spec.getSeed(), tokenizer.bosId(), tokenizer.eosId());
            } else {
                calibration = JobInputs.sampleCalibration(spec, tokenizer, seqlen);
                scoringCalibration = calibration;
            }
            List<PrunePlan.EvalSet> evals = new ArrayList<>();
            for (String file : spec.getEvalDataList()) {
                evals.add(new PrunePlan.EvalSet(file, JobInputs.stream(file, tokenizer)));
            }
            PerplexityProtocol protocol = EvalProtocols.fromProto(spec.getEvalProtocol());
            IntFunction<TensorOps> ops = devices::createOps;
            LayerMethod method = PruneMethods.layerMethod(spec, spec.getCalibration().equals(JobSpecs.SELF_CALIBRATION), model.config());
            PrunePlan plan = new PrunePlan(model, method, calibration, scoringCalibration, evals, protocol, (int) spec.getEvalMaxTokens(), devices.count(), ops,
                    spec.getRuntime().hasWindow() ? spec.getRuntime().getWindow() : 4, spec.getRuntime().hasMaxRestarts() ? spec.getRuntime().getMaxRestarts() : 2,
                    new FaultInjector(spec.getRuntime().getDebugFailCall()), Path.of(spec.getOutput()), maskedDense(spec),
                    JobInputs.tokenizerFiles(spec));
            CrashPoints.reach("planned");
            PruneSupervisor.Outcome outcome = runSupervisor(plan, run, events, cancel, spec);
            switch (outcome) {
                case PruneSupervisor.Failed f -> throw new PipelineFailedException(f.message());
                case PruneSupervisor.Succeeded s -> {
                    RunReport report = report(spec, plan, run, s);
                    byte[] json = JsonFormat.printer().print(report).getBytes(StandardCharsets.UTF_8);
                    run.commitArtefact("report-json", "report.json", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(json)));
                    run.commitReport(report);
                }
            }
        }
    }

    private static PruneSupervisor.Outcome runSupervisor(PrunePlan plan, RunDirectory run, EventSink events, CancellationToken cancel,
                                                         JobSpec spec) throws Exception {
        CompletableFuture<PruneSupervisor.Outcome> result = new CompletableFuture<>();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(ctx -> {
            ActorRef<PruneSupervisor.Outcome> done = ctx.spawn(Behaviors.receiveMessage(o -> {
                result.complete(o);
                return Behaviors.stopped();
            }), "outcome");
            ActorRef<Object> supervisor = ctx.spawn(PruneSupervisor.create(plan, run, events, done), "supervisor");
            ctx.watch(supervisor);
            return Behaviors.receive(Void.class)
                    .onSignal(ChildFailed.class, failed -> {
                        result.completeExceptionally(failed.getCause());
                        return Behaviors.same();
                    })
                    .onSignal(Terminated.class, stopped -> {
                        result.completeExceptionally(new PipelineFailedException("the pruning supervisor stopped before the job ended"));
                        return Behaviors.same();
                    })
                    .build();
        }), "espalier-job");
        cancel.onCancel(() -> result.completeExceptionally(new java.util.concurrent.CancellationException(cancel.reason())));
        try {
            return result.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get();
        }
    }

    private static RunReport report(JobSpec spec, PrunePlan plan, RunDirectory run, PruneSupervisor.Succeeded s) {
        RunReport.Builder r = RunReport.newBuilder().setJobId(run.jobId()).setSpec(spec);
        long allZeros = 0;
        long allTotal = 0;
        for (var layer : s.layers().entrySet()) {
            var dims = s.prunedConfig().layer(layer.getKey());
            LayerReport.Builder lr = LayerReport.newBuilder().setLayer(layer.getKey()).setNumHeads(dims.numHeads())
                    .setNumKvHeads(dims.numKvHeads()).setIntermediateSize(dims.intermediateSize());
            for (var m : layer.getValue().entrySet()) {
                MatrixReport.Builder matrix = MatrixReport.newBuilder().setName(m.getKey().hfName()).setSparsity(m.getValue().sparsity());
                if (!Double.isNaN(m.getValue().relativeError())) {
                    matrix.setReconstructionError(m.getValue().relativeError());
                }
                lr.addMatrices(matrix);
                allZeros += m.getValue().zeros();
                allTotal += m.getValue().total();
            }
            r.addLayers(lr);
        }
        s.before().forEach(p -> r.addPerplexitiesBefore(EvalProtocols.toProto(p)));
        s.after().forEach(p -> r.addPerplexitiesAfter(EvalProtocols.toProto(p)));
        return r.setCalibration(spec.getCalibration()).setCalibrationSamples(plan.calibration().length)
                .setCalibrationSeqlen(plan.maxTokens()).setCalibrationTokens((long) plan.calibration().length * plan.maxTokens())
                .setAchievedSparsity(allTotal == 0 ? 0 : (double) allZeros / allTotal).build();
    }
}
