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
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

    /**
     * Makes this worker home to {@code layer}: the method's {@link LayerWork} (writable weights, fresh statistics),
     * starting from {@code start} (the dense weights, or the layer's checkpoint when {@code completed}); {@code dense}
     * are the dense model's weights, which the scoring pass and the dense stream run.
     */
    public record OpenLayer(int generation, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, boolean completed,
                            LayerMethod method, ActorRef<Reply> replyTo) implements Command {}

    /** Perplexity of {@code model} on a token stream. */
    public record Evaluate(int generation, String dataset, LlamaModel model, int[] stream, PerplexityProtocol protocol, int maxTokens,
                           ActorRef<Reply> replyTo) implements Command {}

    /**
     * Feeds phase {@code phase}'s statistics of {@code layer} from one batch: {@code input} in the pruned model and,
     * for methods with a dense stream, {@code dense} in the dense model (else null). Both stay resident.
     */
    public record Accumulate(int layer, int phase, ActivationRef input, ActivationRef dense, ActorRef<Reply> replyTo) implements Command {}

    /** Hands out the independent solves of phase {@code phase}, to be sent to any worker as {@link Solve}. */
    public record ExtractProblems(int layer, int phase, ActorRef<Reply> replyTo) implements Command {}

    /** Runs one of a layer's solves (weights are changed in place, or replaced by the layer's work). */
    public record Solve(LayerProblem problem, ActorRef<Reply> replyTo) implements Command {}

    /**
     * Runs the (pruned) layer on {@code input} into a new tensor {@code output} and, when {@code dense} is not null,
     * the dense layer on {@code dense} into {@code denseOutput}; all owned by this worker.
     */
    public record Forward(int layer, ActivationRef input, ActivationRef output, ActivationRef dense, ActivationRef denseOutput,
                          ActorRef<Reply> replyTo) implements Command {}

    /** Scoring pass: runs the dense layer on {@code input} into {@code output}, feeding the layer's scores. */
    public record Score(int layer, ActivationRef input, ActivationRef output, ActorRef<Reply> replyTo) implements Command {}

    /** Asks for the unit scores of the scoring pass. */
    public record ReportScores(int layer, ActorRef<Reply> replyTo) implements Command {}

    /** Gives a layer its widths from the global allocation (before its pruning phases start). */
    public record Allocate(LayerAllocation allocation) implements Command, CrossJvmMessage {}

    /**
     * Rollout pass: runs {@code weights} (layer {@code layer}'s) under {@code mask} on {@code input} into a new tensor
     * {@code output}; {@code input} is left as it is.
     */
    public record RunMasked(int layer, DecoderLayerWeights weights, LayerMask mask, ActivationRef input, ActivationRef output,
                            ActorRef<Reply> replyTo) implements Command {}

    /**
     * Rollout loss: final RMSNorm ({@code finalNorm}, (hidden)) and output head ({@code lmHead}, (vocab, hidden)) on
     * the last hidden state {@code hidden} (n, hidden) of the sequence {@code tokens} (n), then the summed natural-log
     * cross-entropy of tokens 1..n−1, added in token order.
     */
    public record ScoreLoss(ActivationRef hidden, int[] tokens, Tensor finalNorm, Tensor lmHead, ActorRef<Reply> replyTo)
            implements Command {}

    /**
     * Runs {@code model} densely over {@code sequences} (each from position 0), showing every layer's linear-map
     * inputs to {@code tap} (a method's statistics, e.g. Wanda-sp's column norms).
     */
    public record Observe(LlamaModel model, int[][] sequences, LayerTap tap, ActorRef<Reply> replyTo) implements Command {}

    /** Frees an activation tensor. */
    public record Release(ActivationRef ref) implements Command, CrossJvmMessage {}

    /** Frees a layer's weights and statistics. */
    public record CloseLayer(int layer) implements Command, CrossJvmMessage {}

    public sealed interface Reply {}

    public record Stored(ActivationRef ref) implements Reply, CrossJvmMessage {}

    public record LayerOpened(int generation, int layer, LayerWork work) implements Reply {}

    public record Evaluated(int generation, PerplexityResult result) implements Reply {}

    public record Accumulated(int layer, ActivationRef input) implements Reply, CrossJvmMessage {}

    public record ProblemsExtracted(int layer, List<LayerProblem> problems) implements Reply {}

    public record Solved(int layer, String problem, Map<LinearModule, LinearPruner.PruneOutcome> outcomes) implements Reply {}

    /** {@code dense} and {@code denseOutput} are null without a dense stream. */
    public record Forwarded(int layer, ActivationRef input, ActivationRef output, ActivationRef dense, ActivationRef denseOutput)
            implements Reply, CrossJvmMessage {}

    public record Scored(int layer, LayerScores scores) implements Reply {}

    public record Observed(int sequences) implements Reply {}

    public record RanMasked(int layer, ActivationRef input, ActivationRef output) implements Reply, CrossJvmMessage {}

    /** {@code nllSum}: Σ of the natural-log negative log-likelihoods of {@code tokens} predicted tokens. */
    public record LossScored(ActivationRef hidden, double nllSum, int tokens) implements Reply, CrossJvmMessage {}

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
    private final Map<Integer, LayerWork> layers = new HashMap<>();
    private final Map<Integer, DecoderLayerWeights> denseLayers = new HashMap<>();

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
                .onMessage(Score.class, this::onScore)
                .onMessage(ReportScores.class, this::onReportScores)
                .onMessage(Observe.class, this::onObserve)
                .onMessage(RunMasked.class, this::onRunMasked)
                .onMessage(ScoreLoss.class, this::onScoreLoss)
                .onMessage(Allocate.class, this::onAllocate)
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
            LayerWork work = m.method().open(m.layer(), m.dense(), m.start(), m.completed(), arena);
            layers.put(m.layer(), work);
            denseLayers.put(m.layer(), m.dense());
            return new LayerOpened(m.generation(), m.layer(), work);
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
            layer(m.layer()).accumulate(m.phase(), activation(m.input()), m.dense() == null ? null : activation(m.dense()),
                    runner(m.layer()), device.ops());
            return new Accumulated(m.layer(), m.input());
        });
    }

    private Behavior<Command> onExtractProblems(ExtractProblems m) {
        return call("extract problems of layer " + m.layer(), m.replyTo(),
                () -> new ProblemsExtracted(m.layer(), List.copyOf(layer(m.layer()).problems(m.phase()))));
    }

    private Behavior<Command> onSolve(Solve m) {
        LayerProblem p = m.problem();
        return call("solve " + p.name() + " of layer " + p.layer(), m.replyTo(), () -> new Solved(p.layer(), p.name(), p.solve(device.ops())));
    }

    private Behavior<Command> onForward(Forward m) {
        return call("forward layer " + m.layer(), m.replyTo(), () -> {
            runInto(m.layer(), layer(m.layer()).weights(), LayerTap.NONE, m.input(), m.output());
            if (m.dense() != null) {
                runInto(m.layer(), dense(m.layer()), LayerTap.NONE, m.dense(), m.denseOutput());
            }
            return new Forwarded(m.layer(), m.input(), m.output(), m.dense(), m.denseOutput());
        });
    }

    private Behavior<Command> onScore(Score m) {
        return call("score layer " + m.layer(), m.replyTo(), () -> {
            Tensor input = activation(m.input());
            Tensor output = allocateActivation(m.output(), input.rows());
            input.copyInto(output);
            layer(m.layer()).score(output, runner(m.layer()), device.ops());
            return new Forwarded(m.layer(), m.input(), m.output(), null, null);
        });
    }

    private Behavior<Command> onReportScores(ReportScores m) {
        return call("scores of layer " + m.layer(), m.replyTo(), () -> new Scored(m.layer(), layer(m.layer()).scores(device.ops())));
    }

    private Behavior<Command> onObserve(Observe m) {
        return call("observe " + m.sequences().length + " sequences", m.replyTo(), () -> {
            int n = 1;
            for (int[] s : m.sequences()) {
                n = Math.max(n, s.length);
            }
            try (LlamaForward forward = new LlamaForward(m.model(), device.ops(), n, n)) {
                var cache = forward.newCache(n);
                for (int[] sequence : m.sequences()) {
                    cache.clear();
                    forward.forward(sequence, cache, null, m.tap(), false);
                }
            }
            return new Observed(m.sequences().length);
        });
    }

    private Behavior<Command> onRunMasked(RunMasked m) {
        return call("masked forward layer " + m.layer(), m.replyTo(), () -> {
            Tensor in = activation(m.input());
            Tensor out = allocateActivation(m.output(), in.rows());
            in.copyInto(out);
            layerForward.apply(m.layer(), m.weights(), m.mask(), LayerTap.NONE, out, 0, keys, values);
            return new RanMasked(m.layer(), m.input(), m.output());
        });
    }

    private Behavior<Command> onScoreLoss(ScoreLoss m) {
        return call("rollout loss", m.replyTo(), () -> {
            Tensor h = activation(m.hidden());
            int n = h.rows() - 1;
            int[] targets = java.util.Arrays.copyOfRange(m.tokens(), 1, n + 1);
            double[] nll = new double[n];
            try (Arena scratch = Arena.ofShared()) { // all n + 1 rows, as LlamaForward does, so the losses agree bit for bit
                Tensor normed = Tensor.allocate(scratch, DType.F32, h.rows(), h.cols()); // (n + 1, hidden)
                Tensor logits = Tensor.allocate(scratch, DType.F32, h.rows(), m.lmHead().rows()); // (n + 1, vocab)
                device.ops().rmsNorm(h, m.finalNorm(), device.config().rmsNormEps(), normed);
                device.ops().linear(normed, m.lmHead(), logits);
                device.ops().softmaxCrossEntropy(logits.rowSlice(0, n), targets, nll);
            }
            double sum = 0;
            for (double v : nll) {
                sum += v;
            }
            return new LossScored(m.hidden(), sum, n);
        });
    }

    private Behavior<Command> onAllocate(Allocate m) {
        layer(m.allocation().layer()).allocate(m.allocation());
        return this;
    }

    /** Copies {@code input} into a new activation {@code output} and runs {@code weights} on it in place. */
    private void runInto(int layer, DecoderLayerWeights weights, LayerTap tap, ActivationRef input, ActivationRef output) {
        Tensor in = activation(input);
        Tensor out = allocateActivation(output, in.rows());
        in.copyInto(out);
        runner(layer).run(weights, tap, out);
    }

    private LayerRunner runner(int layer) {
        return (w, tap, hidden) -> layerForward.apply(layer, w, LayerMask.NONE, tap, hidden, 0, keys, values);
    }

    private Behavior<Command> onRelease(Release m) {
        device.store().release(m.ref());
        return this;
    }

    private Behavior<Command> onCloseLayer(CloseLayer m) {
        LayerWork work = layers.remove(m.layer());
        denseLayers.remove(m.layer());
        if (work != null) {
            work.close();
        }
        return this;
    }

    private Behavior<Command> onStop() {
        layers.values().forEach(LayerWork::close);
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

    private DecoderLayerWeights dense(int layer) {
        DecoderLayerWeights w = denseLayers.get(layer);
        if (w == null) {
            throw new IllegalStateException("layer " + layer + " is not open on device " + device.index());
        }
        return w;
    }

    private LayerWork layer(int layer) {
        LayerWork s = layers.get(layer);
        if (s == null) {
            throw new IllegalStateException("layer " + layer + " is not open on device " + device.index());
        }
        return s;
    }
}
