package dev.espalier.engine.runtime;

import dev.espalier.engine.forward.LayerMask;
import java.util.ArrayDeque;
import java.util.Deque;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One decoder layer of the rollout pipeline of {@link PolicyLearner}: it runs its layer, masked by each rollout's mask,
 * on its home device worker and hands the output to the next stage, so that while layer l works on one rollout pass
 * layer l + 1 works on the one before. Layer 0 also embeds; the last layer also asks for the loss. Nothing is computed
 * here: every call goes to the home worker, which answers calls in the order they were sent, so the stage matches
 * replies to passes by a FIFO queue. How many passes are in flight is bounded by {@link PolicyLearner}.
 */
public final class RolloutStage extends AbstractBehavior<RolloutStage.Command> {

    public sealed interface Command {}

    /**
     * Runs this stage's layer on {@code input} (layer 0: null, the pass is embedded first) for {@code pass}.
     */
    public record Run(Pass pass, ActivationRef input) implements Command {}

    /** One rollout pass: sequence {@code sequence} of rollout {@code index} of step {@code step}, under {@code masks}. */
    public record Pass(long step, int index, int sequence, int[] tokens, LayerMask[] masks) {}

    /** The summed cross-entropy of one pass, to the learner. */
    public record PassScored(Pass pass, double nllSum, int tokens) {}

    /** A device call of a pass failed. */
    public record PassFailed(Pass pass, String message) {}

    private record WorkerReply(DeviceWorker.Reply reply) implements Command {}

    private enum Call {
        EMBED,
        FORWARD,
        LOSS
    }

    private record Pending(Call call, Pass pass, ActivationRef input) {}

    /** Where the stage sits: its layer, its home worker, the next stage (null for the last) and who gets losses. */
    public record Wiring(
            int layer,
            SessionRef session,
            ActorRef<DeviceWorker.Command> worker,
            ActorRef<Command> next,
            IdSource ids,
            ActorRef<PassScored> scored,
            ActorRef<PassFailed> failed) {}

    public static Behavior<Command> create(Wiring wiring) {
        return Behaviors.setup(ctx -> new RolloutStage(ctx, wiring));
    }

    private final Wiring w;
    private final ActorRef<DeviceWorker.Reply> replies;
    private final Deque<Pending> pending = new ArrayDeque<>();

    private RolloutStage(ActorContext<Command> context, Wiring wiring) {
        super(context);
        this.w = wiring;
        this.replies = context.messageAdapter(DeviceWorker.Reply.class, WorkerReply::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Run.class, this::onRun)
                .onMessage(WorkerReply.class, this::onWorkerReply)
                .build();
    }

    private Behavior<Command> onRun(Run m) {
        if (m.input() == null) {
            pending.add(new Pending(Call.EMBED, m.pass(), null));
            w.worker()
                    .tell(new DeviceWorker.Embed(
                            w.session(), ref(m.pass()), m.pass().tokens(), replies));
        } else {
            forward(m.pass(), m.input());
        }
        return this;
    }

    private Behavior<Command> onWorkerReply(WorkerReply m) {
        Pending p = pending.poll();
        if (p == null) {
            throw new IllegalStateException("layer " + w.layer() + ": reply " + m.reply() + " with no call pending");
        }
        switch (m.reply()) {
            case DeviceWorker.Stored s -> forward(p.pass(), s.ref());
            case DeviceWorker.RanMasked r -> {
                release(r.input());
                if (w.next() != null) {
                    w.next().tell(new Run(p.pass(), r.output()));
                } else {
                    pending.add(new Pending(Call.LOSS, p.pass(), r.output()));
                    w.worker()
                            .tell(new DeviceWorker.ScoreLoss(
                                    w.session(), r.output(), p.pass().tokens(), replies));
                }
            }
            case DeviceWorker.LossScored l -> {
                release(l.hidden());
                w.scored().tell(new PassScored(p.pass(), l.nllSum(), l.tokens()));
            }
            case DeviceWorker.CallFailed f -> {
                if (p.input() != null) {
                    release(p.input());
                }
                w.failed()
                        .tell(new PassFailed(
                                p.pass(),
                                "layer " + w.layer() + " " + p.call() + ": " + f.call() + ": " + f.message()));
            }
            default -> throw new IllegalStateException("unexpected reply " + m.reply());
        }
        return this;
    }

    private void forward(Pass pass, ActivationRef input) {
        pending.add(new Pending(Call.FORWARD, pass, input));
        w.worker()
                .tell(new DeviceWorker.RunMasked(
                        w.session(), w.layer(), pass.masks()[w.layer()], input, ref(pass), replies));
    }

    private ActivationRef ref(Pass pass) {
        return w.ids().next(0, w.layer(), pass.sequence());
    }

    private void release(ActivationRef ref) {
        w.worker().tell(new DeviceWorker.Release(ref));
    }
}
