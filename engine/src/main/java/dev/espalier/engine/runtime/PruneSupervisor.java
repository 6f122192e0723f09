package dev.espalier.engine.runtime;

import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LayerCheckpoint;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.structured.StructuredModels;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.runtime.node.EventSink;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.kernels.TensorOps;
import dev.espalier.protocol.v1.JobEvent;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One pruning job: owns the device workers and one {@link LayerPruner} per decoder layer, feeds calibration batches
 * into layer 0 as demand allows, checkpoints every pruned layer to the run directory, restarts the pipeline from the
 * last checkpoint when a device call fails, and at the end has the pruned model exported and evaluated. Layers
 * already checkpointed (a resumed run) are loaded, not pruned again, so a resumed run gives the same weights.
 * Methods that allocate widths globally first run a scoring pass (the same stages over the dense model), then the
 * supervisor allocates every layer's widths and starts the pruning pass; the scoring pass is deterministic, so a
 * resumed run repeats it and gets the same allocation.
 */
public final class PruneSupervisor extends AbstractBehavior<Object> {

    /** How the job ended. */
    public sealed interface Outcome {}

    /** {@code model}: the pruned model (its config gives each layer's widths); valid until the job's actor system ends. */
    public record Succeeded(List<PerplexityResult> before, List<PerplexityResult> after,
                            Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> layers, LlamaConfig prunedConfig,
                            int restarts) implements Outcome {}

    public record Failed(String message) implements Outcome {}

    private record WorkerReply(DeviceWorker.Reply reply) {}

    private record SourceDemand(int batches) {}

    public static Behavior<Object> create(PrunePlan plan, RunDirectory run, EventSink events, ActorRef<Outcome> done) {
        return Behaviors.setup(ctx -> new PruneSupervisor(ctx, plan, run, events, done));
    }

    private final PrunePlan plan;
    private final RunDirectory run;
    private final EventSink events;
    private final ActorRef<Outcome> done;
    private final ActorRef<DeviceWorker.Reply> replies;
    private final int layers;
    private final List<TensorOps> ops = new ArrayList<>();
    private final List<PerplexityResult> before = new ArrayList<>();
    private final List<PerplexityResult> after = new ArrayList<>();
    private final Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes = new java.util.TreeMap<>();
    private final long startNanos = System.nanoTime();
    private final List<ActorRef<LayerPruner.Command>> stages = new ArrayList<>(); // this generation's, layer 0 first

    private int generation;
    private int restarts;
    private HostActivationStore store;
    private Arena checkpointArena;
    private List<ActorRef<DeviceWorker.Command>> workers = List.of();
    private LayerWork[] opened; // per layer: the home worker's work (its weights are the pruned layer once pruned)
    private KeptUnits[] kept; // structured methods: per layer, the dense units its pruned weights keep
    private int openedCount;
    private final List<LayerScores> scores = new ArrayList<>();
    private final Map<Integer, ActivationRef> firstOfPair = new java.util.HashMap<>(); // dense stream: batch -> first embedding
    private IdSource ids;
    private int sourceCredit;
    private int nextBatch;
    private int streamedLayers;
    private Phase phase = Phase.EVAL_BEFORE;

    private enum Phase { EVAL_BEFORE, OPENING, SCORING, PRUNING, EVAL_AFTER, DONE }

    private PruneSupervisor(ActorContext<Object> context, PrunePlan plan, RunDirectory run, EventSink events, ActorRef<Outcome> done) {
        super(context);
        this.plan = plan;
        this.run = run;
        this.events = events;
        this.done = done;
        this.layers = plan.model().config().numLayers();
        this.replies = context.messageAdapter(DeviceWorker.Reply.class, WorkerReply::new);
        for (int d = 0; d < plan.devices(); d++) {
            ops.add(plan.opsForDevice().apply(d));
        }
        startGeneration();
        evaluateNext(plan.model(), before);
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessage(WorkerReply.class, this::onWorkerReply)
                .onMessage(SourceDemand.class, this::onSourceDemand)
                .onMessage(LayerPruner.LayerPruned.class, this::onLayerPruned)
                .onMessage(LayerPruner.LayerScored.class, this::onLayerScored)
                .onMessage(LayerPruner.LayerStreamed.class, this::onLayerStreamed)
                .onMessage(LayerPruner.StageFailed.class, this::onStageFailed)
                .onSignal(PostStop.class, signal -> onStop())
                .build();
    }

    /** Spawns this generation's device workers (a new generation after each restart). */
    private void startGeneration() {
        generation++;
        store = new HostActivationStore();
        checkpointArena = Arena.ofShared();
        ids = new IdSource(generation);
        List<ActorRef<DeviceWorker.Command>> spawned = new ArrayList<>();
        for (int d = 0; d < plan.devices(); d++) {
            DeviceWorker.Device device = new DeviceWorker.Device(generation, d, ops.get(d), plan.model().config(), plan.model().embedTokens(),
                    plan.maxTokens(), store, plan.faults());
            spawned.add(getContext().spawn(DeviceWorker.create(device), "device-" + d + "-g" + generation,
                    DispatcherSelector.fromConfig("espalier.device-dispatcher")));
        }
        workers = spawned;
    }

    private void evaluateNext(LlamaModel model, List<PerplexityResult> into) {
        int i = into.size();
        if (i < plan.evals().size()) {
            PrunePlan.EvalSet set = plan.evals().get(i);
            progress(into == before ? "eval-before" : "eval-after", i, plan.evals().size());
            workers.getFirst().tell(new DeviceWorker.Evaluate(generation, set.dataset(), model, set.stream(), plan.protocol(),
                    plan.evalMaxTokens(), replies));
        } else if (into == before) {
            openLayers();
        } else {
            finish();
        }
    }

    /** Opens every layer on its home worker, from its checkpoint when the run already has one. */
    private void openLayers() {
        phase = Phase.OPENING;
        getContext().getLog().info("{}: {} on {} device(s), {} calibration sequences of {} tokens; {} of {} layers checkpointed",
                run.jobId(), plan.method().describe(), plan.devices(), plan.calibration().length, plan.maxTokens(), completedLayers(), layers);
        opened = new LayerWork[layers];
        kept = new KeptUnits[layers];
        openedCount = 0;
        for (int l = 0; l < layers; l++) {
            boolean completed = run.isLayerCompleted(l);
            if (completed) {
                kept[l] = KeptUnits.fromMetadata(LayerCheckpoint.metadata(run.verifiedLayer(l)));
            }
            DecoderLayerWeights source = completed
                    ? LayerCheckpoint.readAsWritten(run.verifiedLayer(l), plan.model().config(), l, checkpointArena)
                    : plan.model().layer(l);
            workers.get(home(l)).tell(new DeviceWorker.OpenLayer(generation, l, plan.model().layer(l), source, completed, plan.method(),
                    replies));
        }
    }

    /**
     * Spawns the stages from layer 0 down; each asks its upstream (layer 0: this supervisor) for batches. The scoring
     * pass runs the dense model; the pruning pass follows it (or comes first, for methods without one).
     */
    private void startPipeline(boolean scoring) {
        phase = scoring ? Phase.SCORING : Phase.PRUNING;
        streamedLayers = 0;
        sourceCredit = 0;
        nextBatch = 0;
        firstOfPair.clear();
        stages.forEach(getContext()::stop);
        stages.clear();
        ActorRef<LayerPruner.Demand> upstream = getContext().messageAdapter(LayerPruner.Demand.class, d -> new SourceDemand(d.batches()));
        for (int l = 0; l < layers; l++) {
            LayerPruner.Wiring wiring = new LayerPruner.Wiring(generation, l, l == layers - 1, run.isLayerCompleted(l), home(l), workers,
                    upstream, plan.window(), plan.method().phases(), scoring, getContext().getSelf(), ids);
            ActorRef<LayerPruner.Command> stage = getContext().spawn(LayerPruner.create(wiring),
                    (scoring ? "score-" : "layer-") + l + "-g" + generation);
            stages.add(stage);
            upstream = stage.narrow();
        }
        progress(scoring ? "score" : "prune", scoring ? 0 : completedLayers(), layers);
    }

    private int[][] sequences() {
        return phase == Phase.SCORING ? plan.scoringCalibration() : plan.calibration();
    }

    /** Whether pruning-pass batches carry the dense model's activations beside the pruned ones. */
    private boolean pairs() {
        return phase == Phase.PRUNING && plan.method().usesDenseStream();
    }

    private Behavior<Object> onSourceDemand(SourceDemand m) {
        sourceCredit += m.batches();
        feed();
        return this;
    }

    /** Embeds the next calibration batches, as many as layer 0 asked for. */
    private void feed() {
        int[][] sequences = sequences();
        while (sourceCredit > 0 && nextBatch < sequences.length) {
            sourceCredit--;
            int batch = nextBatch++;
            ActivationRef ref = new ActivationRef(ids.next(), home(0), 0, batch);
            workers.get(home(0)).tell(new DeviceWorker.Embed(ref, sequences[batch], replies));
            if (pairs()) {
                ActivationRef dense = new ActivationRef(ids.next(), home(0), 0, batch);
                workers.get(home(0)).tell(new DeviceWorker.Embed(dense, sequences[batch], replies));
            }
        }
    }

    private Behavior<Object> onWorkerReply(WorkerReply m) {
        switch (m.reply()) {
            case DeviceWorker.Evaluated e when e.generation() == generation -> {
                getContext().getLog().info("{}: {} perplexity {}", run.jobId(), phase == Phase.EVAL_BEFORE ? "dense" : "pruned",
                        e.result().summaryLine());
                List<PerplexityResult> into = phase == Phase.EVAL_BEFORE ? before : after;
                into.add(e.result());
                evaluateNext(phase == Phase.EVAL_BEFORE ? plan.model() : prunedModel(), into);
            }
            case DeviceWorker.LayerOpened o when o.generation() == generation && phase == Phase.OPENING -> {
                opened[o.layer()] = o.work();
                if (++openedCount == layers) {
                    checkpointArena.close(); // the workers hold copies of any checkpointed layer now
                    startPipeline(plan.method().scoresGlobally());
                }
            }
            case DeviceWorker.Stored s when (phase == Phase.PRUNING || phase == Phase.SCORING)
                    && IdSource.generationOf(s.ref().id()) == generation -> onEmbedded(s.ref());
            case DeviceWorker.CallFailed f when f.generation() == generation -> onFailure("device call " + f.call() + " failed: " + f.message());
            default -> getContext().getLog().debug("ignoring stale reply {}", m.reply());
        }
        return this;
    }

    /** Hands an embedded batch (both of its embeddings, with a dense stream) to layer 0. */
    private void onEmbedded(ActivationRef ref) {
        LayerPruner.Batch batch;
        if (pairs()) {
            ActivationRef first = firstOfPair.remove(ref.batch());
            if (first == null) {
                firstOfPair.put(ref.batch(), ref);
                return;
            }
            batch = new LayerPruner.Batch(first, ref);
        } else {
            batch = new LayerPruner.Batch(ref, null);
        }
        stages.getFirst().tell(batch);
        if (ref.batch() == sequences().length - 1) {
            stages.getFirst().tell(new LayerPruner.UpstreamDone(sequences().length));
        }
    }

    private Behavior<Object> onLayerScored(LayerPruner.LayerScored m) {
        if (m.generation() == generation && phase == Phase.SCORING) {
            scores.add(m.scores());
        }
        return this;
    }

    /** Every layer has scored the dense model: allocate the widths and start pruning. */
    private void allocateAndPrune() {
        scores.sort(java.util.Comparator.comparingInt(LayerScores::layer));
        List<LayerAllocation> allocation = plan.method().allocate(List.copyOf(scores));
        scores.clear();
        for (LayerAllocation a : allocation) {
            getContext().getLog().info("{}: layer {} keeps {} attention unit(s) and {} channel(s)", run.jobId(), a.layer(), a.attentionUnits(),
                    a.channels());
            if (!run.isLayerCompleted(a.layer())) {
                workers.get(home(a.layer())).tell(new DeviceWorker.Allocate(a));
            }
        }
        startPipeline(false);
    }

    private Behavior<Object> onLayerPruned(LayerPruner.LayerPruned m) {
        if (m.generation() != generation) {
            return this;
        }
        outcomes.put(m.layer(), m.outcomes());
        if (opened[m.layer()].keptUnits() != null) {
            kept[m.layer()] = opened[m.layer()].keptUnits();
        }
        if (!run.isLayerCompleted(m.layer())) {
            CrashPoints.reach("before-checkpoint");
            run.commitLayer(m.layer(), ch -> {
                DecoderLayerWeights w = opened[m.layer()].weights();
                LlamaConfig dense = plan.model().config();
                KeptUnits units = opened[m.layer()].keptUnits();
                LayerCheckpoint.write(ch, dense.withBiases(dense.attentionBias(), w.oBias() != null, w.downBias() != null), m.layer(),
                        LlamaConfig.LayerDims.of(w, dense.headDim()), w, units == null ? null : units.toMetadata());
                CrashPoints.reach("mid-write"); // the temporary file is written, the checkpoint not yet in place
            });
            run.markLayerCompleted(m.layer());
            CrashPoints.reach("after-checkpoint");
        }
        long zeros = m.outcomes().values().stream().mapToLong(LinearPruner.PruneOutcome::zeros).sum();
        long total = m.outcomes().values().stream().mapToLong(LinearPruner.PruneOutcome::total).sum();
        getContext().getLog().info("{}: layer {} pruned to sparsity {}", run.jobId(), m.layer(), total == 0 ? 0 : (double) zeros / total);
        events.emit(JobEvent.newBuilder().setLayerPruned(dev.espalier.protocol.v1.LayerPruned.newBuilder()
                .setLayer(m.layer()).setSparsity(total == 0 ? 0 : (double) zeros / total)
                .setSeconds((System.nanoTime() - startNanos) / 1e9)));
        progress("prune", completedLayers(), layers);
        return this;
    }

    private Behavior<Object> onLayerStreamed(LayerPruner.LayerStreamed m) {
        if (m.generation() != generation || ++streamedLayers < layers) {
            return this;
        }
        if (phase == Phase.SCORING) {
            allocateAndPrune();
        } else {
            phase = Phase.EVAL_AFTER;
            CrashPoints.reach("before-export");
            ModelExporter.export(exportedModel(), plan.output(), plan.tokenizerFiles());
            getContext().getLog().info("{}: pruned model exported to {}", run.jobId(), plan.output());
            CrashPoints.reach("after-export");
            evaluateNext(prunedModel(), after);
        }
        return this;
    }

    private Behavior<Object> onStageFailed(LayerPruner.StageFailed m) {
        if (m.generation() == generation) {
            onFailure("layer " + m.layer() + ": " + m.message());
        }
        return this;
    }

    /** Stops this generation's actors and starts again from the last checkpoint, or gives up after too many restarts. */
    private void onFailure(String message) {
        if (phase == Phase.DONE) {
            return;
        }
        stopGeneration();
        if (restarts >= plan.maxRestarts()) {
            getContext().getLog().error("{}: pipeline failed ({}); giving up after {} restart(s)", run.jobId(), message, restarts);
            phase = Phase.DONE;
            done.tell(new Failed(message));
            return;
        }
        restarts++;
        getContext().getLog().warn("{}: pipeline failed ({}); restart {} of {} from the last checkpoint", run.jobId(), message, restarts,
                plan.maxRestarts());
        before.clear();
        after.clear();
        phase = Phase.EVAL_BEFORE;
        startGeneration();
        evaluateNext(plan.model(), before);
    }

    private void stopGeneration() {
        stages.forEach(getContext()::stop);
        stages.clear();
        scores.clear();
        workers.forEach(getContext()::stop);
        workers = List.of();
        store.close();
        if (phase == Phase.OPENING) {
            checkpointArena.close();
        }
    }

    private void finish() {
        phase = Phase.DONE;
        done.tell(new Succeeded(List.copyOf(before), List.copyOf(after), java.util.Collections.unmodifiableMap(outcomes),
                prunedModel().config(), restarts));
    }

    /** What is exported: the pruned model, or for {@link PrunePlan#maskedDense()} its masked-dense form. */
    private LlamaModel exportedModel() {
        if (!plan.maskedDense() || kept[0] == null) {
            return prunedModel();
        }
        return StructuredModels.expand(prunedModel(), plan.model().config(), List.of(kept), plan.model().arena());
    }

    /** The dense model with the pruned layers: per-layer widths and bias flags from the layers' weights. */
    private LlamaModel prunedModel() {
        List<DecoderLayerWeights> weights = new ArrayList<>();
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        LlamaConfig dense = plan.model().config();
        for (LayerWork work : opened) {
            weights.add(work.weights());
            dims.add(LlamaConfig.LayerDims.of(work.weights(), dense.headDim()));
        }
        return plan.model().withLayers(StructuredModels.withBiasesOf(dense, dims, weights), weights);
    }

    private int home(int layer) {
        return layer % plan.devices();
    }

    private int completedLayers() {
        int n = 0;
        for (int l = 0; l < layers; l++) {
            n += run.isLayerCompleted(l) ? 1 : 0;
        }
        return n;
    }

    private void progress(String stage, long doneUnits, long total) {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        double eta = doneUnits > 0 && doneUnits < total ? elapsed / doneUnits * (total - doneUnits) : 0;
        events.emit(JobEvent.newBuilder().setProgress(dev.espalier.protocol.v1.Progress.newBuilder()
                .setStage(stage).setDone(doneUnits).setTotal(total).setEtaSeconds(eta)));
    }

    private Behavior<Object> onStop() {
        if (store != null) {
            store.close();
        }
        ops.forEach(TensorOps::close);
        return this;
    }
}
