package dev.espalier.engine.runtime;

import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.policy.Mask;
import dev.espalier.engine.prune.policy.PolicyGradientPruner;
import dev.espalier.engine.prune.policy.PolicyState;
import dev.espalier.engine.prune.policy.RolloutMasks;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Drives a {@link PolicyGradientPruner} with rollouts that run through a pipeline of {@link RolloutStage}s, one per
 * decoder layer, spread over the device workers (layer l on worker l mod n). Each step it samples the K masks, splits
 * every rollout into one pass per sequence of the step's calibration batch (batch {@code step mod batches}, the same for
 * the K rollouts, as in the official code), keeps at most {@code inFlight} passes in the pipeline, and when every pass
 * is back calls {@link PolicyGradientPruner#update}. A rollout's loss is Σ_b NLL_b / Σ_b tokens_b, summed in sequence
 * order, so it does not depend on which worker ran what, nor in which order passes came back; a pass that failed makes
 * its rollout's loss NaN, which the learner drops. Steps cannot overlap: step t + 1's masks are drawn from the
 * probabilities step t's update produced. Every {@code checkpointEvery} steps the learner's bytes go to the
 * {@link Checkpointer}; to resume, restore the learner before creating this actor.
 */
public final class PolicyLearner extends AbstractBehavior<PolicyLearner.Command> {

    public sealed interface Command {}

    private record StartStep() implements Command {}

    private record Scored(RolloutStage.PassScored scored) implements Command {}

    private record Failed(RolloutStage.PassFailed failed) implements Command {}

    /** What the learner's owner hears at the end. */
    public sealed interface Result {}

    /** Every step ran: the final state and the result of each step this actor ran. */
    public record Learned(PolicyState state, List<PolicyGradientPruner.StepResult> steps) implements Result {}

    public record LearningFailed(String message) implements Result {}

    /**
     * Saves the learner's checkpoint bytes taken after {@code steps} steps, with the results of the steps this actor
     * has run so far (for the loss curve); it must write atomically.
     */
    @FunctionalInterface
    public interface Checkpointer {
        void save(long steps, byte[] bytes, List<PolicyGradientPruner.StepResult> results) throws Exception;
    }

    /**
     * @param batches         calibration batches: batch → sequences → tokens
     * @param inFlight        the most rollout passes (one sequence of one rollout) in the pipeline at once
     * @param checkpointEvery steps between checkpoints (0: never)
     */
    public record Setup(
            PolicyGradientPruner pruner,
            LlamaConfig config,
            SessionRef session,
            int[][][] batches,
            List<ActorRef<DeviceWorker.Command>> workers,
            int inFlight,
            long checkpointEvery,
            Checkpointer checkpointer,
            IdSource ids) {}

    public static Behavior<Command> create(Setup setup, ActorRef<Result> replyTo) {
        return Behaviors.setup(ctx -> new PolicyLearner(ctx, setup, replyTo));
    }

    private final Setup setup;
    private final ActorRef<Result> replyTo;
    private final ActorRef<RolloutStage.Command> firstStage;
    private final List<PolicyGradientPruner.StepResult> results = new ArrayList<>();
    private final Deque<RolloutStage.Pass> waiting = new ArrayDeque<>();
    private int inFlight;
    private long step;
    private double[][] nll; // (K, sequences) of the current step
    private int[][] tokens; // (K, sequences)
    private boolean[] failed; // (K)
    private int outstanding;

    private PolicyLearner(ActorContext<Command> context, Setup setup, ActorRef<Result> replyTo) {
        super(context);
        if (setup.inFlight() < 1) {
            throw new IllegalArgumentException("rollouts in flight must be ≥ 1, got " + setup.inFlight());
        }
        this.setup = setup;
        this.replyTo = replyTo;
        ActorRef<RolloutStage.PassScored> scored = context.messageAdapter(RolloutStage.PassScored.class, Scored::new);
        ActorRef<RolloutStage.PassFailed> failedRef =
                context.messageAdapter(RolloutStage.PassFailed.class, Failed::new);
        int layers = setup.config().numLayers();
        ActorRef<RolloutStage.Command> next = null;
        for (int l = layers - 1; l >= 0; l--) {
            ActorRef<DeviceWorker.Command> worker =
                    setup.workers().get(l % setup.workers().size());
            next = context.spawn(
                    RolloutStage.create(
                            new RolloutStage.Wiring(l, setup.session(), worker, next, setup.ids(), scored, failedRef)),
                    "rollout-layer-" + l);
        }
        this.firstStage = next;
        this.step = setup.pruner().state().step();
        context.getSelf().tell(new StartStep());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(StartStep.class, m -> startStep())
                .onMessage(Scored.class, this::onScored)
                .onMessage(Failed.class, this::onFailed)
                .build();
    }

    private Behavior<Command> onScored(Scored m) {
        RolloutStage.Pass p = m.scored().pass();
        nll[p.index()][p.sequence()] = m.scored().nllSum();
        tokens[p.index()][p.sequence()] = m.scored().tokens();
        return passDone();
    }

    private Behavior<Command> onFailed(Failed m) {
        getContext()
                .getLog()
                .warn(
                        "step {} rollout {}: {}",
                        m.failed().pass().step(),
                        m.failed().pass().index(),
                        m.failed().message());
        failed[m.failed().pass().index()] = true;
        return passDone();
    }

    private Behavior<Command> startStep() {
        PolicyGradientPruner pruner = setup.pruner();
        if (step >= pruner.config().steps()) {
            replyTo.tell(new Learned(pruner.state(), List.copyOf(results)));
            return Behaviors.stopped();
        }
        List<Mask> masks = pruner.sample(step);
        int[][] batch = setup.batches()[(int) (step % setup.batches().length)];
        nll = new double[masks.size()][batch.length];
        tokens = new int[masks.size()][batch.length];
        failed = new boolean[masks.size()];
        outstanding = masks.size() * batch.length;
        for (int j = 0; j < masks.size(); j++) {
            LayerMask[] layerMasks = RolloutMasks.of(masks.get(j), setup.config());
            for (int b = 0; b < batch.length; b++) {
                waiting.add(new RolloutStage.Pass(step, j, b, batch[b], layerMasks));
            }
        }
        dispatch();
        return this;
    }

    private void dispatch() {
        while (inFlight < setup.inFlight() && !waiting.isEmpty()) {
            inFlight++;
            firstStage.tell(new RolloutStage.Run(waiting.poll(), null));
        }
    }

    private Behavior<Command> passDone() {
        inFlight--;
        if (--outstanding > 0) {
            dispatch();
            return this;
        }
        double[] losses = new double[nll.length];
        for (int j = 0; j < losses.length; j++) {
            double sum = 0;
            long count = 0;
            for (int b = 0; b < nll[j].length; b++) {
                sum += nll[j][b];
                count += tokens[j][b];
            }
            losses[j] = failed[j] ? Double.NaN : sum / count;
        }
        results.add(setup.pruner().update(step, losses));
        step++;
        if (setup.checkpointEvery() > 0 && step % setup.checkpointEvery() == 0) {
            try {
                setup.checkpointer().save(step, setup.pruner().checkpoint(), List.copyOf(results));
            } catch (Exception e) {
                replyTo.tell(new LearningFailed("checkpoint after step " + step + " failed: " + e));
                return Behaviors.stopped();
            }
        }
        return startStep();
    }
}
