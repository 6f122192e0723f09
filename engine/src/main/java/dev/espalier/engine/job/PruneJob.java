package dev.espalier.engine.job;

import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.eval.zeroshot.TaskData;
import dev.espalier.engine.eval.zeroshot.TaskResult;
import dev.espalier.engine.generate.SelfCalibration;
import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.io.OutputFolder;
import dev.espalier.engine.io.PathLock;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LayerCheckpoint;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.structured.StructuredModels;
import dev.espalier.engine.runtime.DeviceWorker;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.FaultInjector;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.runtime.PruneSupervisor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.protocol.v1.DevicesAssigned;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.TaskAccuracy;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one job skeleton every method runs, from a {@link JobSpec} to a pruned model and its report: load the model
 * (memory-mapped, registered on the host by handle) → calibrate (token ids; data-free: text the model writes on a
 * device worker) → evaluate the dense model → the method's {@link MethodStep} (which leaves every pruned layer as a
 * checkpoint) → read the pruned model back from the checkpoints and export it → evaluate it → commit the report. It
 * runs on the job's thread (the node's slot, or the CLI's main thread) and waits for one phase at a time; every kernel
 * call is a device worker's, and the workers are the process's ({@link Devices}), shared with every other job. The
 * same code serves one-shot runs, {@code espalier resume} and the node's jobs; a resumed run skips what its run
 * directory holds and gives the same bytes.
 */
public final class PruneJob implements JobExecutor {
    private final Devices devices;
    private final MethodStep method;

    public PruneJob(Devices devices, MethodStep method) {
        this.devices = devices;
        this.method = method;
    }

    /** The spec and its method's settings and files ({@link JobExecutors#validate}). */
    @Override
    public void validate(JobSpec spec) {
        JobSpecs.validate(spec);
        method.validate(spec);
    }

    @Override
    public void run(JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel) throws Exception {
        validate(spec);
        Path output = Path.of(spec.getOutput());
        OutputFolder.checkReplaceable(
                output, run.jobId(), spec.getOverwriteOutput()); // refused before any work, not after it
        List<TaskData> tasks = ZeroShotScoring.load(spec.getZeroShot()); // a bad task file is refused before work too
        PhaseClock clock = new PhaseClock();
        Map<Integer, Double> layerSeconds = new ConcurrentHashMap<>(); // layers pruned by this process
        try (PathLock _ = PathLock.acquire(PathLock.siblingLockFile(output), "output " + output);
                LlamaModel model = ModelLoader.load(Path.of(spec.getModel()), Arena.ofShared())) {
            Tokenizer tokenizer = JobInputs.tokenizer(spec);
            int seqlen = JobInputs.seqlen(spec, model.config(), method.defaultSeqlen());
            PerplexityProtocol protocol = EvalProtocols.fromProto(spec.getEvalProtocol());
            int evalWindow = spec.getEvalDataCount() == 0 ? 1 : protocol.window(model.config(), spec.getEvalSeqlen());
            ModelRef dense = devices.models().register(run.jobId() + "/dense", model);
            try (Devices.JobDevices session = devices.open(
                            run.jobId(),
                            JobInputs.devices(spec),
                            dense,
                            Math.max(seqlen, evalWindow),
                            run,
                            JobSpecs.exportFormat(spec).dtypeFor(model.config()),
                            new FaultInjector(spec.getRuntime().getDebugFailCall()));
                    Devices.Listener<PruneSupervisor.Event> pipelineEvents = devices.listener(
                            run.jobId() + "-events", PruneSupervisor.Event.class, e -> emit(events, e, layerSeconds))) {
                events.emit(JobEvent.newBuilder()
                        .setDevicesAssigned(DevicesAssigned.newBuilder().addAllWorkers(session.names())));
                clock.start(PhaseClock.Phase.CALIBRATION);
                int[][] calibration;
                int[][] scoringCalibration;
                if (JobInputs.selfCalibration(spec)) {
                    events.emit(JobEvent.newBuilder()
                            .setProgress(Progress.newBuilder()
                                    .setStage("generate-calibration")
                                    .setTotal(spec.getCalibrationSamples())));
                    calibration = devices.call(
                                    session.workers().getFirst(),
                                    DeviceWorker.Generated.class,
                                    replyTo -> new DeviceWorker.Generate(
                                            session.session(),
                                            spec.getCalibrationSamples(),
                                            seqlen,
                                            spec.getSeed(),
                                            tokenizer.bosId(),
                                            tokenizer.eosId(),
                                            replyTo))
                            .join()
                            .sequences();
                    scoringCalibration = SelfCalibration.randomTokens(
                            model.config().vocabSize(),
                            spec.getCalibrationSamples(),
                            seqlen,
                            spec.getSeed(),
                            tokenizer.bosId(),
                            tokenizer.eosId());
                } else {
                    calibration = JobInputs.sampleCalibration(spec, tokenizer, seqlen);
                    scoringCalibration = calibration;
                }
                List<int[]> streams = new ArrayList<>();
                for (String file : spec.getEvalDataList()) {
                    streams.add(JobInputs.stream(file, JobInputs.evalRange(spec), tokenizer));
                }
                clock.start(PhaseClock.Phase.EVAL);
                List<PerplexityResult> before = evaluate(session, dense, spec, streams, protocol, "eval-before");
                List<TaskAccuracy> tasksBefore =
                        scoreTasks(session, dense, tokenizer, tasks, spec, events, "zeroshot-before");
                CrashPoints.reach("planned");
                cancel.throwIfCancelled();
                JobContext job = new JobContext(
                        spec,
                        run,
                        events,
                        cancel,
                        devices,
                        session,
                        model,
                        dense,
                        calibration,
                        scoringCalibration,
                        seqlen,
                        pipelineEvents.ref());
                clock.start(PhaseClock.Phase.PRUNE);
                Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes = method.run(job);
                cancel.throwIfCancelled();
                try (Arena prunedArena = Arena.ofShared()) {
                    LlamaModel pruned = fromCheckpoints(model, run, prunedArena);
                    CrashPoints.reach("before-export");
                    ModelExporter.export(
                            exportForm(spec, model, run, pruned, prunedArena),
                            Path.of(spec.getOutput()),
                            JobInputs.tokenizerFiles(spec),
                            run.jobId(),
                            spec.getOverwriteOutput(),
                            JobSpecs.exportFormat(spec));
                    CrashPoints.reach("after-export");
                    clock.start(PhaseClock.Phase.EVAL);
                    ModelRef prunedRef = devices.models().register(run.jobId() + "/pruned", pruned);
                    List<PerplexityResult> after;
                    List<TaskAccuracy> tasksAfter;
                    try {
                        after = evaluate(session, prunedRef, spec, streams, protocol, "eval-after");
                        tasksAfter = scoreTasks(session, prunedRef, tokenizer, tasks, spec, events, "zeroshot-after");
                    } finally {
                        devices.models().release(prunedRef);
                    }
                    clock.stop();
                    RunReport.Builder report = report(
                                    spec,
                                    run,
                                    calibration.length,
                                    seqlen,
                                    withResumedLayers(outcomes, model, pruned),
                                    layerSeconds,
                                    pruned.config(),
                                    before,
                                    after)
                            .addAllTasksBefore(tasksBefore)
                            .addAllTasksAfter(tasksAfter);
                    clock.recordInto(report);
                    report.setPeakSpilledBytes(devices.activations()
                                    .peakSpilledBytes(session.session().id()))
                            .setMemoryBudgetBytes(devices.activations().budgetBytes());
                    RunReportFiles.commit(run, report.build(), model.config());
                }
            } finally {
                devices.models().release(dense);
            }
        }
    }

    /** Perplexity of the host model {@code model} on every evaluation stream, on the job's first worker. */
    private List<PerplexityResult> evaluate(
            Devices.JobDevices session,
            ModelRef model,
            JobSpec spec,
            List<int[]> streams,
            PerplexityProtocol protocol,
            String stage) {
        List<PerplexityResult> results = new ArrayList<>();
        for (int i = 0; i < streams.size(); i++) {
            String file = spec.getEvalData(i);
            int[] stream = streams.get(i);
            results.add(devices.call(
                            session.workers().getFirst(),
                            DeviceWorker.Evaluated.class,
                            replyTo -> new DeviceWorker.Evaluate(
                                    session.session(),
                                    model,
                                    file,
                                    stream,
                                    protocol,
                                    spec.getEvalSeqlen(),
                                    (int) spec.getEvalMaxTokens(),
                                    replyTo))
                    .join()
                    .result());
        }
        return results;
    }

    /** The zero-shot accuracies of the host model {@code model} on {@code tasks}, spread over the job's workers. */
    private List<TaskAccuracy> scoreTasks(
            Devices.JobDevices session,
            ModelRef model,
            Tokenizer tokenizer,
            List<TaskData> tasks,
            JobSpec spec,
            EventSink events,
            String stage) {
        List<TaskAccuracy> results = new ArrayList<>();
        for (TaskResult r : ZeroShotScoring.score(
                devices,
                session,
                model,
                tokenizer,
                tasks,
                ZeroShotScoring.batchSize(spec.getZeroShot()),
                task -> (done, total) -> events.emit(JobEvent.newBuilder()
                        .setProgress(Progress.newBuilder()
                                .setStage(stage + ":" + task)
                                .setDone(done)
                                .setTotal(total))))) {
            results.add(ZeroShotScoring.toProto(r));
        }
        return results;
    }

    /** The dense model with every decoder layer as checkpointed: per-layer widths and bias flags from the layers' weights. */
    public static LlamaModel fromCheckpoints(LlamaModel dense, RunDirectory run, Arena arena) {
        List<DecoderLayerWeights> weights = new ArrayList<>();
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        LlamaConfig config = dense.config();
        for (int l = 0; l < config.numLayers(); l++) {
            DecoderLayerWeights w = LayerCheckpoint.readAsWritten(run.verifiedLayer(l), config, l, arena);
            weights.add(w);
            dims.add(LlamaConfig.LayerDims.of(w, config.headDim()));
        }
        return dense.withLayers(StructuredModels.withBiasesOf(config, dims, weights), weights);
    }

    /** What is exported: the pruned model, or for {@code export=masked-dense} its masked-dense form. */
    private static LlamaModel exportForm(
            JobSpec spec, LlamaModel dense, RunDirectory run, LlamaModel pruned, Arena arena) {
        if (!JobInputs.maskedDense(spec)) {
            return pruned;
        }
        List<KeptUnits> kept = new ArrayList<>();
        for (int l = 0; l < dense.config().numLayers(); l++) {
            kept.add(KeptUnits.fromMetadata(LayerCheckpoint.metadata(run.verifiedLayer(l))));
        }
        return StructuredModels.expand(pruned, dense.config(), kept, arena);
    }

    /** A pipeline event as the job's event: progress, or a pruned layer with its sparsity and summed reconstruction error. */
    private static void emit(EventSink events, PruneSupervisor.Event event, Map<Integer, Double> layerSeconds) {
        switch (event) {
            case PruneSupervisor.Progress p ->
                events.emit(JobEvent.newBuilder()
                        .setProgress(Progress.newBuilder()
                                .setStage(p.stage())
                                .setDone(p.done())
                                .setTotal(p.total())));
            case PruneSupervisor.LayerDone d -> {
                layerSeconds.put(d.layer(), d.seconds());
                long zeros = 0;
                long total = 0;
                double error = 0;
                boolean measured = false;
                for (LinearPruner.PruneOutcome o : d.outcomes().values()) {
                    zeros += o.zeros();
                    total += o.total();
                    if (!Double.isNaN(o.relativeError())) {
                        error += o.relativeError();
                        measured = true;
                    }
                }
                LayerPruned.Builder layer = LayerPruned.newBuilder()
                        .setLayer(d.layer())
                        .setSparsity(total == 0 ? 0 : (double) zeros / total)
                        .setSeconds(d.seconds());
                if (measured) {
                    layer.setReconstructionError(error);
                }
                events.emit(JobEvent.newBuilder().setLayerPruned(layer));
            }
        }
    }

    /**
     * {@code outcomes} (the layers pruned in this process) completed by the layers a resumed run found checkpointed,
     * measured on their checkpoints, so that the report covers every layer however often the run was interrupted.
     */
    private static Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> withResumedLayers(
            Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes, LlamaModel dense, LlamaModel pruned) {
        Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> all = new TreeMap<>(outcomes);
        for (int layer = 0; layer < dense.config().numLayers(); layer++) {
            if (!all.containsKey(layer)) {
                Map<LinearModule, LinearPruner.PruneOutcome> matrices = new EnumMap<>(LinearModule.class);
                for (LinearModule m : LinearModule.values()) {
                    matrices.put(
                            m, LinearPruner.outcomeOf(m.weight(dense.layer(layer)), m.weight(pruned.layer(layer))));
                }
                all.put(layer, matrices);
            }
        }
        return all;
    }

    static RunReport.Builder report(
            JobSpec spec,
            RunDirectory run,
            int samples,
            int seqlen,
            Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> layers,
            Map<Integer, Double> layerSeconds,
            LlamaConfig pruned,
            List<PerplexityResult> before,
            List<PerplexityResult> after) {
        RunReport.Builder r = RunReport.newBuilder().setJobId(run.jobId()).setSpec(spec);
        long allZeros = 0;
        long allTotal = 0;
        for (var layer : new TreeMap<>(layers).entrySet()) {
            var dims = pruned.layer(layer.getKey());
            LayerReport.Builder lr = LayerReport.newBuilder()
                    .setLayer(layer.getKey())
                    .setNumHeads(dims.numHeads())
                    .setNumKvHeads(dims.numKvHeads())
                    .setIntermediateSize(dims.intermediateSize())
                    .setSeconds(layerSeconds.getOrDefault(layer.getKey(), 0.0));
            long layerZeros = 0;
            long layerTotal = 0;
            for (var m : layer.getValue().entrySet()) {
                layerZeros += m.getValue().zeros();
                layerTotal += m.getValue().total();
                MatrixReport.Builder matrix = MatrixReport.newBuilder()
                        .setName(m.getKey().hfName())
                        .setSparsity(m.getValue().sparsity());
                if (!Double.isNaN(m.getValue().relativeError())) {
                    matrix.setReconstructionError(m.getValue().relativeError());
                }
                lr.addMatrices(matrix);
                allZeros += m.getValue().zeros();
                allTotal += m.getValue().total();
            }
            r.addLayers(lr.setSparsity(layerTotal == 0 ? 0 : (double) layerZeros / layerTotal));
        }
        before.forEach(p ->
                r.addPerplexitiesBefore(EvalProtocols.toProto(p).toBuilder().setRange(spec.getEvalRange())));
        after.forEach(
                p -> r.addPerplexitiesAfter(EvalProtocols.toProto(p).toBuilder().setRange(spec.getEvalRange())));
        return r.setCalibration(spec.getCalibration())
                .setCalibrationRange(spec.getCalibrationRange())
                .setCalibrationSamples(samples)
                .setCalibrationSeqlen(seqlen)
                .setCalibrationTokens((long) samples * seqlen)
                .setAchievedSparsity(allTotal == 0 ? 0 : (double) allZeros / allTotal);
    }
}
