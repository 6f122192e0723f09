package dev.espalier.engine.runtime;

import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.runtime.store.StagedLayer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One stage of the pipeline: decoder layer {@code layer}. It receives activation batches from upstream (granting
 * at most {@code window} batches of demand at a time), has its home device worker accumulate the layer's statistics
 * from each, and once upstream is done, spreads the phase's independent solves over all device workers; a method
 * with several phases (a sequential solve order, recovery module by module) runs the held batches through the layer
 * again before each later phase. Then it re-runs its batches through the pruned layer and streams the outputs
 * downstream, each only when downstream has granted demand for it. Methods that recover against the dense model
 * get each batch as a pair: the layer's input in the pruned model and in the dense model; both flow on.
 * A completed layer (on resume) skips accumulation and solving and only streams. In a scoring pass (global
 * width allocation) the stage runs the dense layer on each batch as it comes, feeding the scores, streams the
 * outputs on at once, and reports its scores at the end. It orchestrates; the device workers compute.
 *
 * <p>A stage may run on another node than its neighbour (one job's pipeline across a cluster, see {@link StageHost}):
 * a batch bound for a stage on another node is written by the home worker as a file in the shared run folder and
 * sent as a {@link HandedOff} naming it, which the receiving stage's worker reads back into an activation of its own;
 * demand flows back as usual. A hosted stage's checkpoint is staged by its worker and streams on only once the job's
 * node has committed it ({@link CheckpointCommitted}).
 */
public final class LayerPruner extends AbstractBehavior<LayerPruner.Command> {

    public sealed interface Command {}

    /** A batch of this layer's input; {@code dense}: the same batch's input in the dense model (null without a dense stream). */
    public record Batch(ActivationRef input, ActivationRef dense) implements Command, CrossJvmMessage {}

    /** Upstream has sent all {@code batches} batches. */
    public record UpstreamDone(int batches) implements Command, CrossJvmMessage {}

    /** A batch of this layer's input from a stage on another node, as files in the job's handoff folder. */
    public record HandedOff(int batch, HandoffFile input, HandoffFile dense) implements Command, CrossJvmMessage {}

    /** The job's node has committed the staged checkpoint of {@code layer}: the stage may stream on. */
    public record CheckpointCommitted(int generation, int layer) implements Command, CrossJvmMessage {}

    /** Downstream {@code from} can take {@code batches} more batches (null from the supervisor's source end). */
    public record Demand(int batches, ActorRef<Command> from) implements Command, CrossJvmMessage {}

    private record WorkerReply(DeviceWorker.Reply reply) implements Command {}

    /** What a stage reports to its supervisor. */
    public sealed interface Event {}

    /**
     * Reported once every map of the layer is pruned and the home worker has checkpointed it (the weights are final);
     * {@code outcomes} is empty for a layer loaded from its checkpoint. {@code staged}: a hosted stage's checkpoint,
     * for the job's node to commit (null when the job's own worker committed it).
     */
    public record LayerPruned(
            int generation, int layer, Map<LinearModule, LinearPruner.PruneOutcome> outcomes, StagedLayer staged)
            implements Event, CrossJvmMessage {}

    /** Reported at the end of a scoring pass. */
    public record LayerScored(int generation, int layer, LayerScores scores) implements Event, CrossJvmMessage {}

    /** Reported once every output has been sent downstream (or discarded, for the last layer). */
    public record LayerStreamed(int generation, int layer) implements Event, CrossJvmMessage {}

    /** Reported when a device call failed; the supervisor restarts from the last checkpoint. */
    public record StageFailed(int generation, int layer, String message, boolean lasting)
            implements Event, CrossJvmMessage {}

    /**
     * How a stage is wired. The downstream stage is learnt from its first {@link Demand}; the last layer has none (its
     * outputs are not needed). {@code completed}: the layer was loaded from a checkpoint and is only streamed.
     * {@code phases}: accumulation phases of the method; {@code scoring}: this is a scoring pass; {@code opens}: the
     * stage opens its layer on the home worker (with {@code method}) when its first batch arrives (false for the pruning
     * pass after a scoring pass: the layer stayed open with its scores).
     */
    public record Wiring(
            SessionRef session,
            int layer,
            boolean last,
            boolean completed,
            int home,
            List<ActorRef<DeviceWorker.Command>> workers,
            ActorRef<Demand> upstream,
            int window,
            int phases,
            boolean scoring,
            boolean opens,
            LayerMethod method,
            ActorRef<Event> supervisor,
            IdSource ids) {

        int generation() {
            return ids.generation();
        }
    }

    public static Behavior<Command> create(Wiring wiring) {
        return Behaviors.setup(ctx -> new LayerPruner(ctx, wiring));
    }

    private final Wiring w;
    private final ActorRef<DeviceWorker.Reply> replies;
    private final List<Batch> inputs = new ArrayList<>(); // this layer's inputs, in batch order
    private final Map<LinearModule, LinearPruner.PruneOutcome> outcomes = new EnumMap<>(LinearModule.class);
    private int phase; // index into the solve order's phases
    private int accumulated; // batches accumulated in this phase
    private int solving = -1; // solves of this phase under way; -1 before they are handed out
    private int expectedBatches = -1;
    private boolean pruned;
    private int nextToStream;
    private int streamed;
    private int downstreamCredit;
    private boolean failed;
    private ActorRef<Command> downstream;
    private boolean finished;
    private boolean checkpointing; // the pruned layer's checkpoint is being written (or, staged, committed)
    private final Map<Integer, Crossing> outgoing = new HashMap<>(); // batch -> outputs being written for another node
    private final Map<Integer, Crossing> incoming = new HashMap<>(); // batch -> handed-off inputs being read

    /** A batch crossing to or from another node: its activations and, once written, their files. */
    private static final class Crossing {
        final ActivationRef input;
        final ActivationRef dense;
        HandoffFile inputFile;
        HandoffFile denseFile;
        int done;

        Crossing(ActivationRef input, ActivationRef dense) {
            this.input = input;
            this.dense = dense;
        }

        boolean complete() {
            return done == (dense == null ? 1 : 2);
        }
    }

    private LayerPruner(ActorContext<Command> context, Wiring wiring) {
        super(context);
        this.w = wiring;
        this.replies = context.messageAdapter(DeviceWorker.Reply.class, WorkerReply::new);
        this.pruned = wiring.completed() || wiring.scoring();
        wiring.upstream().tell(new Demand(wiring.window(), context.getSelf()));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Batch.class, this::onBatch)
                .onMessage(HandedOff.class, this::onHandedOff)
                .onMessage(CheckpointCommitted.class, this::onCheckpointCommitted)
                .onMessage(UpstreamDone.class, this::onUpstreamDone)
                .onMessage(Demand.class, this::onDemand)
                .onMessage(WorkerReply.class, this::onWorkerReply)
                .build();
    }

    private Behavior<Command> onBatch(Batch m) {
        if (inputs.isEmpty() && w.opens()) { // the worker handles it before this batch's accumulation or forward
            home().tell(new DeviceWorker.OpenLayer(
                    w.session(), w.generation(), w.layer(), w.completed(), w.method(), replies));
        }
        inputs.add(m);
        if (pruned) {
            streamReady();
        } else {
            home().tell(new DeviceWorker.Accumulate(w.session(), w.layer(), phase, m.input(), m.dense(), replies));
        }
        return this;
    }

    /** Has the home worker read a handed-off batch (both of its files, with a dense stream), then takes it as a batch. */
    private Behavior<Command> onHandedOff(HandedOff m) {
        ActivationRef input = w.ids().next(w.home(), w.layer(), m.batch());
        ActivationRef dense = m.dense() == null ? null : w.ids().next(w.home(), w.layer(), m.batch());
        incoming.put(m.batch(), new Crossing(input, dense));
        home().tell(new DeviceWorker.LoadActivation(w.session(), input, m.input(), replies));
        if (dense != null) {
            home().tell(new DeviceWorker.LoadActivation(w.session(), dense, m.dense(), replies));
        }
        return this;
    }

    private Behavior<Command> onCheckpointCommitted(CheckpointCommitted m) {
        if (m.generation() == w.generation() && !failed) {
            checkpointing = false;
            streamReady();
        }
        return this;
    }

    private Behavior<Command> onUpstreamDone(UpstreamDone m) {
        expectedBatches = m.batches();
        maybeSolve();
        streamReady();
        return this;
    }

    private Behavior<Command> onDemand(Demand m) {
        downstreamCredit += m.batches();
        downstream = m.from();
        streamReady();
        return this;
    }

    private Behavior<Command> onWorkerReply(WorkerReply m) {
        if (failed) {
            return this;
        }
        switch (m.reply()) {
            case DeviceWorker.LayerOpened o -> {}
            case DeviceWorker.Accumulated a -> {
                accumulated++;
                if (phase == 0) {
                    w.upstream().tell(new Demand(1, getContext().getSelf()));
                }
                maybeSolve();
            }
            case DeviceWorker.ProblemsExtracted p -> {
                solving = p.problems().size();
                for (int i = 0; i < p.problems().size(); i++) {
                    ActorRef<DeviceWorker.Command> solver =
                            w.workers().get((w.home() + i) % w.workers().size());
                    solver.tell(new DeviceWorker.Solve(w.session(), p.problems().get(i), replies));
                }
            }
            case DeviceWorker.Solved s -> {
                outcomes.putAll(s.outcomes());
                if (--solving == 0) {
                    nextPhase();
                }
            }
            case DeviceWorker.Forwarded f -> {
                release(f.input(), f.dense());
                if (w.completed() || w.scoring()) {
                    w.upstream().tell(new Demand(1, getContext().getSelf()));
                }
                if (w.last()) {
                    release(f.output(), f.denseOutput()); // a scoring pass runs the last layer for its scores only
                } else if (isOnAnotherNode(downstream)) {
                    handOff(f.output(), f.denseOutput());
                    return this; // streamed once its files are written
                } else {
                    downstream.tell(new Batch(f.output(), f.denseOutput()));
                }
                streamed++;
                finishIfDone();
            }
            case DeviceWorker.ActivationSaved a -> {
                Crossing c = outgoing.get(a.ref().batch());
                if (a.ref().equals(c.input)) {
                    c.inputFile = a.file();
                } else {
                    c.denseFile = a.file();
                }
                c.done++;
                if (c.complete()) {
                    outgoing.remove(a.ref().batch());
                    downstream.tell(new HandedOff(a.ref().batch(), c.inputFile, c.denseFile));
                    release(c.input, c.dense);
                    streamed++;
                    finishIfDone();
                }
            }
            case DeviceWorker.Stored st -> {
                Crossing c = incoming.get(st.ref().batch());
                c.done++;
                if (c.complete()) {
                    incoming.remove(st.ref().batch());
                    onBatch(new Batch(c.input, c.dense));
                }
            }
            case DeviceWorker.LayerCheckpointed c -> {
                checkpointing = c.staged() != null; // a staged checkpoint waits for the job's node to commit it
                w.supervisor().tell(new LayerPruned(w.generation(), w.layer(), new EnumMap<>(outcomes), c.staged()));
                streamReady();
            }
            case DeviceWorker.Scored s -> {
                w.supervisor().tell(new LayerScored(w.generation(), w.layer(), s.scores()));
                w.supervisor().tell(new LayerStreamed(w.generation(), w.layer()));
            }
            case DeviceWorker.CallFailed f -> {
                failed = true;
                w.supervisor()
                        .tell(new StageFailed(w.generation(), w.layer(), f.call() + ": " + f.message(), f.lasting()));
            }
            default -> throw new IllegalStateException("unexpected reply " + m.reply());
        }
        return this;
    }

    /** Once every batch has been accumulated in this phase, asks the home worker for the phase's independent solves. */
    private void maybeSolve() {
        if (!pruned && expectedBatches >= 0 && accumulated == expectedBatches && solving < 0) {
            solving = 0;
            home().tell(new DeviceWorker.ExtractProblems(w.session(), w.layer(), phase, replies));
        }
    }

    /** After a phase's solves: the layer is pruned, or the held batches run again through it for the next phase. */
    private void nextPhase() {
        if (++phase == w.phases()) {
            pruned = true; // streaming waits for the checkpoint: nothing downstream sees a layer a crash could lose
            checkpointing = true;
            home().tell(new DeviceWorker.CheckpointLayer(w.session(), w.generation(), w.layer(), replies));
            return;
        }
        accumulated = 0;
        solving = -1;
        for (Batch input : inputs) {
            home().tell(new DeviceWorker.Accumulate(
                    w.session(), w.layer(), phase, input.input(), input.dense(), replies));
        }
        maybeSolve();
    }

    /** Sends pruned-layer forwards (scoring pass: dense ones) for as many held inputs as downstream has demand for. */
    private void streamReady() {
        if (!pruned || failed || checkpointing) {
            return;
        }
        if (w.last() && !w.scoring()) {
            while (nextToStream < inputs.size()) {
                Batch input = inputs.get(nextToStream++);
                release(input.input(), input.dense());
                streamed++;
                if (w.completed()) {
                    w.upstream().tell(new Demand(1, getContext().getSelf()));
                }
            }
            finishIfDone();
            return;
        }
        while (nextToStream < inputs.size() && (w.last() || downstreamCredit > 0)) {
            Batch input = inputs.get(nextToStream++);
            downstreamCredit--;
            ActivationRef output =
                    w.ids().next(w.home(), w.layer() + 1, input.input().batch());
            if (w.scoring()) {
                home().tell(new DeviceWorker.Score(w.session(), w.layer(), input.input(), output, replies));
            } else {
                ActivationRef denseOutput = input.dense() == null
                        ? null
                        : w.ids().next(w.home(), w.layer() + 1, input.dense().batch());
                home().tell(new DeviceWorker.Forward(
                        w.session(), w.layer(), input.input(), output, input.dense(), denseOutput, replies));
            }
        }
        finishIfDone();
    }

    private void finishIfDone() {
        if (!finished
                && pruned
                && expectedBatches >= 0
                && streamed == expectedBatches
                && (w.last() || downstream != null)) {
            finished = true;
            if (!w.last()) {
                downstream.tell(new UpstreamDone(expectedBatches));
            }
            if (w.scoring()) {
                home().tell(new DeviceWorker.ReportScores(
                        w.session(), w.layer(), replies)); // the layer stays open for the pruning pass
            } else {
                home().tell(new DeviceWorker.CloseLayer(w.session(), w.layer()));
                w.supervisor().tell(new LayerStreamed(w.generation(), w.layer()));
            }
        }
    }

    /** Has the home worker write a batch's outputs for the stage downstream, which runs on another node. */
    private void handOff(ActivationRef output, ActivationRef denseOutput) {
        outgoing.put(output.batch(), new Crossing(output, denseOutput));
        home().tell(new DeviceWorker.SaveActivation(w.session(), output, handoffName(output, "input"), replies));
        if (denseOutput != null) {
            home().tell(new DeviceWorker.SaveActivation(
                    w.session(), denseOutput, handoffName(denseOutput, "dense"), replies));
        }
    }

    private static String handoffName(ActivationRef ref, String stream) {
        return "g" + ref.generation() + "-layer-" + ref.layer() + "-batch-" + ref.batch() + "-" + stream + "-"
                + ref.id() + ".f32";
    }

    /** Whether {@code ref} is an actor of another node (its address names a host; this node's own do not). */
    private static boolean isOnAnotherNode(ActorRef<?> ref) {
        return ref.path().address().hasGlobalScope();
    }

    private void release(ActivationRef input, ActivationRef dense) {
        home().tell(new DeviceWorker.Release(input));
        if (dense != null) {
            home().tell(new DeviceWorker.Release(dense));
        }
    }

    private ActorRef<DeviceWorker.Command> home() {
        return w.workers().get(w.home());
    }
}
