package dev.espalier.engine.runtime;

import dev.espalier.engine.eval.zeroshot.LoglikelihoodScorer;
import dev.espalier.engine.forward.DecoderLayerForward;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.engine.runtime.store.LayerCheckpoints;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One job's state on one device worker: the job's model, scratch for one layer's forward pass, and the layers the job
 * has open on this worker (their writable weights and statistics, each layer in an arena of its own). A layer is opened
 * when its stage first needs it and closed once it has streamed its outputs: its memory is freed and the pages of its
 * dense weights that the model maps from the checkpoint are dropped, so that a job holds only the layers in flight.
 * The next layer's pages are read ahead while a layer solves ({@link #prefetchDense}). Only its worker touches it.
 */
final class WorkerSession implements AutoCloseable {
    /** Reads dense layers' pages ahead of their stages, for every session of the process: one thread, mostly waiting on the disk. */
    private static final ExecutorService PREFETCH = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "espalier-prefetch");
        t.setDaemon(true);
        return t;
    });

    final SessionRef ref;
    final LlamaModel model;
    final LayerCheckpoints run; // where the job's checkpoints go; null for jobs that write none
    final DType checkpointDtype; // the dtype checkpoints are stored in (the export's)
    final FaultInjector faults;
    final Arena arena = Arena.ofShared(); // the session's scratch
    final DecoderLayerForward layerForward;
    final Tensor keys; // (maxTokens, max kv width): scratch cache of one sequence
    final Tensor values; // (maxTokens, max kv width)
    final Map<Integer, LayerWork> layers = new HashMap<>();
    final CallTimes callTimes = new CallTimes();
    final Map<Integer, Integer> layerGenerations = new HashMap<>(); // layer -> pipeline generation that opened it
    private final Map<Integer, Arena> layerArenas = new HashMap<>(); // layer -> its writable weights and statistics
    private final List<Arena> retired = new ArrayList<>(); // layer arenas a solve of a stopped pipeline still held
    private ModelRef scoredModel; // the model the zero-shot scorer runs, kept between a task's batches
    private LlamaForward scoringForward;
    private LoglikelihoodScorer scorer;

    WorkerSession(
            SessionRef ref,
            LlamaModel model,
            int maxTokens,
            LayerCheckpoints run,
            DType checkpointDtype,
            FaultInjector faults,
            TensorOps ops) {
        this.ref = ref;
        this.model = model;
        this.run = run;
        this.checkpointDtype = checkpointDtype;
        this.faults = faults;
        LlamaConfig config = model.config();
        this.layerForward = new DecoderLayerForward(config, ops, arena, maxTokens, maxTokens);
        int kvWidth = 1;
        for (LlamaConfig.LayerDims d : config.layers()) {
            kvWidth = Math.max(kvWidth, d.numKvHeads() * config.headDim());
        }
        this.keys = Tensor.allocate(arena, DType.F32, maxTokens, kvWidth);
        this.values = Tensor.allocate(arena, DType.F32, maxTokens, kvWidth);
    }

    LayerWork layer(int layer) {
        LayerWork w = layers.get(layer);
        if (w == null) {
            throw new IllegalStateException(ref.job() + ": layer " + layer + " is not open on this worker");
        }
        return w;
    }

    DecoderLayerWeights dense(int layer) {
        return model.layer(layer);
    }

    /**
     * The zero-shot scorer of {@code model} (the host model {@code ref}), at the model's context length; built on the
     * first batch and kept while the job scores the same model, so that one model's scratch is held at a time.
     */
    LoglikelihoodScorer scorer(ModelRef ref, LlamaModel model, TensorOps ops) {
        if (!ref.equals(scoredModel)) {
            closeScorer();
            int maxLength = model.config().maxPositionEmbeddings();
            scoringForward = new LlamaForward(model, ops, maxLength, maxLength);
            scorer = new LoglikelihoodScorer(scoringForward, ops, maxLength);
            scoredModel = ref;
        }
        return scorer;
    }

    private void closeScorer() {
        if (scoringForward != null) {
            scoringForward.close();
        }
        scoringForward = null;
        scorer = null;
        scoredModel = null;
    }

    /** A new arena for layer {@code layer}'s work, closed with the layer (any earlier one is closed first). */
    Arena openLayerArena(int layer) {
        closeLayer(layer);
        Arena a = Arena.ofShared();
        layerArenas.put(layer, a);
        return a;
    }

    /** Frees layer {@code layer}'s work and arena and drops the resident pages of its dense weights. */
    void closeLayer(int layer) {
        LayerWork work = layers.remove(layer);
        layerGenerations.remove(layer);
        if (work != null) {
            work.close();
        }
        Arena a = layerArenas.remove(layer);
        if (a != null) {
            closeOrRetire(a);
        }
        unloadDense(model.layer(layer));
    }

    /** A restarted pipeline may close a layer while a solve of the stopped one still reads it: freed with the session. */
    private void closeOrRetire(Arena a) {
        try {
            a.close();
        } catch (IllegalStateException stillInUse) {
            retired.add(a);
        }
    }

    /**
     * Starts reading the dense weights of layer {@code layer} (when the model has it) into memory on a background
     * thread, so that its stage opens it without waiting for the disk: called when the layer before starts solving, so
     * at most two layers' pages are resident at a time.
     */
    void prefetchDense(int layer) {
        if (layer < model.config().numLayers()) {
            DecoderLayerWeights w = model.layer(layer);
            PREFETCH.execute(() -> {
                try {
                    denseTensors(w).forEach(Tensor::loadIfMapped);
                } catch (IllegalStateException modelClosed) {
                    // the job ended first: nothing to read for
                }
            });
        }
    }

    private static void unloadDense(DecoderLayerWeights w) {
        denseTensors(w).forEach(Tensor::unloadIfMapped);
    }

    private static List<Tensor> denseTensors(DecoderLayerWeights w) {
        List<Tensor> tensors = new ArrayList<>();
        for (Tensor t : new Tensor[] {
            w.inputNorm(),
            w.q(),
            w.k(),
            w.v(),
            w.o(),
            w.qBias(),
            w.kBias(),
            w.vBias(),
            w.oBias(),
            w.postAttentionNorm(),
            w.gate(),
            w.up(),
            w.down(),
            w.gateBias(),
            w.upBias(),
            w.downBias()
        }) {
            if (t != null) {
                tensors.add(t);
            }
        }
        return tensors;
    }

    @Override
    public void close() {
        new ArrayList<>(layers.keySet()).forEach(this::closeLayer);
        retired.forEach(this::closeOrRetire);
        closeScorer();
        arena.close();
    }
}
