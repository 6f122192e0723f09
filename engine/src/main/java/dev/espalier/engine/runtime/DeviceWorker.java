package dev.espalier.engine.runtime;

import dev.espalier.engine.forward.DecoderLayerForward;
import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.eval.PerplexityEvaluator;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.LayerPruningState;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.PruningMethod;
import dev.espalier.engine.prune.ReconstructionError;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Owns one device (a GPU, or a share of the CPU cores): its {@link TensorOps}, the activation tensors resident on it
 * and the layers it is home to. It is the only caller of the kernels; it runs one call at a time, so calls in
 * flight are capped at one. Activations live in the host's {@link HostActivationStore}; how many are held is bounded
 * by the demand windows of the stages. A failed call is answered with
 * {@link CallFailed}; the worker itself stays up.
 */
public final class DeviceWorker extends AbstractBehavior<DeviceWorker.Command> {

    public sealed interface Command {}

    /** Embeds {@code tokens} into a new activation tensor owned by this worker. */
    public record Embed(ActivationRef target, int[] tokens, ActorRef<Reply> replyTo) implements Command {}

    /** Makes this worker home to {@code layer}: writable copies of its weights and fresh pruners. */
    public record OpenLayer(int generation, int layer, DecoderLayerWeights weights, PruningMethod method, boolean measureErrors,
                            ActorRef<Reply> replyTo) implements Command {}

    /** Perplexity of {@code model} on a token stream. */
    public record Evaluate(int generation, String dataset, LlamaModel model, int[] stream, PerplexityProtocol protocol, int maxTokens,
                           ActorRef<Reply> replyTo) implements Command {}

    /**
     * Runs the layer (as pruned so far) on {@code input}, feeding the statistics of the maps that read {@code inputs};
     * the input stays resident.
     */
    public record Accumulate(int layer, ActivationRef input, Set<LinearModule.Input> inputs, ActorRef<Reply> replyTo) implements Command {}

    /** Hands out the independent solves of the maps reading {@code inputs}, to be sent to any worker as {@link Solve}. */
    public record ExtractProblems(int layer, Set<LinearModule.Input> inputs, SparsityPattern pattern, double sparsity,
                                  ActorRef<Reply> replyTo) implements Command {}

    /** Prunes one linear map in place. */
    public record Solve(MatrixProblem problem, ActorRef<Reply> replyTo) implements Command {}

    /** Runs the (pruned) layer on {@code input} into a new tensor {@code output} owned by this worker. */
    public record Forward(int layer, ActivationRef input, ActivationRef output, ActorRef<Reply> replyTo) implements Command {}

    /** Frees an activation tensor. */
    public record Release(ActivationRef ref) implements Command, CrossJvmMessage {}

    /** Frees a layer's weights and statistics. */
    public record CloseLayer(int layer) implements Command, CrossJvmMessage {}

    public sealed interface Reply {}

    public record Stored(ActivationRef ref) implements Reply, CrossJvmMessage {}

    public record LayerOpened(int generation, int layer, DecoderLayerWeights weights) implements Reply {}

    public record Evaluated(int generation, PerplexityResult result) implements Reply {}

    public record Accumulated(int layer, ActivationRef input) implements Reply, CrossJvmMessage {}

    public record ProblemsExtracted(int layer, List<MatrixProblem> problems) implements Reply {}

    public record Solved(int layer, LinearModule module, LinearPruner.PruneOutcome outcome) implements Reply {}

    public record Forwarded(int layer, ActivationRef input, ActivationRef output) implements Reply, CrossJvmMessage {}

    /** A call failed; {@code generation} is the pipeline generation of the worker, so late failures of a stopped one are told apart. */
    public record CallFailed(int generation, String call, String message) implements Reply, CrossJvmMessage {}

    /** What a worker is given to compute with. */
    public record Device(int generation, int index, TensorOps ops, LlamaConfig config, Tensor embeddings, int maxTokens,
                         HostActivationStore store, FaultInjector faults) {}

    public static Behavior<Command> create(Device device) {
        return Behaviors.setup(ctx -> new DeviceWorker(ctx, device));
    }

    private final Device device;
    private final Arena arena = Arena.ofShared(); // layer workspaces and layer weights
    private final DecoderLayerForward layerForward;
    private final Tensor keys; // (maxTokens, max kv width): scratch cache of one sequence
    private final Tensor values; // (maxTokens, max kv width)
    private final Map<Integer, LayerPruningState> layers = new HashMap<>();

    private DeviceWorker(ActorContext<Command> context, Device device) {
        super(context);
        this.device = device;
        this.layerForward = new DecoderLayerForward(device.config(), device.ops(), arena, device.maxTokens(), device.maxTokens());
        int kvWidth = 1;
        for (LlamaConfig.LayerDims d : device.config().layers()) {
            kvWidth = Math.max(kvWidth, d.numKvHeads() * device.config().headDim());
        }
        this.keys = Tensor.allocate(arena, DType.F32, device.maxTokens(), kvWidth);
        this.values = Tensor.allocate(arena, DType.F32, device.maxTokens(), kvWidth);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Embed.class, this::onEmbed)
                .onMessage(OpenLayer.class, this::onOpenLayer)
                .onMessage(Evaluate.class, this::onEvaluate)
                .onMessage(Accumulate.class, this::onAccumulate)
                .onMessage(ExtractProblems.class, this::onExtractProblems)
                .onMessage(Solve.class, this::onSolve)
                .onMessage(Forward.class, this::onForward)
                .onMessage(Release.class, this::onRelease)
                .onMessage(CloseLayer.class, this::onCloseLayer)
                .onSignal(PostStop.class, signal -> onStop())
                .build();
    }

    private Behavior<Command> onEmbed(Embed m) {
        return call("embed", m.replyTo(), () -> {
            Tensor out = allocateActivation(m.target(), m.tokens().length);
            Tensor table = device.embeddings();
            for (int i = 0; i < m.tokens().length; i++) {
                table.rowSlice(m.tokens()[i], m.tokens()[i] + 1).copyInto(out.rowSlice(i, i + 1));
            }
            return new Stored(m.target());
        });
    }

    private Behavior<Command> onOpenLayer(OpenLayer m) {
        return call("open layer " + m.layer(), m.replyTo(), () -> {
            LayerPruningState state = new LayerPruningState(m.layer(), m.weights(), m.method(), m.measureErrors(), arena);
            layers.put(m.layer(), state);
            return new LayerOpened(m.generation(), m.layer(), state.weights());
        });
    }

    private Behavior<Command> onEvaluate(Evaluate m) {
        return call("evaluate " + m.dataset(), m.replyTo(), () -> {
            int window = m.protocol().window(m.model().config());
            try (LlamaForward forward = new LlamaForward(m.model(), device.ops(), window, window)) {
                return new Evaluated(m.generation(), PerplexityEvaluator.evaluate(forward, m.dataset(), m.stream(), m.protocol(),
                        m.maxTokens(), null, ProgressListener.NONE));
            }
        });
    }

    private Behavior<Command> onAccumulate(Accumulate m) {
        return call("accumulate layer " + m.layer(), m.replyTo(), () -> {
            LayerPruningState state = layer(m.layer());
            Tensor input = activation(m.input());
            try (Arena scratch = Arena.ofConfined()) {
                Tensor hidden = input.copyAs(scratch, DType.F32);
                layerForward.apply(m.layer(), state.weights(), LayerMask.NONE, state.tapWith(device.ops(), m.inputs()), hidden, 0, keys,
                        values);
            }
            return new Accumulated(m.layer(), m.input());
        });
    }

    private Behavior<Command> onExtractProblems(ExtractProblems m) {
        return call("extract problems of layer " + m.layer(), m.replyTo(), () -> {
            LayerPruningState state = layer(m.layer());
            List<MatrixProblem> problems = new ArrayList<>();
            for (LinearModule module : LinearModule.values()) {
                if (!m.inputs().contains(module.input())) {
                    continue;
                }
                problems.add(new MatrixProblem(m.layer(), module, module.weight(state.weights()), state.pruner(module),
                        state.gram(module), m.pattern(), m.sparsity()));
            }
            return new ProblemsExtracted(m.layer(), problems);
        });
    }

    private Behavior<Command> onSolve(Solve m) {
        MatrixProblem p = m.problem();
        return call("solve " + p.module() + " of layer " + p.layer(), m.replyTo(), () -> {
            try (Arena scratch = Arena.ofConfined()) {
                Tensor original = p.gram() == null ? null : p.weight().copyAs(scratch, DType.F32);
                LinearPruner.PruneOutcome outcome = p.pruner().prune(p.weight(), p.pattern(), p.sparsity(), device.ops());
                if (original != null) {
                    outcome = outcome.withRelativeError(ReconstructionError.relative(original, p.weight(), p.gram().gram(), device.ops()));
                }
                return new Solved(p.layer(), p.module(), outcome);
            }
        });
    }

    private Behavior<Command> onForward(Forward m) {
        return call("forward layer " + m.layer(), m.replyTo(), () -> {
            LayerPruningState state = layer(m.layer());
            Tensor input = activation(m.input());
            Tensor output = allocateActivation(m.output(), input.rows());
            input.copyInto(output);
            layerForward.apply(m.layer(), state.weights(), LayerMask.NONE, LayerTap.NONE, output, 0, keys, values);
            return new Forwarded(m.layer(), m.input(), m.output());
        });
    }

    private Behavior<Command> onRelease(Release m) {
        device.store().release(m.ref());
        return this;
    }

    private Behavior<Command> onCloseLayer(CloseLayer m) {
        LayerPruningState state = layers.remove(m.layer());
        if (state != null) {
            state.close();
        }
        return this;
    }

    private Behavior<Command> onStop() {
        layers.values().forEach(LayerPruningState::close);
        layers.clear();
        arena.close();
        return this;
    }

    /** Runs one kernel call, answering {@link CallFailed} instead of crashing when it throws. */
    private Behavior<Command> call(String what, ActorRef<Reply> replyTo, java.util.concurrent.Callable<Reply> body) {
        Reply reply;
        try {
            device.faults().beforeCall(device.index(), what);
            reply = body.call();
        } catch (Exception | AssertionError e) {
            getContext().getLog().warn("device {}: {} failed: {}", device.index(), what, e.toString());
            reply = new CallFailed(device.generation(), what, e.getMessage() == null ? e.toString() : e.getMessage());
        }
        replyTo.tell(reply);
        return this;
    }

    private Tensor allocateActivation(ActivationRef ref, int rows) {
        return device.store().allocate(ref, rows, device.config().hiddenSize());
    }

    private Tensor activation(ActivationRef ref) {
        return device.store().get(ref);
    }

    private LayerPruningState layer(int layer) {
        LayerPruningState s = layers.get(layer);
        if (s == null) {
            throw new IllegalStateException("layer " + layer + " is not open on device " + device.index());
        }
        return s;
    }
}
