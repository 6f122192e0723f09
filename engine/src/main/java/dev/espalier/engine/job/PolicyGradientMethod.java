package dev.espalier.engine.job;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.policy.LayerKeep;
import dev.espalier.engine.prune.policy.MetricInitialisation;
import dev.espalier.engine.prune.policy.PolicyGradientConfig;
import dev.espalier.engine.prune.policy.PolicyGradientPruner;
import dev.espalier.engine.prune.policy.PolicyState;
import dev.espalier.engine.prune.policy.ScoreFunction;
import dev.espalier.engine.prune.policy.ScoreMapping;
import dev.espalier.engine.prune.policy.UnitLayout;
import dev.espalier.engine.prune.structured.GoaHeadScores;
import dev.espalier.engine.prune.structured.MaskRecovery;
import dev.espalier.engine.prune.structured.RidgeRefit;
import dev.espalier.engine.prune.structured.StructuredMethod;
import dev.espalier.engine.report.WidthPlot;
import dev.espalier.engine.runtime.DeviceWorker;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.IdSource;
import dev.espalier.engine.runtime.PipelineFailedException;
import dev.espalier.engine.runtime.PolicyLearner;
import dev.espalier.engine.runtime.PruneSupervisor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.StructuredSettings;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * The method step of policy-gradient structural pruning ({@code --method policy-gradient}): the metric initialisation
 * (Wanda-sp unit scores from a dense pass on a device worker, or GOA's scores from the layer pipeline's own scoring
 * pass), then a {@link PolicyLearner} (rollouts through per-layer stages over the job's device workers, in the
 * process's actor system) for {@code steps} steps with its state checkpointed into the run directory (artefact
 * {@value #CHECKPOINT}) every {@code checkpoint_every} steps and restored from there on resume, then the final top-k
 * per layer: each layer is compacted to its kept units and checkpointed by a device worker, like every other method's
 * layers, and the job exports and evaluates the result. With {@code recovery}, the kept units stay exactly those and
 * each layer's remaining weights are refit against the dense model instead ({@link MaskRecovery}).
 *
 * <p>Settings: {@code init} (wanda-sp, goa, or for ablations random or uniform), {@code steps} (1000: about 30 s on stories260K, 2 cores, 4 × 128 tokens
 * per rollout), {@code rollouts_in_flight} (2), {@code rollouts} (K, 2), {@code batch_size} (sequences per step, 4),
 * {@code lr} (0.05: the official 2e-3 is for 15 000 steps), {@code checkpoint_every} (20); {@code preset=paper} makes
 * the unset ones the official scripts' (15 000 steps, lr 2e-3, 8 sequences per step). The keep ratio of heads and
 * of channels is 1 − sparsity, over all layers together ({@code layer_rates=global}, the paper's heterogeneous
 * widths) or within every layer ({@code layer_rates=uniform}, the ablation with fixed per-layer rates).
 */
public final class PolicyGradientMethod implements MethodStep {
    /** Name of the learner's checkpoint artefact in the run directory. */
    public static final String CHECKPOINT = "policy-checkpoint";
    /** Name of the loss-curve artefact (CSV: step, mean loss, baseline, valid rollouts, learning rates). */
    public static final String LOSSES = "policy-losses";
    /** Name of the loss-curve plot artefact (PNG). */
    public static final String LOSS_PLOT = "policy-loss-plot";
    /** The loss curve's file in the run directory. */
    static final String LOSS_PLOT_FILE = "policy/losses.png";

    static final String LOSSES_HEADER = "step,mean_loss,baseline,valid_rollouts,head_lr,channel_lr\n";
    static final int DEFAULT_SEQLEN = 128;
    /** The official scripts' steps (120 000 C4 sequences in batches of 8, one epoch), for {@code preset=paper}. */
    static final int PAPER_STEPS = 15_000;
    /** The official scripts' learning rate for LLaMA-2 7B (6e-3 for LLaMA-3 8B), for {@code preset=paper}. */
    static final double PAPER_LR = 2e-3;
    /** The official scripts' sequences per step, for {@code preset=paper}. */
    static final int PAPER_BATCH_SIZE = 8;

    record Settings(
            String init,
            PolicyGradientConfig config,
            boolean layerUnits,
            int batchSize,
            int rolloutsInFlight,
            int checkpointEvery,
            boolean recovery) {

        static Settings of(JobSpec spec) {
            PolicyGradientSettings o = spec.getPolicyGradient();
            String init = switch (o.getInit()) {
                case INIT_GOA -> "goa";
                case INIT_RANDOM -> "random";
                case INIT_UNIFORM -> "uniform";
                default -> "wanda-sp";
            };
            boolean paper = o.getPreset() == PolicyGradientSettings.Preset.PRESET_PAPER;
            double lr = o.hasLr() ? o.getLr() : paper ? PAPER_LR : 0.05;
            PolicyGradientConfig config = PolicyGradientConfig.official(
                            o.hasSteps() ? o.getSteps() : paper ? PAPER_STEPS : 1000, 1 - spec.getSparsity(), lr)
                    .withRollouts(o.hasRollouts() ? o.getRollouts() : 2)
                    .withUniformLayerRates(o.getLayerRates() == PolicyGradientSettings.LayerRates.LAYER_RATES_UNIFORM);
            if (o.getScore() == PolicyGradientSettings.Score.SCORE_REINFORCE) {
                config = config.withScoreFunction(ScoreFunction.REINFORCE);
            }
            double layerSparsity = o.hasLayerSparsity() ? o.getLayerSparsity() : 0;
            if (layerSparsity > 0) {
                config = config.withLayerKeepRatio(1 - layerSparsity, lr);
            }
            return new Settings(
                    init,
                    config,
                    layerSparsity > 0,
                    o.hasBatchSize() ? o.getBatchSize() : paper ? PAPER_BATCH_SIZE : 4,
                    o.hasRolloutsInFlight() ? o.getRolloutsInFlight() : 2,
                    o.hasCheckpointEvery() ? o.getCheckpointEvery() : 20,
                    o.hasRecovery() && o.getRecovery());
        }
    }

    /** The settings (the spec's checks ran in the skeleton). */
    @Override
    public void validate(JobSpec spec) {
        Settings.of(spec);
    }

    @Override
    public int defaultSeqlen() {
        return DEFAULT_SEQLEN;
    }

    @Override
    public Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> run(JobContext job) throws Exception {
        JobSpec spec = job.spec();
        RunDirectory run = job.run();
        Settings settings = Settings.of(spec);
        PolicyGradientConfig config = settings.config();
        PolicyGradientPruner pruner = new PolicyGradientPruner(config, initialState(job, config, settings));
        if (run.hasArtefact(CHECKPOINT)) {
            pruner.restore(run.verifiedBytes(CHECKPOINT));
            job.events()
                    .emit(JobEvent.newBuilder()
                            .setProgress(Progress.newBuilder()
                                    .setStage("policy-resume")
                                    .setDone(pruner.state().step())
                                    .setTotal(config.steps())));
        }
        long start = pruner.state().step();
        List<String> earlier = new ArrayList<>(); // loss-curve rows of the steps before the checkpoint resumed from
        if (start > 0 && run.hasArtefact(LOSSES)) {
            for (String line : new String(run.verifiedBytes(LOSSES), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isEmpty()
                        && Character.isDigit(line.charAt(0))
                        && Long.parseLong(line.substring(0, line.indexOf(','))) < start) {
                    earlier.add(line);
                }
            }
        }
        long t0 = System.nanoTime();
        PolicyLearner.Learned learned = learn(
                job.devices(),
                job.jobDevices(),
                job.model().config(),
                pruner,
                batches(job.calibration(), settings.batchSize()),
                settings.rolloutsInFlight(),
                settings.checkpointEvery(),
                run,
                job.events(),
                job.cancel(),
                earlier);
        commitLosses(run, earlier, learned.steps());
        commitLossPlot(run);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long ran = config.steps() - start;
        PolicyGradientPruner.StepResult last =
                learned.steps().isEmpty() ? null : learned.steps().getLast();
        job.events()
                .emit(JobEvent.newBuilder()
                        .setProgress(Progress.newBuilder()
                                .setStage(String.format(
                                        Locale.ROOT,
                                        "policy learned: %d steps in %.1f s (%.1f rollouts/s), last mean loss %s",
                                        ran,
                                        seconds,
                                        ran * config.rollouts() / Math.max(seconds, 1e-9),
                                        last == null ? "-" : String.format(Locale.ROOT, "%.4f", last.meanLoss())))
                                .setDone(config.steps())
                                .setTotal(config.steps())));
        return settings.recovery() ? recover(job, pruner.finalKeep()) : compact(job, pruner.finalKeep(), t0);
    }

    /**
     * With {@code recovery}: every layer keeps exactly the units {@code keep} names, and its modules are refit by the
     * structured methods' recovery phases ({@link MaskRecovery}) in the layer pipeline, beside the dense stream, which
     * checkpoints each layer (a resumed run loads the layers it already holds and recovers the rest).
     */
    private static Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> recover(
            JobContext job, List<LayerKeep> keep) throws Exception {
        LlamaConfig config = job.model().config();
        List<KeptUnits> kept = new ArrayList<>();
        for (LayerKeep k : keep) {
            LlamaConfig.LayerDims d = config.layer(k.layer());
            kept.add(k.toKeptUnits(d.numHeads() / d.numKvHeads()));
        }
        MaskRecovery method = new MaskRecovery("policy-gradient", config, kept, RidgeRefit.DEFAULT_RELATIVE_DAMPING);
        PruneSupervisor.Plan plan = new PruneSupervisor.Plan(
                job.jobDevices(),
                method,
                job.calibration(),
                job.calibration(),
                config.numLayers(),
                JobInputs.window(job.spec()),
                JobInputs.maxRestarts(job.spec()),
                job.run(),
                false,
                1);
        PruneSupervisor.Outcome outcome = Await.result(
                job.devices()
                        .run(
                                "policy-recovery",
                                PruneSupervisor.Outcome.class,
                                done -> PruneSupervisor.create(plan, job.pipelineEvents(), done)),
                job.cancel());
        return ((PruneSupervisor.Succeeded) outcome).layers();
    }

    /**
     * Every layer compacted to the units {@code keep} names and checkpointed by the job's workers (layers a resumed run
     * already holds are kept); the outcome of each matrix is its share of removed weights.
     */
    private static Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> compact(
            JobContext job, List<LayerKeep> keep, long t0) {
        LlamaConfig config = job.model().config();
        Devices.JobDevices devices = job.jobDevices();
        List<CompletableFuture<DeviceWorker.LayerCheckpointed>> written = new ArrayList<>();
        List<KeptUnits> kept = new ArrayList<>();
        for (LayerKeep k : keep) {
            LlamaConfig.LayerDims d = config.layer(k.layer());
            KeptUnits units = k.toKeptUnits(d.numHeads() / d.numKvHeads());
            kept.add(units);
            if (!job.run().isLayerCompleted(k.layer())) {
                written.add(job.devices()
                        .call(
                                devices.workers()
                                        .get(k.layer() % devices.workers().size()),
                                DeviceWorker.LayerCheckpointed.class,
                                replyTo ->
                                        new DeviceWorker.CompactLayer(devices.session(), k.layer(), units, replyTo)));
            }
        }
        CrashPoints.reach("policy-compacted");
        written.forEach(CompletableFuture::join);
        Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes = new TreeMap<>();
        for (int l = 0; l < config.numLayers(); l++) {
            LlamaConfig.LayerDims dense = config.layer(l);
            LlamaConfig.LayerDims pruned = kept.get(l).dims(dense);
            Map<LinearModule, LinearPruner.PruneOutcome> layer = new EnumMap<>(LinearModule.class);
            long layerDense = 0;
            long layerKept = 0;
            for (LinearModule m : LinearModule.values()) {
                long total = elements(m, config, dense);
                long left = elements(m, config, pruned);
                layer.put(m, new LinearPruner.PruneOutcome(total - left, total));
                layerDense += total;
                layerKept += left;
            }
            outcomes.put(l, layer);
            job.events()
                    .emit(JobEvent.newBuilder()
                            .setLayerPruned(LayerPruned.newBuilder()
                                    .setLayer(l)
                                    .setSparsity(1 - (double) layerKept / layerDense)
                                    .setSeconds((System.nanoTime() - t0) / 1e9)));
        }
        return outcomes;
    }

    /** Weights of matrix {@code m} in a layer of widths {@code d}. */
    private static long elements(LinearModule m, LlamaConfig c, LlamaConfig.LayerDims d) {
        long hidden = c.hiddenSize();
        return switch (m) {
            case Q, O -> hidden * d.numHeads() * c.headDim();
            case K, V -> hidden * d.numKvHeads() * c.headDim();
            case GATE, UP, DOWN -> hidden * d.intermediateSize();
        };
    }

    /**
     * The initial state: Wanda-sp, GOA or seeded random unit scores, sigmoid-mapped to the keep ratios, or every unit at
     * the keep ratio ({@code uniform}).
     */
    static PolicyState initialState(JobContext job, PolicyGradientConfig config, Settings settings) throws Exception {
        UnitLayout layout = UnitLayout.of(job.model().config(), settings.layerUnits());
        long seed = job.spec().getSeed();
        if (settings.init().equals("uniform")) {
            return PolicyState.uniform(
                    layout, seed, config.headKeepRatio(), config.channelKeepRatio(), config.layerKeepRatio());
        }
        MetricInitialisation.UnitScores scores = switch (settings.init()) {
            case "goa" -> goaScores(job);
            case "random" -> MetricInitialisation.randomScores(layout, seed);
            default -> wandaSpScores(job);
        };
        return MetricInitialisation.fromScores(
                layout,
                seed,
                scores,
                ScoreMapping.SIGMAP,
                config.headKeepRatio(),
                config.channelKeepRatio(),
                config.layerKeepRatio());
    }

    /** Wanda-sp scores from one dense pass over the calibration sequences, on the job's first worker. */
    private static MetricInitialisation.UnitScores wandaSpScores(JobContext job) {
        Devices.JobDevices devices = job.jobDevices();
        DeviceWorker.UnitsScored s = job.devices()
                .call(
                        devices.workers().getFirst(),
                        DeviceWorker.UnitsScored.class,
                        replyTo -> new DeviceWorker.ScoreUnits(devices.session(), job.calibration(), replyTo))
                .join();
        return MetricInitialisation.UnitScores.of(s.heads(), s.channels());
    }

    /**
     * The greedy-output-approximation scores of the dense model: the layer pipeline's scoring pass with GOA's layer work
     * (the structured methods' own scoring code, on the job's workers), then each layer's {@link LayerScores}; query-head
     * scores are summed per key/value group.
     */
    static MetricInitialisation.UnitScores goaScores(JobContext job) throws Exception {
        LlamaConfig config = job.model().config();
        StructuredMethod goa = StructuredMethod.of(
                StructuredMethod.Kind.GOA,
                config,
                0.5,
                StructuredSettings.newBuilder().setRecovery(false).build());
        PruneSupervisor.Plan plan = new PruneSupervisor.Plan(
                job.jobDevices(),
                goa,
                job.calibration(),
                job.calibration(),
                config.numLayers(),
                JobInputs.window(job.spec()),
                JobInputs.maxRestarts(job.spec()),
                job.run(),
                true,
                1);
        PruneSupervisor.ScoresReported reported = (PruneSupervisor.ScoresReported) Await.result(
                job.devices()
                        .run(
                                "goa-scores",
                                PruneSupervisor.Outcome.class,
                                done -> PruneSupervisor.create(plan, job.pipelineEvents(), done)),
                job.cancel());
        double[][] heads = new double[config.numLayers()][];
        double[][] channels = new double[config.numLayers()][];
        for (LayerScores s : reported.scores()) {
            LlamaConfig.LayerDims d = config.layer(s.layer());
            heads[s.layer()] = s.heads().length == d.numKvHeads()
                    ? s.heads()
                    : GoaHeadScores.groupScores(s.heads(), d.numHeads() / d.numKvHeads());
            channels[s.layer()] = s.channels();
        }
        return MetricInitialisation.UnitScores.of(heads, channels);
    }

    static int[][][] batches(int[][] calibration, int batchSize) {
        int n = Math.max(1, calibration.length / batchSize);
        int[][][] batches = new int[n][][];
        for (int b = 0; b < n; b++) {
            int from = b * batchSize;
            batches[b] = Arrays.copyOfRange(calibration, from, Math.min(calibration.length, from + batchSize));
        }
        return batches;
    }

    /**
     * Runs the learner over the job's device workers until every step has run; {@code run} (null: none) receives its
     * checkpoints and {@code events} (null: none) its progress.
     */
    public static PolicyLearner.Learned learn(
            Devices devices,
            Devices.JobDevices session,
            LlamaConfig config,
            PolicyGradientPruner pruner,
            int[][][] batches,
            int inFlight,
            long checkpointEvery,
            RunDirectory run,
            EventSink events,
            CancellationToken cancel,
            List<String> earlierLosses)
            throws Exception {
        long steps = pruner.config().steps();
        PolicyLearner.Checkpointer checkpointer = (step, bytes, results) -> {
            if (run != null) {
                commitLosses(run, earlierLosses, results); // first, so the curve covers at least the checkpoint's steps
                run.commitArtefact(
                        CHECKPOINT, "policy/checkpoint.bin", ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(bytes)));
            }
            if (events != null) {
                events.emit(JobEvent.newBuilder()
                        .setProgress(Progress.newBuilder()
                                .setStage("policy-gradient")
                                .setDone(step)
                                .setTotal(steps)));
            }
            CrashPoints.reach("policy-checkpoint");
        };
        PolicyLearner.Setup setup = new PolicyLearner.Setup(
                pruner,
                config,
                session.session(),
                batches,
                session.workers(),
                inFlight,
                checkpointEvery,
                checkpointer,
                new IdSource(0));
        PolicyLearner.Result result = Await.result(
                devices.run("policy-learner", PolicyLearner.Result.class, done -> PolicyLearner.create(setup, done)),
                cancel == null ? new CancellationToken() : cancel);
        if (result instanceof PolicyLearner.LearningFailed f) {
            throw new PipelineFailedException(f.message());
        }
        return (PolicyLearner.Learned) result;
    }

    private static void commitLosses(
            RunDirectory run, List<String> earlier, List<PolicyGradientPruner.StepResult> results) {
        StringBuilder csv = new StringBuilder(LOSSES_HEADER);
        earlier.forEach(line -> csv.append(line).append('\n'));
        for (PolicyGradientPruner.StepResult r : results) {
            csv.append(String.format(
                    Locale.ROOT,
                    "%d,%.17g,%.17g,%d,%.6g,%.6g%n",
                    r.step(),
                    r.meanLoss(),
                    r.baseline(),
                    r.validRollouts(),
                    r.headLr(),
                    r.channelLr()));
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
        List<WidthPlot.Series> series = List.of(
                new WidthPlot.Series(
                        "mean rollout loss",
                        rows.stream().mapToDouble(r -> r[1]).toArray()),
                new WidthPlot.Series(
                        "baseline (moving average)",
                        rows.stream().mapToDouble(r -> r[2]).toArray()));
        BufferedImage image = WidthPlot.renderLines(
                "policy-gradient pruning: calibration loss per step", "step", "cross-entropy (nats/token)", x, series);
        byte[] png = WidthPlot.png(image);
        run.commitArtefact(LOSS_PLOT, LOSS_PLOT_FILE, ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(png)));
    }
}
