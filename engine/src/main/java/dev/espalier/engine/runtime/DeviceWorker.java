package dev.espalier.engine.runtime;

import dev.espalier.engine.eval.PerplexityEvaluator;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.eval.zeroshot.EncodedRequest;
import dev.espalier.engine.eval.zeroshot.Loglikelihood;
import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.generate.SelfCalibration;
import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.io.StorageFailures;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LayerCheckpoint;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.policy.MetricInitialisation;
import dev.espalier.engine.prune.policy.WandaSpStatistics;
import dev.espalier.engine.prune.structured.LayerSurgery;
import dev.espalier.engine.runtime.store.LayerCheckpoints;
import dev.espalier.engine.runtime.store.StagedLayer;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Owns one device (a GPU, or a share of the CPU cores) for the whole process: its {@link TensorOps}, the tensors
 * resident on it (activations in the host's {@link HostActivationStore}, the layers jobs have open here) and one
 * {@link WorkerSession} per job that uses it. It is the only caller of the kernels and runs one call at a time, so the
 * jobs sharing it queue in its mailbox; each job bounds its own calls in flight by the demand windows of its stages.
 * Messages name tensors by handle ({@link ActivationRef}, {@link ModelRef}, {@link ProblemRef}); checkpoints of the
 * layers it holds are written from here. A failed call is answered with {@link CallFailed}; the worker stays up.
 *
 * <p>Three protocols share the worker: {@link LayerCommand} (the pruning pipeline's stages and supervisor),
 * {@link RolloutCommand} (the policy learner's rollout stages) and {@link ModelCommand} (whole-model passes of a job);
 * {@link SessionCommand}s open and close a job's context and move activations.
 */
public final class DeviceWorker extends AbstractBehavior<DeviceWorker.Command> {

    public sealed interface Command {}

    /** A job's context on this worker, and its activations. */
    public sealed interface SessionCommand extends Command {}

    /** The layer pipeline: open, accumulate, solve, forward, score, checkpoint. */
    public sealed interface LayerCommand extends Command {}

    /** The policy learner's rollouts through masked layers. */
    public sealed interface RolloutCommand extends Command {}

    /** Whole-model passes: perplexity, statistics over every layer. */
    public sealed interface ModelCommand extends Command {}

    /**
     * Opens the context of job {@code session} over the host model {@code model}, with scratch for sequences of up to
     * {@code maxTokens} tokens; {@code run} receives the checkpoints of its layers (null: none are written: the job's
     * run directory, or the staging of stages hosted for a job on another node), stored as
     * {@code checkpointDtype} (the dtype the model will be exported in: the pruned weights are rounded to it before they
     * are checkpointed and streamed on, so that a resumed run and the export see the same values).
     */
    public record OpenSession(
            SessionRef session,
            ModelRef model,
            int maxTokens,
            LayerCheckpoints run,
            DType checkpointDtype,
            FaultInjector faults)
            implements SessionCommand {}

    /** Frees everything job {@code session} holds on this worker. */
    public record CloseSession(SessionRef session) implements SessionCommand, CrossJvmMessage {}

    /** Embeds {@code tokens} into a new activation tensor {@code target} owned by this worker. */
    public record Embed(SessionRef session, ActivationRef target, int[] tokens, ActorRef<Reply> replyTo)
            implements SessionCommand, CrossJvmMessage {}

    /** Frees an activation tensor. */
    public record Release(ActivationRef ref) implements SessionCommand, CrossJvmMessage {}

    /** Frees every activation job {@code session}'s pipeline generation {@code generation} left (a restart). */
    public record ReleaseGeneration(SessionRef session, int generation) implements SessionCommand, CrossJvmMessage {}

    /**
     * Makes this worker home to {@code layer} in pipeline generation {@code generation}: the method's
     * {@link LayerWork} over the session model's dense layer, starting from the layer's checkpoint when
     * {@code completed}.
     */
    public record OpenLayer(
            SessionRef session,
            int generation,
            int layer,
            boolean completed,
            LayerMethod method,
            ActorRef<Reply> replyTo)
            implements LayerCommand {}

    /**
     * Feeds phase {@code phase}'s statistics of {@code layer} from one batch: {@code input} in the pruned model and,
     * for methods with a dense stream, {@code dense} in the dense model (else null). Both stay resident.
     */
    public record Accumulate(
            SessionRef session, int layer, int phase, ActivationRef input, ActivationRef dense, ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /** Hands out the independent solves of phase {@code phase}, as handles any worker of the host may {@link Solve}. */
    public record ExtractProblems(SessionRef session, int layer, int phase, ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /** Runs one of a layer's solves (weights are changed in place, or replaced by the layer's work). */
    public record Solve(SessionRef session, ProblemRef problem, ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /**
     * Runs the (pruned) layer on {@code input} into a new tensor {@code output} and, when {@code dense} is not null,
     * the dense layer on {@code dense} into {@code denseOutput}; all owned by this worker.
     */
    public record Forward(
            SessionRef session,
            int layer,
            ActivationRef input,
            ActivationRef output,
            ActivationRef dense,
            ActivationRef denseOutput,
            ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /** Scoring pass: runs the dense layer on {@code input} into {@code output}, feeding the layer's scores. */
    public record Score(
            SessionRef session, int layer, ActivationRef input, ActivationRef output, ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /** Asks for the unit scores of the scoring pass. */
    public record ReportScores(SessionRef session, int layer, ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /** Gives a layer its widths from the global allocation (before its pruning phases start). */
    public record Allocate(SessionRef session, LayerAllocation allocation) implements LayerCommand, CrossJvmMessage {}

    /**
     * Writes the pruned {@code layer} (and, for structured methods, the dense units it keeps) as its checkpoint in
     * the session's run directory and records the layer as completed.
     */
    public record CheckpointLayer(SessionRef session, int generation, int layer, ActorRef<Reply> replyTo)
            implements LayerCommand, CrossJvmMessage {}

    /**
     * Writes activation {@code ref} as file {@code name} in the job's handoff folder, for a stage on another node
     * ({@link ActivationFiles}); the activation stays resident until released.
     */
    public record SaveActivation(SessionRef session, ActivationRef ref, String name, ActorRef<Reply> replyTo)
            implements LayerCommand {}

    /** Reads a handed-off batch from the job's handoff folder into a new activation {@code target}; deletes the file. */
    public record LoadActivation(SessionRef session, ActivationRef target, HandoffFile file, ActorRef<Reply> replyTo)
            implements LayerCommand {}

    /** Commits a layer checkpoint a stage on another node staged in the job's run folder ({@link LayerCheckpoints#adopt}). */
    public record AdoptCheckpoint(SessionRef session, int generation, StagedLayer staged, ActorRef<Reply> replyTo)
            implements LayerCommand {}

    /** Frees a layer's weights and statistics. */
    public record CloseLayer(SessionRef session, int layer) implements LayerCommand, CrossJvmMessage {}

    /**
     * Rollout pass: runs the session model's layer {@code layer} under {@code mask} on {@code input} into a new tensor
     * {@code output}; {@code input} is left as it is.
     */
    public record RunMasked(
            SessionRef session,
            int layer,
            LayerMask mask,
            ActivationRef input,
            ActivationRef output,
            ActorRef<Reply> replyTo)
            implements RolloutCommand {}

    /**
     * Rollout loss: the session model's final RMSNorm and output head on the last hidden state {@code hidden} (n,
     * hidden) of the sequence {@code tokens} (n), then the summed natural-log cross-entropy of tokens 1..n−1, added in
     * token order.
     */
    public record ScoreLoss(SessionRef session, ActivationRef hidden, int[] tokens, ActorRef<Reply> replyTo)
            implements RolloutCommand, CrossJvmMessage {}

    /** Perplexity of the host model {@code model} on a token stream. */
    public record Evaluate(
            SessionRef session,
            ModelRef model,
            String dataset,
            int[] stream,
            PerplexityProtocol protocol,
            int seqlen,
            int maxTokens,
            ActorRef<Reply> replyTo)
            implements ModelCommand, CrossJvmMessage {}

    /** Wanda-sp unit scores of the session's dense model from dense passes over {@code sequences} (each from position 0). */
    public record ScoreUnits(SessionRef session, int[][] sequences, ActorRef<Reply> replyTo)
            implements ModelCommand, CrossJvmMessage {}

    /**
     * Compacts the session model's dense layer {@code layer} to the units {@code kept} and writes it as the layer's
     * checkpoint (structured pruning by mask, e.g. the policy learner's final selection).
     */
    public record CompactLayer(SessionRef session, int layer, KeptUnits kept, ActorRef<Reply> replyTo)
            implements ModelCommand {}

    /**
     * Data-free calibration: {@code samples} sequences of {@code seqlen} tokens that the session's model writes itself
     * (seeded sampling from BOS, restarting after EOS).
     */
    public record Generate(
            SessionRef session, int samples, int seqlen, long seed, int bos, int eos, ActorRef<Reply> replyTo)
            implements ModelCommand, CrossJvmMessage {}

    /**
     * Zero-shot scoring: the log-likelihood of each request's continuation given its context under the host model
     * {@code model} ({@link LoglikelihoodScorer}, at most the model's context per pass). Each score depends only on
     * its own request, so a task's batches may go to any worker.
     */
    public record ScoreRequests(
            SessionRef session, ModelRef model, List<EncodedRequest> requests, ActorRef<Reply> replyTo)
            implements ModelCommand {}

    public sealed interface Reply {}

    public record Generated(int[][] sequences) implements Reply, CrossJvmMessage {}

    public record Stored(ActivationRef ref) implements Reply, CrossJvmMessage {}

    public record LayerOpened(int generation, int layer) implements Reply, CrossJvmMessage {}

    public record Accumulated(int layer, ActivationRef input) implements Reply, CrossJvmMessage {}

    public record ProblemsExtracted(int layer, List<ProblemRef> problems) implements Reply, CrossJvmMessage {}

    public record Solved(int layer, String problem, Map<LinearModule, LinearPruner.PruneOutcome> outcomes)
            implements Reply, CrossJvmMessage {}

    /** {@code dense} and {@code denseOutput} are null without a dense stream. */
    public record Forwarded(
            int layer, ActivationRef input, ActivationRef output, ActivationRef dense, ActivationRef denseOutput)
            implements Reply, CrossJvmMessage {}

    public record Scored(int layer, LayerScores scores) implements Reply, CrossJvmMessage {}

    /** {@code staged}: where a hosted stage's checkpoint waits for the job's node to adopt it (null: committed). */
    public record LayerCheckpointed(int generation, int layer, StagedLayer staged) implements Reply, CrossJvmMessage {}

    public record ActivationSaved(ActivationRef ref, HandoffFile file) implements Reply {}

    public record CheckpointAdopted(int layer) implements Reply {}

    public record RanMasked(int layer, ActivationRef input, ActivationRef output) implements Reply, CrossJvmMessage {}

    /** {@code nllSum}: Σ of the natural-log negative log-likelihoods of {@code tokens} predicted tokens. */
    public record LossScored(ActivationRef hidden, double nllSum, int tokens) implements Reply, CrossJvmMessage {}

    public record Evaluated(PerplexityResult result) implements Reply {}

    /** One log-likelihood per request of a {@link ScoreRequests}, in its order. */
    public record RequestsScored(Loglikelihood[] scores) implements Reply {}

    /** Per layer: the scores of its key/value groups and of its FFN channels. */
    public record UnitsScored(double[][] heads, double[][] channels) implements Reply, CrossJvmMessage {}

    /**
     * A call failed; {@code generation} is the pipeline generation the call belonged to (-1: none), so late failures of
     * a restarted pipeline are told apart; {@code lasting}: retrying cannot help ({@link StorageFailures#isLasting}).
     */
    public record CallFailed(int generation, String call, String message, boolean lasting)
            implements Reply, CrossJvmMessage {}

    /** The host memory every worker of this process shares: activations, resident models, handed-out solves. */
    public record Host(HostActivationStore activations, HostModels models, HostProblems problems) {}

    /** What a worker is given to compute with: its index and name in the process, its backend and the host. */
    public record Device(int index, String name, TensorOps ops, Host host) {}

    /**
     * A worker lives as long as the process and serves every job, so a command that throws outside {@link #call}
     * (a release, a close) is logged and the worker resumes with its sessions intact instead of stopping under them.
     */
    public static Behavior<Command> create(Device device) {
        return Behaviors.supervise(Behaviors.setup((ActorContext<Command> ctx) -> new DeviceWorker(ctx, device)))
                .onFailure(SupervisorStrategy.resume());
    }

    private final Device device;
    private final Map<Long, WorkerSession> sessions = new HashMap<>();

    private DeviceWorker(ActorContext<Command> context, Device device) {
        super(context);
        this.device = device;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(OpenSession.class, this::onOpenSession)
                .onMessage(CloseSession.class, this::onCloseSession)
                .onMessage(Embed.class, this::onEmbed)
                .onMessage(Release.class, this::onRelease)
                .onMessage(ReleaseGeneration.class, this::onReleaseGeneration)
                .onMessage(OpenLayer.class, this::onOpenLayer)
                .onMessage(Accumulate.class, this::onAccumulate)
                .onMessage(ExtractProblems.class, this::onExtractProblems)
                .onMessage(Solve.class, this::onSolve)
                .onMessage(Forward.class, this::onForward)
                .onMessage(Score.class, this::onScore)
                .onMessage(ReportScores.class, this::onReportScores)
                .onMessage(Allocate.class, this::onAllocate)
                .onMessage(CheckpointLayer.class, this::onCheckpointLayer)
                .onMessage(CloseLayer.class, this::onCloseLayer)
                .onMessage(SaveActivation.class, this::onSaveActivation)
                .onMessage(LoadActivation.class, this::onLoadActivation)
                .onMessage(AdoptCheckpoint.class, this::onAdoptCheckpoint)
                .onMessage(RunMasked.class, this::onRunMasked)
                .onMessage(ScoreLoss.class, this::onScoreLoss)
                .onMessage(Evaluate.class, this::onEvaluate)
                .onMessage(ScoreRequests.class, this::onScoreRequests)
                .onMessage(ScoreUnits.class, this::onScoreUnits)
                .onMessage(CompactLayer.class, this::onCompactLayer)
                .onMessage(Generate.class, this::onGenerate)
                .onSignal(PostStop.class, signal -> onStop())
                .build();
    }

    private Behavior<Command> onOpenSession(OpenSession m) {
        WorkerSession old = sessions.put(
                m.session().id(),
                new WorkerSession(
                        m.session(),
                        device.host().models().get(m.model()),
                        m.maxTokens(),
                        m.run(),
                        m.checkpointDtype(),
                        m.faults(),
                        device.ops()));
        if (old != null) {
            old.close();
        }
        getContext()
                .getLog()
                .info(
                        "device {}: session of {} opened ({} open)",
                        device.name(),
                        m.session().job(),
                        sessions.size());
        return this;
    }

    private Behavior<Command> onCloseSession(CloseSession m) {
        WorkerSession s = sessions.remove(m.session().id());
        if (s != null) {
            if (!s.callTimes.isEmpty()) {
                getContext()
                        .getLog()
                        .info(
                                "device {}: time in calls of {}: {}",
                                device.name(),
                                m.session().job(),
                                s.callTimes.describe());
            }
            s.close();
        }
        device.host().activations().releaseAll(m.session().id(), -1);
        return this;
    }

    private Behavior<Command> onEmbed(Embed m) {
        return call(m.session(), "embed", m.target().generation(), m.replyTo(), s -> {
            Tensor out = allocateActivation(s, m.target(), m.tokens().length);
            Tensor table = s.model.embedTokens();
            for (int i = 0; i < m.tokens().length; i++) {
                table.rowSlice(m.tokens()[i], m.tokens()[i] + 1).copyInto(out.rowSlice(i, i + 1));
            }
            return new Stored(m.target());
        });
    }

    private Behavior<Command> onRelease(Release m) {
        device.host().activations().release(m.ref());
        return this;
    }

    private Behavior<Command> onReleaseGeneration(ReleaseGeneration m) {
        device.host().activations().releaseAll(m.session().id(), m.generation());
        return this;
    }

    private Behavior<Command> onOpenLayer(OpenLayer m) {
        return call(m.session(), "open layer " + m.layer(), m.generation(), m.replyTo(), s -> {
            Arena arena = s.openLayerArena(m.layer()); // a restarted pipeline opens its layers afresh
            DecoderLayerWeights dense = s.dense(m.layer());
            DecoderLayerWeights start = m.completed()
                    ? LayerCheckpoint.readAsWritten(s.run.verifiedLayer(m.layer()), s.model.config(), m.layer(), arena)
                    : dense;
            s.layers.put(m.layer(), m.method().open(m.layer(), dense, start, m.completed(), arena));
            s.layerGenerations.put(m.layer(), m.generation());
            return new LayerOpened(m.generation(), m.layer());
        });
    }

    private Behavior<Command> onAccumulate(Accumulate m) {
        return call(m.session(), "accumulate layer " + m.layer(), m.input().generation(), m.replyTo(), s -> {
            s.layer(m.layer())
                    .accumulate(
                            m.phase(),
                            activation(m.input()),
                            m.dense() == null ? null : activation(m.dense()),
                            runner(s, m.layer()),
                            device.ops());
            return new Accumulated(m.layer(), m.input());
        });
    }

    private Behavior<Command> onExtractProblems(ExtractProblems m) {
        return call(m.session(), "extract problems of layer " + m.layer(), -1, m.replyTo(), s -> {
            if (m.phase() == 0) {
                s.prefetchDense(m.layer() + 1); // read while this layer solves
            }
            List<ProblemRef> refs = new ArrayList<>();
            for (LayerProblem p : s.layer(m.layer()).problems(m.phase())) {
                refs.add(device.host().problems().put(p));
            }
            return new ProblemsExtracted(m.layer(), List.copyOf(refs));
        });
    }

    private Behavior<Command> onSolve(Solve m) {
        ProblemRef p = m.problem();
        return call(
                m.session(),
                "solve " + p.name() + " of layer " + p.layer(),
                -1,
                m.replyTo(),
                s -> new Solved(
                        p.layer(), p.name(), device.host().problems().take(p).solve(device.ops())));
    }

    private Behavior<Command> onForward(Forward m) {
        return call(m.session(), "forward layer " + m.layer(), m.input().generation(), m.replyTo(), s -> {
            runInto(s, m.layer(), s.layer(m.layer()).weights(), m.input(), m.output());
            if (m.dense() != null) {
                runInto(s, m.layer(), s.dense(m.layer()), m.dense(), m.denseOutput());
            }
            return new Forwarded(m.layer(), m.input(), m.output(), m.dense(), m.denseOutput());
        });
    }

    private Behavior<Command> onScore(Score m) {
        return call(m.session(), "score layer " + m.layer(), m.input().generation(), m.replyTo(), s -> {
            Tensor input = activation(m.input());
            Tensor output = allocateActivation(s, m.output(), input.rows());
            input.copyInto(output);
            s.layer(m.layer()).score(output, runner(s, m.layer()), device.ops());
            return new Forwarded(m.layer(), m.input(), m.output(), null, null);
        });
    }

    private Behavior<Command> onReportScores(ReportScores m) {
        return call(
                m.session(),
                "scores of layer " + m.layer(),
                -1,
                m.replyTo(),
                s -> new Scored(m.layer(), s.layer(m.layer()).scores(device.ops())));
    }

    private Behavior<Command> onAllocate(Allocate m) {
        session(m.session()).layer(m.allocation().layer()).allocate(m.allocation());
        return this;
    }

    private Behavior<Command> onCheckpointLayer(CheckpointLayer m) {
        return call(m.session(), "checkpoint layer " + m.layer(), m.generation(), m.replyTo(), s -> {
            LayerWork work = s.layer(m.layer());
            StagedLayer staged = writeCheckpoint(s, m.layer(), work.weights(), work.keptUnits());
            work.releaseStatistics();
            return new LayerCheckpointed(m.generation(), m.layer(), staged);
        });
    }

    private Behavior<Command> onSaveActivation(SaveActivation m) {
        return call(
                m.session(),
                "hand off a batch of layer " + m.ref().layer(),
                m.ref().generation(),
                m.replyTo(),
                s -> new ActivationSaved(
                        m.ref(), ActivationFiles.write(activation(m.ref()), s.run.handoffDir(), m.name())));
    }

    private Behavior<Command> onLoadActivation(LoadActivation m) {
        return call(
                m.session(),
                "take over a batch of layer " + m.target().layer(),
                m.target().generation(),
                m.replyTo(),
                s -> {
                    Tensor target = allocateActivation(s, m.target(), m.file().rows());
                    ActivationFiles.readInto(s.run.handoffDir(), m.file(), target);
                    return new Stored(m.target());
                });
    }

    private Behavior<Command> onAdoptCheckpoint(AdoptCheckpoint m) {
        String what = "adopt the checkpoint of layer " + m.staged().layer();
        return call(m.session(), what, m.generation(), m.replyTo(), s -> {
            s.run.adopt(m.staged());
            return new CheckpointAdopted(m.staged().layer());
        });
    }

    private Behavior<Command> onCloseLayer(CloseLayer m) {
        WorkerSession s = sessions.get(m.session().id());
        if (s != null) {
            s.closeLayer(m.layer());
        }
        return this;
    }

    private Behavior<Command> onRunMasked(RunMasked m) {
        return call(m.session(), "masked forward layer " + m.layer(), -1, m.replyTo(), s -> {
            Tensor in = activation(m.input());
            Tensor out = allocateActivation(s, m.output(), in.rows());
            in.copyInto(out);
            s.layerForward.apply(m.layer(), s.dense(m.layer()), m.mask(), LayerTap.NONE, out, 0, s.keys, s.values);
            return new RanMasked(m.layer(), m.input(), m.output());
        });
    }

    private Behavior<Command> onScoreLoss(ScoreLoss m) {
        return call(m.session(), "rollout loss", -1, m.replyTo(), s -> {
            Tensor h = activation(m.hidden());
            int n = h.rows() - 1;
            int[] targets = Arrays.copyOfRange(m.tokens(), 1, n + 1);
            double[] nll = new double[n];
            try (Arena scratch =
                    Arena.ofShared()) { // all n + 1 rows, as LlamaForward does, so the losses agree bit for bit
                Tensor normed = Tensor.allocate(scratch, DType.F32, h.rows(), h.cols()); // (n + 1, hidden)
                Tensor logits = Tensor.allocate(
                        scratch, DType.F32, h.rows(), s.model.lmHead().rows()); // (n + 1, vocab)
                device.ops().rmsNorm(h, s.model.finalNorm(), s.model.config().rmsNormEps(), normed);
                device.ops().linear(normed, s.model.lmHead(), logits);
                device.ops().softmaxCrossEntropy(logits.rowSlice(0, n), targets, nll);
            }
            double sum = 0;
            for (double v : nll) {
                sum += v;
            }
            return new LossScored(m.hidden(), sum, n);
        });
    }

    private Behavior<Command> onEvaluate(Evaluate m) {
        return call(m.session(), "evaluate " + m.dataset(), -1, m.replyTo(), s -> {
            LlamaModel model = device.host().models().get(m.model());
            int window = m.protocol().window(model.config(), m.seqlen());
            try (LlamaForward forward = new LlamaForward(model, device.ops(), window, window)) {
                return new Evaluated(PerplexityEvaluator.evaluate(
                        forward, m.dataset(), m.stream(), m.protocol(), m.maxTokens(), null, ProgressListener.NONE));
            }
        });
    }

    private Behavior<Command> onScoreRequests(ScoreRequests m) {
        return call(
                m.session(),
                "score " + m.requests().size() + " zero-shot requests",
                -1,
                m.replyTo(),
                s -> new RequestsScored(
                        s.scorer(m.model(), device.host().models().get(m.model()), device.ops())
                                .score(m.requests())));
    }

    private Behavior<Command> onScoreUnits(ScoreUnits m) {
        return call(m.session(), "unit scores over " + m.sequences().length + " sequences", -1, m.replyTo(), s -> {
            WandaSpStatistics stats = new WandaSpStatistics(s.model.config());
            int n = 1;
            for (int[] sequence : m.sequences()) {
                n = Math.max(n, sequence.length);
            }
            try (LlamaForward forward = new LlamaForward(s.model, device.ops(), n, n)) {
                var cache = forward.newCache(n);
                for (int[] sequence : m.sequences()) {
                    cache.clear();
                    forward.forward(sequence, cache, null, stats, false);
                }
            }
            MetricInitialisation.UnitScores scores = stats.scores(s.model);
            int layers = s.model.config().numLayers();
            double[][] heads = new double[layers][];
            double[][] channels = new double[layers][];
            for (int l = 0; l < layers; l++) {
                heads[l] = scores.heads(l);
                channels[l] = scores.channels(l);
            }
            return new UnitsScored(heads, channels);
        });
    }

    private Behavior<Command> onCompactLayer(CompactLayer m) {
        return call(m.session(), "compact layer " + m.layer(), -1, m.replyTo(), s -> {
            LlamaConfig.LayerDims d = s.model.config().layer(m.layer());
            try (Arena scratch = Arena.ofConfined()) {
                DecoderLayerWeights compact = LayerSurgery.compact(
                        s.dense(m.layer()), d, s.model.config().headDim(), m.kept(), scratch);
                writeCheckpoint(s, m.layer(), compact, m.kept());
            }
            return new LayerCheckpointed(-1, m.layer(), null);
        });
    }

    private Behavior<Command> onGenerate(Generate m) {
        return call(
                m.session(),
                "generate " + m.samples() + " calibration sequences",
                -1,
                m.replyTo(),
                s -> new Generated(SelfCalibration.generate(
                        s.model,
                        device.ops(),
                        m.samples(),
                        m.seqlen(),
                        m.seed(),
                        m.bos(),
                        m.eos(),
                        (done, total) -> {})));
    }

    /**
     * Commits {@code weights} as layer {@code layer}'s checkpoint (temporary file, fsync, rename) and marks it completed;
     * for a hosted stage, stages it and says where ({@link LayerCheckpoints#commit}).
     */
    private static StagedLayer writeCheckpoint(WorkerSession s, int layer, DecoderLayerWeights w, KeptUnits units) {
        if (s.run == null) {
            throw new IllegalStateException(s.ref.job() + ": no run directory to checkpoint layer " + layer + " into");
        }
        CrashPoints.reach("before-checkpoint");
        LlamaConfig dense = s.model.config();
        roundTo(s.checkpointDtype, layer, w);
        StagedLayer staged = s.run.commit(layer, ch -> {
            LayerCheckpoint.write(
                    ch,
                    dense.withBiases(dense.attentionBias(), w.oBias() != null, w.downBias() != null),
                    layer,
                    LlamaConfig.LayerDims.of(w, dense.headDim()),
                    w,
                    units == null ? null : units.toMetadata(),
                    s.checkpointDtype);
            CrashPoints.reach("mid-write"); // the temporary file is written, the checkpoint not yet in place
        });
        CrashPoints.reach("after-checkpoint");
        return staged;
    }

    /** Rounds the layer's F32 weights in place to {@code dtype}; refuses values that F16 cannot hold. */
    private static void roundTo(DType dtype, int layer, DecoderLayerWeights w) {
        for (LinearModule m : LinearModule.values()) {
            Tensor t = m.weight(w);
            if (t.dtype() == DType.F32 && t.roundTo(dtype) > 0) {
                throw new IllegalArgumentException("layer " + layer + "'s " + m.hfName()
                        + " holds a value beyond F16's range (±65504) after pruning: export it as bf16 or f32");
            }
        }
        for (Tensor t : new Tensor[] {
            w.inputNorm(),
            w.postAttentionNorm(),
            w.qBias(),
            w.kBias(),
            w.vBias(),
            w.oBias(),
            w.gateBias(),
            w.upBias(),
            w.downBias()
        }) {
            if (t != null && t.dtype() == DType.F32) {
                t.roundTo(dtype);
            }
        }
    }

    /** Copies {@code input} into a new activation {@code output} and runs {@code weights} on it in place. */
    private void runInto(
            WorkerSession s, int layer, DecoderLayerWeights weights, ActivationRef input, ActivationRef output) {
        Tensor in = activation(input);
        Tensor out = allocateActivation(s, output, in.rows());
        in.copyInto(out);
        runner(s, layer).run(weights, LayerTap.NONE, out);
    }

    private static LayerRunner runner(WorkerSession s, int layer) {
        return (w, tap, hidden) -> s.layerForward.apply(layer, w, LayerMask.NONE, tap, hidden, 0, s.keys, s.values);
    }

    private Behavior<Command> onStop() {
        sessions.values().forEach(WorkerSession::close);
        sessions.clear();
        return this;
    }

    @FunctionalInterface
    private interface Body {
        Reply run(WorkerSession session) throws Exception;
    }

    /** Runs one kernel call of {@code session}'s job, answering {@link CallFailed} instead of crashing when it throws. */
    private Behavior<Command> call(
            SessionRef session, String what, int generation, ActorRef<Reply> replyTo, Body body) {
        Reply reply;
        try {
            WorkerSession s = session(session);
            s.faults.beforeCall(device.index(), what);
            long start = System.nanoTime();
            try {
                reply = body.run(s);
            } finally {
                device.host().activations().settle(session.id());
                long nanos = System.nanoTime() - start;
                s.callTimes.add(what, nanos);
                getContext().getLog().debug("device {}: {} took {} ms", device.name(), what, nanos / 1_000_000);
            }
        } catch (Exception | AssertionError e) {
            getContext()
                    .getLog()
                    .warn("device {}: {} of {} failed: {}", device.name(), what, session.job(), e.toString());
            reply = new CallFailed(
                    generation,
                    what,
                    e.getMessage() == null ? e.toString() : e.getMessage(),
                    StorageFailures.isLasting(e));
        }
        replyTo.tell(reply);
        return this;
    }

    private WorkerSession session(SessionRef ref) {
        WorkerSession s = sessions.get(ref.id());
        if (s == null) {
            throw new IllegalStateException("job " + ref.job() + " has no session on device " + device.name());
        }
        return s;
    }

    private Tensor allocateActivation(WorkerSession s, ActivationRef ref, int rows) {
        return device.host()
                .activations()
                .allocate(
                        s.ref.id(), ref, rows, s.model.config().hiddenSize(), s.run == null ? null : s.run.spillDir());
    }

    private Tensor activation(ActivationRef ref) {
        return device.host().activations().get(ref);
    }
}
