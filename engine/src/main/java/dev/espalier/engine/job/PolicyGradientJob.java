package dev.espalier.engine.job;

import com.google.protobuf.util.JsonFormat;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.policy.LayerKeep;
import dev.espalier.engine.prune.policy.MetricInitialisation;
import dev.espalier.engine.prune.policy.PolicyGradientConfig;
import dev.espalier.engine.prune.policy.PolicyGradientPruner;
import dev.espalier.engine.prune.policy.PolicyState;
import dev.espalier.engine.prune.policy.ScoreFunction;
import dev.espalier.engine.prune.policy.ScoreMapping;
import dev.espalier.engine.report.WidthPlot;
import dev.espalier.engine.prune.policy.UnitLayout;
import dev.espalier.engine.prune.policy.WandaSpStatistics;
import dev.espalier.engine.prune.structured.GoaHeadScores;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.structured.StructuredMethod;
import dev.espalier.engine.prune.structured.LayerSurgery;
import dev.espalier.engine.job.CancellationToken;
import dev.espalier.engine.job.EventSink;
import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.RunReport;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Policy-gradient structural pruning as a job ({@code --method policy-gradient}): Wanda-sp initialisation from a dense
 * pass over the calibration sequences, then a {@link PolicyLearner} (rollouts through the layer pipeline on the
 * device workers) for {@code steps} steps with its state checkpointed into the run directory (artefact
 * {@value #CHECKPOINT}) every {@code checkpoint_every} steps and restored from there on resume, then the final top-k
 * per layer, compaction ({@link LayerSurgery#compact}), export and perplexity before and after.
 *
 * <p>Why not a phase of {@link PruneSupervisor}: that supervisor streams calibration batches once through per-layer
 * accumulate/solve stages and checkpoints layer by layer; the learner instead needs thousands of whole-model masked
 * passes of the dense weights and checkpoints one small state, and after it no calibration pass is left (compaction
 * is pure surgery). So the job runs its phases in order on one {@link DeviceSystem}: the Wanda-sp statistics
 * ({@link DeviceWorker.Observe}), the learner, then evaluation ({@link DeviceWorker.Evaluate}); every kernel call is
 * a device worker's.
 *
 * <p>Method options: {@code init} (wanda-sp, or goa), {@code steps} (1000: about 30 s on stories260K, 2 cores, 4 × 128 tokens per rollout), {@code rollouts_in_flight} (2),
 * {@code rollouts} (K, 2), {@code batch_size} (sequences per step, 4), {@code lr} (0.05: the official 2e-3 is for
 * 15 000 steps), {@code checkpoint_every} (20). The keep ratio of heads and of channels is 1 − sparsity.
 */
public final class PolicyGradientJob implements JobExecutor {
    /** Name of the learner's checkpoint artefact in the run directory. */
    public static final String CHECKPOINT = "policy-checkpoint";
    /** Name of the loss-curve artefact (CSV: step, mean loss, baseline, valid rollouts, learning rates). */
    public static final String LOSSES = "policy-losses";
    /** Name of the loss-curve plot artefact (PNG). */
    public static final String LOSS_PLOT = "policy-loss-plot";
    static final String LOSSES_HEADER = "step,mean_loss,baseline,valid_rollouts,head_lr,channel_lr\n";
    static final int DEFAULT_SEQLEN = 128;

    /**
     * The job's policy-gradient settings (validated by JobSpecs; unset fields take the defaults): {@code init}
     * (wanda-sp or goa), the learner's settings ({@code steps}, {@code rollouts}, {@code lr}; {@code score=official} —
     * the official code's (m − s)/sqrt(s(1 − s)) — or {@code reinforce} — the textbook (m − s)/(s(1 − s));
     * {@code layer_sparsity} &gt; 0 adds a keep-probability per decoder layer, the paper's layer granularity, with that
     * fraction of layers removed), and how the learner runs ({@code batch_size}, {@code rollouts_in_flight},
     * {@code checkpoint_every}).
     */
    record Settings(String init, PolicyGradientConfig config, boolean layerUnits, int batchSize, int rolloutsInFlight, int checkpointEvery) {

        static Settings of(JobSpec spec) {
            PolicyGradientSettings o = spec.getPolicyGradient();
            String init = o.getInit() == PolicyGradientSettings.Init.INIT_GOA ? "goa" : "wanda-sp";
            double lr = o.hasLr() ? o.getLr() : 0.05;
            PolicyGradientConfig config = PolicyGradientConfig.official(o.hasSteps() ? o.getSteps() : 1000, 1 - spec.getSparsity(), lr)
                    .withRollouts(o.hasRollouts() ? o.getRollouts() : 2);
            if (o.getScore() == PolicyGradientSettings.Score.SCORE_REINFORCE) {
                config = config.withScoreFunction(ScoreFunction.REINFORCE);
            }
            double layerSparsity = o.hasLayerSparsity() ? o.getLayerSparsity() : 0;
            if (layerSparsity > 0) {
                config = config.withLayerKeepRatio(1 - layerSparsity, lr);
            }
            return new Settings(init, config, layerSparsity > 0, o.hasBatchSize() ? o.getBatchSize() : 4,
                    o.hasRolloutsInFlight() ? o.getRolloutsInFlight() : 2, o.hasCheckpointEvery() ? o.getCheckpointEvery() : 20);
        }
    }

    /** Checks the spec ({@link JobSpecs#validate}) and that this build has its devices; IllegalArgumentException naming the problem. */
    @Override
    public void validate(JobSpec spec) {
        JobSpecs.validate(spec);
        Settings.of(spec);
        DeviceSpec.of(spec.getDevicesList());
    }

    @Override
    public void run(JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel) throws Exception {
        validate(spec);
        DeviceSpec devices = DeviceSpec.of(spec.getDevicesList());
        try (LlamaModel model = ModelLoader.load(Path.of(spec.getModel()), Arena.ofShared())) {
            Tokenizer tokenizer = JobInputs.tokenizer(spec);
            int seqlen = JobInputs.seqlen(spec, model.config(), DEFAULT_SEQLEN);
            int[][] calibration = JobInputs.sampleCalibration(spec, tokenizer, seqlen);
            Settings settings = Settings.of(spec);
            try (DeviceSystem system = new DeviceSystem(model, devices, Math.max(seqlen, evalWindow(model, spec)))) {
                runOn(system, spec, run, events, cancel, model, tokenizer, seqlen, calibration, settings);
            }
        }
    }

    private static int evalWindow(LlamaModel model, JobSpec spec) {
        return spec.getEvalDataCount() == 0 ? 1 : EvalProtocols.fromProto(spec.getEvalProtocol()).window(model.config());
    }

    private void runOn(DeviceSystem system, JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel, LlamaModel model,
            Tokenizer tokenizer, int seqlen, int[][] calibration, Settings settings) throws Exception {
        PolicyGradientConfig config = settings.config();
        PolicyGradientPruner pruner = new PolicyGradientPruner(config, initialState(system, model, calibration, config, spec.getSeed(),
            settings.init(), settings.layerUnits()));
        if (run.hasArtefact(CHECKPOINT)) {
            pruner.restore(run.verifiedBytes(CHECKPOINT));
            events.emit(JobEvent.newBuilder().setProgress(Progress.newBuilder().setStage("policy-resume")
                    .setDone(pruner.state().step()).setTotal(config.steps())));
        }
        long start = pruner.state().step();
        List<String> earlier = new ArrayList<>(); // loss-curve rows of the steps before the checkpoint resumed from
        if (start > 0 && run.hasArtefact(LOSSES)) {
            for (String line : new String(run.verifiedBytes(LOSSES), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isEmpty() && Character.isDigit(line.charAt(0)) && Long.parseLong(line.substring(0, line.indexOf(','))) < start) {
                    earlier.add(line);
                }
            }
        }
        long t0 = System.nanoTime();
        PolicyLearner.Result result = learn(system, model, pruner, batches(calibration, settings.batchSize()),
                settings.rolloutsInFlight(), settings.checkpointEvery(), run, events,
                config.steps(), cancel, earlier);
        if (result instanceof PolicyLearner.LearningFailed f) {
            throw new PipelineFailedException(f.message());
        }
        PolicyLearner.Learned learned = (PolicyLearner.Learned) result;
        commitLosses(run, earlier, learned.steps());
        commitLossPlot(run);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long ran = config.steps() - start;
        PolicyGradientPruner.StepResult last = learned.steps().isEmpty() ? null : learned.steps().getLast();
        events.emit(JobEvent.newBuilder().setProgress(Progress.newBuilder().setStage(String.format(Locale.ROOT,
                "policy learned: %d steps in %.1f s (%.1f rollouts/s), last mean loss %s", ran, seconds,
                ran * config.rollouts() / Math.max(seconds, 1e-9), last == null ? "-" : String.format(Locale.ROOT, "%.4f", last.meanLoss())))
                .setDone(config.steps()).setTotal(config.steps())));

        LlamaModel pruned = compact(model, pruner.finalKeep());
        CrashPoints.reach("before-export");
        Map<Path, String> tokenizerFiles = JobInputs.tokenizerFiles(spec);
        ModelExporter.export(pruned, Path.of(spec.getOutput()), tokenizerFiles);
        RunReport.Builder report = RunReport.newBuilder().setJobId(run.jobId()).setSpec(spec);
        PerplexityProtocol protocol = EvalProtocols.fromProto(spec.getEvalProtocol());
        for (String file : spec.getEvalDataList()) {
            int[] stream = JobInputs.stream(file, tokenizer);
            report.addPerplexitiesBefore(EvalProtocols.toProto(evaluate(system, model, file, stream, protocol, spec)));
            report.addPerplexitiesAfter(EvalProtocols.toProto(evaluate(system, pruned, file, stream, protocol, spec)));
        }
        long denseElements = 0;
        long prunedElements = 0;
        for (int l = 0; l < pruned.config().numLayers(); l++) {
            LlamaConfig.LayerDims d = pruned.config().layer(l);
            LayerReport.Builder layer = LayerReport.newBuilder().setLayer(l).setNumHeads(d.numHeads()).setNumKvHeads(d.numKvHeads())
                    .setIntermediateSize(d.intermediateSize());
            long layerDense = 0;
            long layerKept = 0;
            for (LinearModule m : LinearModule.values()) {
                long dense = (long) m.weight(model.layer(l)).rows() * m.weight(model.layer(l)).cols();
                long kept = (long) m.weight(pruned.layer(l)).rows() * m.weight(pruned.layer(l)).cols();
                denseElements += dense;
                prunedElements += kept;
                layerDense += dense;
                layerKept += kept;
                layer.addMatrices(MatrixReport.newBuilder().setName(m.hfName()).setSparsity(1 - (double) kept / dense));
            }
            report.addLayers(layer);
            events.emit(JobEvent.newBuilder().setLayerPruned(dev.espalier.protocol.v1.LayerPruned.newBuilder().setLayer(l)
                    .setSparsity(1 - (double) layerKept / layerDense)
                    .setSeconds((System.nanoTime() - t0) / 1e9)));
        }
        double achieved = 1 - (double) prunedElements / denseElements; // over the decoder layers' matrices
        RunReport r = report.setCalibration(spec.getCalibration()).setCalibrationSamples(calibration.length)
                .setCalibrationSeqlen(seqlen).setCalibrationTokens((long) calibration.length * seqlen).setAchievedSparsity(achieved).build();
        byte[] json = JsonFormat.printer().print(r).getBytes(StandardCharsets.UTF_8);
        run.commitArtefact("report-json", "report.json", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(json)));
        run.commitReport(r);
    }

    /** Wanda-sp + sigmap initialisation from one dense pass over the calibration sequences. */
    static PolicyState initialState(DeviceSystem system, LlamaModel model, int[][] calibration, PolicyGradientConfig config, long seed,
            String init, boolean layerUnits) throws Exception {
        UnitLayout layout = UnitLayout.of(model.config(), layerUnits);
        if (init.equals("goa")) {
            return MetricInitialisation.fromScores(layout, seed, goaScores(system, model, calibration),
                    ScoreMapping.SIGMAP, config.headKeepRatio(), config.channelKeepRatio(), config.layerKeepRatio());
        }
        WandaSpStatistics stats = new WandaSpStatistics(model.config());
        system.call(0, replyTo -> new DeviceWorker.Observe(model, calibration, stats, replyTo));
        return MetricInitialisation.fromScores(layout, seed, stats.scores(model), ScoreMapping.SIGMAP,
                config.headKeepRatio(), config.channelKeepRatio(), config.layerKeepRatio());
    }

    static int[][][] batches(int[][] calibration, int batchSize) {
        int n = Math.max(1, calibration.length / batchSize);
        int[][][] batches = new int[n][][];
        for (int b = 0; b < n; b++) {
            int from = b * batchSize;
            batches[b] = java.util.Arrays.copyOfRange(calibration, from, Math.min(calibration.length, from + batchSize));
        }
        return batches;
    }

    /**
     * The greedy-output-approximation scores of the dense model: its layers opened as GOA's layer work on worker 0 and
     * the calibration sequences run through their scoring pass (the structured methods' own scoring code), then each
     * layer's {@link LayerScores}; query-head scores are summed per key/value group.
     */
    static MetricInitialisation.UnitScores goaScores(DeviceSystem system, LlamaModel model, int[][] calibration) throws Exception {
        LlamaConfig config = model.config();
        StructuredMethod goa = StructuredMethod.of(StructuredMethod.Kind.GOA, config, 0.5, StructuredSettings.newBuilder().setRecovery(false).build());
        for (int l = 0; l < config.numLayers(); l++) {
            int layer = l;
            system.call(0, replyTo -> new DeviceWorker.OpenLayer(0, layer, model.layer(layer), model.layer(layer), false, goa, replyTo));
        }
        IdSource ids = new IdSource(1);
        for (int b = 0; b < calibration.length; b++) {
            ActivationRef embedded = new ActivationRef(ids.next(), 0, 0, b);
            int[] tokens = calibration[b];
            system.call(0, replyTo -> new DeviceWorker.Embed(embedded, tokens, replyTo));
            ActivationRef in = embedded;
            for (int l = 0; l < config.numLayers(); l++) {
                int layer = l;
                ActivationRef input = in;
                ActivationRef out = new ActivationRef(ids.next(), 0, l + 1, b);
                system.call(0, replyTo -> new DeviceWorker.Score(layer, input, out, replyTo));
                system.tell(0, new DeviceWorker.Release(input));
                in = out;
            }
            system.tell(0, new DeviceWorker.Release(in));
        }
        double[][] heads = new double[config.numLayers()][];
        double[][] channels = new double[config.numLayers()][];
        for (int l = 0; l < config.numLayers(); l++) {
            int layer = l;
            LayerScores s = ((DeviceWorker.Scored) system.call(0, replyTo -> new DeviceWorker.ReportScores(layer, replyTo))).scores();
            system.tell(0, new DeviceWorker.CloseLayer(layer));
            LlamaConfig.LayerDims d = config.layer(l);
            heads[l] = s.heads().length == d.numKvHeads() ? s.heads() : GoaHeadScores.groupScores(s.heads(), d.numHeads() / d.numKvHeads());
            channels[l] = s.channels();
        }
        return MetricInitialisation.UnitScores.of(heads, channels);
    }

    /** Runs the learner over the system's device workers until every step has run. */
    static PolicyLearner.Result learn(DeviceSystem system, LlamaModel model, PolicyGradientPruner pruner, int[][][] batches, int inFlight,
            long checkpointEvery, RunDirectory run, EventSink events, long steps, CancellationToken cancel, List<String> earlierLosses)
            throws Exception {
        PolicyLearner.Checkpointer checkpointer = (step, bytes, results) -> {
            if (run != null) {
                commitLosses(run, earlierLosses, results); // first, so the curve covers at least the checkpoint's steps
                run.commitArtefact(CHECKPOINT, "policy/checkpoint.bin", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(bytes)));
            }
            if (events != null) {
                events.emit(JobEvent.newBuilder().setProgress(Progress.newBuilder().setStage("policy-gradient").setDone(step).setTotal(steps)));
            }
            CrashPoints.reach("policy-checkpoint");
        };
        return system.learn(workers -> new PolicyLearner.Setup(pruner, model, batches, workers, inFlight, checkpointEvery, checkpointer,
                new IdSource(0)), cancel);
    }

    private static void commitLosses(RunDirectory run, List<String> earlier, List<PolicyGradientPruner.StepResult> results) {
        StringBuilder csv = new StringBuilder(LOSSES_HEADER);
        earlier.forEach(line -> csv.append(line).append('\n'));
        for (PolicyGradientPruner.StepResult r : results) {
            csv.append(String.format(Locale.ROOT, "%d,%.17g,%.17g,%d,%.6g,%.6g%n", r.step(), r.meanLoss(), r.baseline(), r.validRollouts(),
                    r.headLr(), r.channelLr()));
        }
        byte[] bytes = csv.toString().getBytes(StandardCharsets.UTF_8);
        run.commitArtefact(LOSSES, "policy/losses.csv", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /** The loss curve of {@link #commitLosses}'s CSV as a PNG (mean rollout loss and the moving-average baseline per step). */
    private static void commitLossPlot(RunDirectory run) {
        String[] lines = new String(run.verifiedBytes(LOSSES), StandardCharsets.UTF_8).split("\n");
        List<double[]> rows = new ArrayList<>();
        for (String line : lines) {
            if (!line.isEmpty() && Character.isDigit(line.charAt(0))) {
                String[] f = line.split(",");
                rows.add(new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])});
            }
        }
        double[] x = rows.stream().mapToDouble(r -> r[0]).toArray();
        List<WidthPlot.Series> series = List.of(new WidthPlot.Series("mean rollout loss", rows.stream().mapToDouble(r -> r[1]).toArray()),
                new WidthPlot.Series("baseline (moving average)", rows.stream().mapToDouble(r -> r[2]).toArray()));
        java.awt.image.BufferedImage image = WidthPlot.renderLines("policy-gradient pruning: calibration loss per step", "step",
                "cross-entropy (nats/token)", x, series);
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        try {
            javax.imageio.ImageIO.write(image, "png", png);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        run.commitArtefact(LOSS_PLOT, "policy/losses.png", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(png.toByteArray())));
    }

    /** The model with every layer compacted to the units {@code keep} names. */
    static LlamaModel compact(LlamaModel model, List<LayerKeep> keep) {
        LlamaConfig config = model.config();
        List<DecoderLayerWeights> layers = new ArrayList<>();
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        Arena arena = Arena.ofAuto();
        for (LayerKeep k : keep) {
            LlamaConfig.LayerDims d = config.layer(k.layer());
            KeptUnits kept = k.toKeptUnits(d.numHeads() / d.numKvHeads());
            layers.add(LayerSurgery.compact(model.layer(k.layer()), d, config.headDim(), kept, arena));
            dims.add(kept.dims(d));
        }
        return model.withLayers(config.withLayers(dims), layers);
    }

    private static PerplexityResult evaluate(DeviceSystem system, LlamaModel model, String file, int[] stream, PerplexityProtocol protocol,
            JobSpec spec) throws Exception {
        return ((DeviceWorker.Evaluated) system.call(0, replyTo -> new DeviceWorker.Evaluate(0, file, model, stream, protocol,
                (int) spec.getEvalMaxTokens(), replyTo))).result();
    }
}
