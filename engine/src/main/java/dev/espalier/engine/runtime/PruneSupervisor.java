package dev.espalier.engine.runtime;

import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.runtime.store.RunDirectory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

/**
 * The layer pipeline of one job: spawns one {@link LayerPruner} per decoder layer (each opens its layer on its home
 * device worker when its first batch arrives, from its checkpoint when the run already has one, and closes it once it
 * has streamed on, so that only the layers in flight hold memory) and feeds calibration batches into layer 0 as demand
 * allows. Methods that allocate widths globally first run a scoring pass (the same stages over the dense model); the
 * supervisor then allocates every layer's widths and runs the pruning pass. Each stage has its layer checkpointed by
 * the home worker before it streams on, so the pruned weights never leave the worker that holds them; the job reads
 * the pruned model back from the checkpoints.
 *
 * <p>With {@link Plan#pipelineNodes()} above 1 (a cluster node), the pruning pass spans nodes: the layers are split
 * into parts of consecutive layers, this supervisor spawns the first part's stages and asks other nodes'
 * {@link StageHost}s (found through the receptionist) for the others; batches then cross between nodes as files and a
 * hosted layer's staged checkpoint is committed here (by this node's worker) before its stage streams on. A lost host
 * fails the pass like a failed device call.
 *
 * <p>Phases are behaviours: {@link #opening}, then {@link #streaming} once per pass. A failed device call fails the
 * pass with a {@link PipelineFailedException}; Pekko's supervision restarts the supervisor (its stages stop with it),
 * whose stages open the layers again, now from the checkpoints written so far, up to {@code maxRestarts} times. The scoring
 * pass is deterministic, so a restarted or resumed run repeats it and gets the same allocation. The supervisor only
 * sends messages: no kernel call, no file write, no wait.
 */
public final class PruneSupervisor {

    public sealed interface Command {}

    private record WorkerReplied(DeviceWorker.Reply reply) implements Command {}

    private record StageReported(LayerPruner.Event event) implements Command {}

    private record SourceDemand(int batches) implements Command {}

    private record HostsListed(Receptionist.Listing listing) implements Command {}

    private record HostWaitOver() implements Command {}

    private record HostReplied(StageHost.Hosted reply) implements Command {}

    private record HostLost(String node) implements Command {}

    /** How the pipeline ended (a failure beyond the restarts stops the supervisor with its exception instead). */
    public sealed interface Outcome {}

    /** Every layer is pruned and checkpointed; {@code layers}: the outcome of each layer pruned in this run. */
    public record Succeeded(Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> layers, int restarts)
            implements Outcome {}

    /** {@link Plan#scoreOnly()}: the scoring pass's scores of every layer, in layer order. */
    public record ScoresReported(List<LayerScores> scores) implements Outcome {}

    /** What the job hears while the pipeline runs. */
    public sealed interface Event {}

    /** {@code done} of {@code total} units of {@code stage} ("score", "prune"). */
    public record Progress(String stage, long done, long total) implements Event {}

    /** Layer {@code layer} is pruned and checkpointed, {@code seconds} after the pipeline started. */
    public record LayerDone(int layer, Map<LinearModule, LinearPruner.PruneOutcome> outcomes, double seconds)
            implements Event {}

    /**
     * Everything the pipeline needs, prepared outside the actors.
     *
     * @param devices      the job's session on its device workers (layer l's home is worker l mod n)
     * @param method       the method, configured with its target (sparsity, pattern, options)
     * @param calibration  one token sequence per calibration batch, in order
     * @param scoringCalibration the sequences of a scoring pass (the same as {@code calibration}, except in the data-free
     *                     mode, where the scoring pass reads random token ids and pruning reads the model's own text)
     * @param layers       decoder layers of the model
     * @param window       batches of demand a stage grants at once (bounds activations in flight between stages)
     * @param maxRestarts  pipeline restarts from the last checkpoint allowed after device failures
     * @param run          the run directory: which layers are already checkpointed
     * @param scoreOnly    run the scoring pass only and report its scores (a policy learner's initialisation)
     * @param pipelineNodes nodes of the cluster the pruning pass spans: the layers are split evenly, this node runs the
     *                     first part, the {@link StageHost}s of other nodes the others (as many as are up, within
     *                     {@link #HOST_WAIT}); 1: this node only
     */
    public record Plan(
            Devices.JobDevices devices,
            LayerMethod method,
            int[][] calibration,
            int[][] scoringCalibration,
            int layers,
            int window,
            int maxRestarts,
            RunDirectory run,
            boolean scoreOnly,
            int pipelineNodes) {}

    /** How long a pipeline spanning nodes waits for other nodes' stage hosts to be listed before it runs on fewer. */
    static final Duration HOST_WAIT = Duration.ofSeconds(10);

    public static Behavior<Command> create(Plan plan, ActorRef<Event> events, ActorRef<Outcome> done) {
        AtomicInteger generations = new AtomicInteger();
        Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes =
                Collections.synchronizedMap(new TreeMap<>());
        long startNanos = System.nanoTime();
        Behavior<Command> incarnation = Behaviors.setup(
                ctx -> new PruneSupervisor(ctx, plan, events, done, generations.incrementAndGet(), outcomes, startNanos)
                        .opening());
        return Behaviors.supervise(incarnation)
                .onFailure(
                        PipelineFailedException.class,
                        SupervisorStrategy.restart().withLimit(plan.maxRestarts(), Duration.ofDays(365)));
    }

    private final ActorContext<Command> ctx;
    private final Plan plan;
    private final ActorRef<Event> events;
    private final ActorRef<Outcome> done;
    private final IdSource ids;
    private final Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes; // survives restarts
    private final long startNanos;
    private final ActorRef<DeviceWorker.Reply> replies;
    private final ActorRef<LayerPruner.Event> stageEvents;
    private final List<ActorRef<LayerPruner.Command>> stages = new ArrayList<>(); // this pass's, layer 0 first
    private final List<LayerScores> scores = new ArrayList<>();
    private final Map<Integer, ActivationRef> firstOfPair = new HashMap<>(); // dense stream: batch -> first embedding
    private int sourceCredit;
    private int nextBatch;
    private int streamedLayers;
    private List<ActorRef<StageHost.Command>> hosts = List.of(); // other nodes' stage hosts this incarnation uses
    private final ActorRef<StageHost.Hosted> hostReplies;
    private int[] partStarts; // this pass: first layer of each part (part 0 here, part i on hosts[i - 1]), then L
    private final Map<Integer, ActorRef<LayerPruner.Command>> hostedStages = new HashMap<>(); // layer -> stage
    private final Map<Integer, LayerPruner.LayerPruned> adopting = new HashMap<>(); // layer -> awaiting its commit

    private PruneSupervisor(
            ActorContext<Command> ctx,
            Plan plan,
            ActorRef<Event> events,
            ActorRef<Outcome> done,
            int generation,
            Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> outcomes,
            long startNanos) {
        this.ctx = ctx;
        this.plan = plan;
        this.events = events;
        this.done = done;
        this.ids = new IdSource(generation);
        this.outcomes = outcomes;
        this.startNanos = startNanos;
        this.replies = ctx.messageAdapter(DeviceWorker.Reply.class, WorkerReplied::new);
        this.stageEvents = ctx.messageAdapter(LayerPruner.Event.class, StageReported::new);
        this.hostReplies = ctx.messageAdapter(StageHost.Hosted.class, HostReplied::new);
    }

    /** Logs what this incarnation does and starts its first pass; each stage opens its own layer when it needs it. */
    private Behavior<Command> opening() {
        ctx.getLog()
                .info(
                        "{}: {} on {} device worker(s) ({}), {} calibration sequences; {} of {} layers checkpointed{}",
                        plan.devices().session().job(),
                        plan.method().describe(),
                        plan.devices().workers().size(),
                        String.join(", ", plan.devices().names()),
                        plan.calibration().length,
                        completedLayers(),
                        plan.layers(),
                        ids.generation() > 1
                                ? " (restart " + (ids.generation() - 1) + " of " + plan.maxRestarts() + ")"
                                : "");
        boolean scoring = plan.scoreOnly() || plan.method().scoresGlobally();
        if (plan.pipelineNodes() <= 1 || scoring) {
            return startPass(scoring);
        }
        if (!"cluster".equals(ctx.getSystem().settings().config().getString("pekko.actor.provider"))) {
            ctx.getLog()
                    .warn(
                            "{}: the pipeline was to span {} nodes; this process is no cluster member"
                                    + " (espalier serve --cluster), so every layer runs here",
                            plan.devices().session().job(),
                            plan.pipelineNodes());
            return startPass(false);
        }
        return findingHosts();
    }

    /**
     * A pipeline across nodes first finds other nodes' stage hosts in the cluster's receptionist: it starts once
     * {@code pipelineNodes - 1} are listed, or after {@link #HOST_WAIT} with those there are (none: all layers here).
     */
    private Behavior<Command> findingHosts() {
        ctx.getSystem()
                .receptionist()
                .tell(Receptionist.subscribe(
                        StageHost.KEY, ctx.messageAdapter(Receptionist.Listing.class, HostsListed::new)));
        return Behaviors.withTimers(timers -> {
            timers.startSingleTimer(new HostWaitOver(), HOST_WAIT);
            return withSignals(Behaviors.receive(Command.class))
                    .onMessage(HostsListed.class, m -> {
                        hosts = otherNodes(m.listing().getServiceInstances(StageHost.KEY));
                        return hosts.size() >= plan.pipelineNodes() - 1 ? hostsFound(timers) : Behaviors.same();
                    })
                    .onMessage(HostWaitOver.class, m -> hostsFound(timers))
                    .build();
        });
    }

    private Behavior<Command> hostsFound(TimerScheduler<Command> timers) {
        timers.cancelAll();
        hosts = hosts.subList(0, Math.min(hosts.size(), Math.min(plan.pipelineNodes(), plan.layers()) - 1));
        for (ActorRef<StageHost.Command> host : hosts) {
            ctx.watchWith(host, new HostLost(host.path().address().toString()));
        }
        if (hosts.size() < plan.pipelineNodes() - 1) {
            ctx.getLog()
                    .warn(
                            "{}: the pipeline was to span {} nodes; {} other node(s) host stages, so it spans {}",
                            plan.devices().session().job(),
                            plan.pipelineNodes(),
                            hosts.size(),
                            hosts.size() + 1);
        }
        return startPass(false);
    }

    /** The stage hosts of other nodes (this node's own has a local address), in address order for a stable split. */
    private static List<ActorRef<StageHost.Command>> otherNodes(Set<ActorRef<StageHost.Command>> listed) {
        return listed.stream()
                .filter(h -> h.path().address().hasGlobalScope())
                .sorted(Comparator.comparing(h -> h.path().address().toString()))
                .toList();
    }

    /** Spawns the stages from layer 0 down; each asks its upstream (layer 0: this supervisor) for batches. */
    private Behavior<Command> startPass(boolean scoring) {
        streamedLayers = 0;
        sourceCredit = 0;
        nextBatch = 0;
        firstOfPair.clear();
        stages.forEach(ctx::stop);
        stages.clear();
        ActorRef<LayerPruner.Demand> upstream =
                ctx.messageAdapter(LayerPruner.Demand.class, d -> new SourceDemand(d.batches()));
        int parts = scoring ? 1 : 1 + hosts.size();
        partStarts = new int[parts + 1];
        for (int p = 0; p <= parts; p++) {
            partStarts[p] = (int) ((long) p * plan.layers() / parts);
        }
        hostedStages.clear();
        adopting.clear();
        for (int l = 0; l < partStarts[1]; l++) {
            LayerPruner.Wiring wiring = new LayerPruner.Wiring(
                    plan.devices().session(),
                    l,
                    l == plan.layers() - 1,
                    plan.run().isLayerCompleted(l),
                    l % plan.devices().workers().size(),
                    plan.devices().workers(),
                    upstream,
                    plan.window(),
                    plan.method().phases(),
                    scoring,
                    scoring || !(plan.scoreOnly() || plan.method().scoresGlobally()),
                    plan.method(),
                    stageEvents,
                    ids);
            ActorRef<LayerPruner.Command> stage = ctx.spawn(
                    LayerPruner.create(wiring), (scoring ? "score-" : "layer-") + l + "-g" + ids.generation());
            stages.add(stage);
            upstream = stage.narrow();
        }
        if (parts > 1) {
            ctx.getLog()
                    .info(
                            "{}: pipeline over {} nodes: layers 0-{} here{}",
                            plan.devices().session().job(),
                            parts,
                            partStarts[1] - 1,
                            partsText());
            hostPart(1, upstream);
        }
        events.tell(new Progress(scoring ? "score" : "prune", scoring ? 0 : completedLayers(), plan.layers()));
        return streaming(scoring);
    }

    private String partsText() {
        StringBuilder text = new StringBuilder();
        for (int p = 1; p < partStarts.length - 1; p++) {
            text.append(", ")
                    .append(partStarts[p])
                    .append('-')
                    .append(partStarts[p + 1] - 1)
                    .append(" on ")
                    .append(hosts.get(p - 1).path().address());
        }
        return text.toString();
    }

    /** Asks part {@code part}'s node to host its layers, fed by {@code upstream} (the previous part's last stage). */
    private void hostPart(int part, ActorRef<LayerPruner.Demand> upstream) {
        hosts.get(part - 1)
                .tell(new StageHost.HostStages(
                        plan.devices().session().job(),
                        ids.generation(),
                        partStarts[part],
                        partStarts[part + 1],
                        plan.window(),
                        upstream,
                        stageEvents,
                        ctx.getSelf(),
                        hostReplies));
    }

    /** Phase 2 (once per pass): calibration batches flow down the stages; layers report as they finish. */
    private Behavior<Command> streaming(boolean scoring) {
        int[][] sequences = scoring ? plan.scoringCalibration() : plan.calibration();
        boolean pairs = !scoring && plan.method().usesDenseStream();
        return withSignals(Behaviors.receive(Command.class))
                .onMessage(SourceDemand.class, m -> {
                    sourceCredit += m.batches();
                    feed(sequences, pairs);
                    return Behaviors.same();
                })
                .onMessage(WorkerReplied.class, m -> switch (m.reply()) {
                    case DeviceWorker.Stored s
                    when s.ref().generation() == ids.generation() -> onEmbedded(s.ref(), sequences, pairs);
                    case DeviceWorker.CheckpointAdopted a
                    when adopting.containsKey(a.layer()) -> onAdopted(adopting.remove(a.layer()));
                    case DeviceWorker.CallFailed f
                    when f.generation() == ids.generation() ->
                        fail("device call " + f.call() + " failed: " + f.message());
                    default -> Behaviors.same();
                })
                .onMessage(StageReported.class, m -> onStageEvent(m.event(), scoring))
                .onMessage(HostReplied.class, m -> onHostReply(m.reply()))
                .onMessage(HostLost.class, m -> fail("node " + m.node() + " left the cluster while it hosted stages"))
                .build();
    }

    private Behavior<Command> onHostReply(StageHost.Hosted reply) {
        return switch (reply) {
            case StageHost.StagesHosted h
            when h.generation() == ids.generation() -> {
                for (int i = 0; i < h.stages().size(); i++) {
                    hostedStages.put(h.first() + i, h.stages().get(i));
                }
                int part = partOf(h.first());
                if (part + 1 < partStarts.length - 1) {
                    hostPart(part + 1, h.stages().getLast().narrow());
                }
                yield Behaviors.same();
            }
            case StageHost.StagesRefused r
            when r.generation() == ids.generation() ->
                fail("node " + r.node() + " cannot host layers from " + r.first() + ": " + r.message());
            default -> Behaviors.same();
        };
    }

    private int partOf(int firstLayer) {
        for (int p = 0; p < partStarts.length - 1; p++) {
            if (partStarts[p] == firstLayer) {
                return p;
            }
        }
        throw new IllegalStateException("no part starts at layer " + firstLayer);
    }

    /** Embeds the next calibration batches, as many as layer 0 asked for. */
    private void feed(int[][] sequences, boolean pairs) {
        while (sourceCredit > 0 && nextBatch < sequences.length) {
            sourceCredit--;
            int batch = nextBatch++;
            home(0).tell(new DeviceWorker.Embed(
                    plan.devices().session(), ids.next(0, 0, batch), sequences[batch], replies));
            if (pairs) {
                home(0).tell(new DeviceWorker.Embed(
                        plan.devices().session(), ids.next(0, 0, batch), sequences[batch], replies));
            }
        }
    }

    /** Hands an embedded batch (both of its embeddings, with a dense stream) to layer 0. */
    private Behavior<Command> onEmbedded(ActivationRef ref, int[][] sequences, boolean pairs) {
        LayerPruner.Batch batch;
        if (pairs) {
            ActivationRef first = firstOfPair.remove(ref.batch());
            if (first == null) {
                firstOfPair.put(ref.batch(), ref);
                return Behaviors.same();
            }
            batch = new LayerPruner.Batch(first, ref);
        } else {
            batch = new LayerPruner.Batch(ref, null);
        }
        stages.getFirst().tell(batch);
        if (ref.batch() == sequences.length - 1) {
            stages.getFirst().tell(new LayerPruner.UpstreamDone(sequences.length));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onStageEvent(LayerPruner.Event event, boolean scoring) {
        if (generationOf(event) != ids.generation()) {
            return Behaviors.same();
        }
        return switch (event) {
            case LayerPruner.LayerScored s -> {
                scores.add(s.scores());
                yield Behaviors.same();
            }
            case LayerPruner.LayerPruned p
            when p.staged() != null -> { // a hosted stage's: commit it here first
                adopting.put(p.layer(), p);
                home(p.layer())
                        .tell(new DeviceWorker.AdoptCheckpoint(
                                plan.devices().session(), ids.generation(), p.staged(), replies));
                yield Behaviors.same();
            }
            case LayerPruner.LayerPruned p -> onAdopted(p);
            case LayerPruner.LayerStreamed s -> ++streamedLayers < plan.layers() ? Behaviors.same() : passDone(scoring);
            case LayerPruner.StageFailed f when f.lasting() -> stop("layer " + f.layer() + ": " + f.message());
            case LayerPruner.StageFailed f -> fail("layer " + f.layer() + ": " + f.message());
        };
    }

    /** Layer {@code p.layer()} is pruned and committed in the run directory: report it; a hosted stage streams on. */
    private Behavior<Command> onAdopted(LayerPruner.LayerPruned p) {
        outcomes.put(p.layer(), p.outcomes());
        events.tell(new LayerDone(p.layer(), p.outcomes(), (System.nanoTime() - startNanos) / 1e9));
        events.tell(new Progress("prune", completedLayers(), plan.layers()));
        if (p.staged() != null) {
            hostedStages.get(p.layer()).tell(new LayerPruner.CheckpointCommitted(ids.generation(), p.layer()));
        }
        return Behaviors.same();
    }

    private static int generationOf(LayerPruner.Event event) {
        return switch (event) {
            case LayerPruner.LayerScored s -> s.generation();
            case LayerPruner.LayerPruned p -> p.generation();
            case LayerPruner.LayerStreamed s -> s.generation();
            case LayerPruner.StageFailed f -> f.generation();
        };
    }

    /** A pass has gone through every layer: allocate and prune after a scoring pass, else the pipeline is done. */
    private Behavior<Command> passDone(boolean scoring) {
        if (scoring) {
            scores.sort(Comparator.comparingInt(LayerScores::layer));
            if (plan.scoreOnly()) {
                done.tell(new ScoresReported(List.copyOf(scores)));
                return Behaviors.stopped();
            }
            List<LayerAllocation> allocation = plan.method().allocate(List.copyOf(scores));
            scores.clear();
            for (LayerAllocation a : allocation) {
                if (a.isSparsity()) {
                    ctx.getLog()
                            .info(
                                    "{}: layer {} prunes at sparsity {}",
                                    plan.devices().session().job(),
                                    a.layer(),
                                    String.format(Locale.ROOT, "%.4f", a.sparsity()));
                } else {
                    ctx.getLog()
                            .info(
                                    "{}: layer {} keeps {} attention unit(s) and {} channel(s)",
                                    plan.devices().session().job(),
                                    a.layer(),
                                    a.attentionUnits(),
                                    a.channels());
                }
                if (!plan.run().isLayerCompleted(a.layer())) {
                    home(a.layer())
                            .tell(new DeviceWorker.Allocate(plan.devices().session(), a));
                }
            }
            return startPass(false);
        }
        done.tell(new Succeeded(Map.copyOf(outcomes), ids.generation() - 1));
        return Behaviors.stopped();
    }

    /** Fails this incarnation; supervision restarts it from the checkpoints, or stops it after the last restart. */
    private Behavior<Command> fail(String message) {
        ctx.getLog().warn("{}: pipeline failed ({})", plan.devices().session().job(), message);
        throw new PipelineFailedException(message);
    }

    /** Stops on a failure retrying cannot cure (a full disk): no restart; the job fails at once with the message. */
    private Behavior<Command> stop(String message) {
        ctx.getLog()
                .warn(
                        "{}: pipeline stopped ({}); no restart can help",
                        plan.devices().session().job(),
                        message);
        throw new StorageFailedException(message);
    }

    private BehaviorBuilder<Command> withSignals(BehaviorBuilder<Command> builder) {
        return builder.onSignal(PreRestart.class, s -> releaseGeneration())
                .onSignal(PostStop.class, s -> releaseGeneration());
    }

    /** What this incarnation left on the workers: its activations (its stages stop with it), and its hosted stages. */
    private Behavior<Command> releaseGeneration() {
        plan.devices()
                .workers()
                .forEach(w ->
                        w.tell(new DeviceWorker.ReleaseGeneration(plan.devices().session(), ids.generation())));
        hosts.forEach(
                h -> h.tell(new StageHost.ReleaseStages(plan.devices().session().job(), ids.generation())));
        return Behaviors.same();
    }

    private ActorRef<DeviceWorker.Command> home(int layer) {
        return plan.devices().workers().get(layer % plan.devices().workers().size());
    }

    private int completedLayers() {
        int n = 0;
        for (int l = 0; l < plan.layers(); l++) {
            n += plan.run().isLayerCompleted(l) ? 1 : 0;
        }
        return n;
    }
}
