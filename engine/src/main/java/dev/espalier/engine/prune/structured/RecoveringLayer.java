package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Recovery (greedy output approximation, arXiv 2407.19126, here for every structured method): four phases, each a pass
 * of the layer's calibration batches through both the pruned and the dense model, refit every module before it is
 * pruned by ridge least squares against the dense model's outputs from the pruned model's inputs ({@link RidgeRefit}; a
 * refit is kept only when it lowers the error):
 * <ol>
 *   <li>q, k, v refit on the attention input (one shared Gram; three concurrent solves);</li>
 *   <li>the kept attention units chosen ({@link #recoveryHeads}) on the o_proj input of the refit attention, o_proj
 *       refit on the kept heads' columns, the attention compacted;</li>
 *   <li>gate, up refit on the MLP input after the pruned attention (two concurrent solves);</li>
 *   <li>the kept channels chosen ({@link #recoveryChannels}) on the down_proj input, down_proj refit on their columns,
 *       the FFN compacted.</li>
 * </ol>
 * Each method chooses its units by its own scores on the statistics of the pruned stream after the earlier refits
 * ({@link PhaseInputs}); a given keep set ({@link GivenUnitsLayer}) is recovered the same way.
 *
 * <p>With {@link #compensatesBias()} (FLAP), the refit o_proj / down_proj also gets the least-squares output bias given
 * its refit weight W': with x̄ the dense stream's and x̃̄ the pruned stream's mean input, the bias b + W x̄ − W' x̃̄_S
 * (b the projection's bias so far), so that the mean output matches the dense one; the ridge itself fits no intercept.
 */
abstract class RecoveringLayer extends StructuredLayer {
    static final int PHASES = 4;
    static final int ATTENTION_PHASE = 0;
    static final int HEADS_PHASE = 1;
    static final int MLP_PHASE = 2;
    static final int CHANNELS_PHASE = 3;

    protected final Map<LinearModule, Double> errors = new EnumMap<>(LinearModule.class);
    private final List<AutoCloseable> resources = new ArrayList<>();
    private PhaseInputs paired; // the current phase's statistics of the pruned and dense streams
    protected int headUnitsRemoved; // attention units the heads phase (or the one-pass choice) removed

    RecoveringLayer(
            StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        super(method, layer, dense, start, arena);
    }

    /** Registers a native resource to be freed by {@link #close()}. */
    protected <T extends AutoCloseable> T keep(T resource) {
        resources.add(resource);
        return resource;
    }

    /**
     * The statistics of one input of the layer that a recovery phase gathers: the Grams of the pruned stream (G̃), the
     * dense stream (G) and across them (C); in the heads and channels phases also both streams' column moments.
     */
    final class PhaseInputs {
        final GramStatistics pruned;
        final GramStatistics dense;
        final CrossGramStatistics cross;
        final ColumnMoments prunedMoments; // null in the refit-only phases
        final ColumnMoments denseMoments;

        private PhaseInputs(int width, boolean moments) {
            pruned = keep(new GramStatistics(width));
            dense = keep(new GramStatistics(width));
            cross = keep(new CrossGramStatistics(width, width));
            prunedMoments = moments ? new ColumnMoments(width) : null;
            denseMoments = moments ? new ColumnMoments(width) : null;
        }

        private void add(Tensor x, Tensor d, TensorOps ops) {
            pruned.add(x, ops);
            dense.add(d, ops);
            cross.add(x, d, ops);
            if (prunedMoments != null) {
                prunedMoments.add(x);
                denseMoments.add(d);
            }
        }

        /** The refit weight lives in {@code target}; with nothing kept, the (out, 0) restriction and no error measured. */
        RidgeRefit.Result refit(Tensor weight, int[] kept, Arena target, TensorOps ops) {
            if (kept != null && kept.length == 0) {
                return new RidgeRefit.Result(
                        Tensor.allocate(target, DType.F32, weight.rows(), 0),
                        Double.NaN,
                        Double.NaN,
                        Double.NaN,
                        false);
            }
            return RidgeRefit.refit(
                    weight, pruned.gram(), cross.cross(), dense.gram(), kept, method.ridge(), target, ops);
        }
    }

    /** The kept query heads, sorted, in the dense numbering, from the heads phase's statistics of the o_proj input. */
    protected abstract int[] recoveryHeads(PhaseInputs attentionOutput, TensorOps ops);

    /**
     * The kept channels, sorted, from the channels phase's statistics of the down_proj input (the attention is compacted
     * by then; the channels are still in the dense numbering).
     */
    protected abstract int[] recoveryChannels(PhaseInputs downInput, TensorOps ops);

    /** The attention maps the heads phase feeds from the pruned stream (GOA's head similarity); null: none. */
    protected AttentionMapSimilarity recoveryMaps() {
        return null;
    }

    /** The pruned stream's Gram of the MLP input (after the pruned attention), before gate and up are refit on it. */
    protected void mlpInputGathered(GramStatistics prunedMlpInput) {}

    /** Whether the refit o_proj / down_proj get the least-squares output bias (FLAP's bias compensation). */
    protected boolean compensatesBias() {
        return false;
    }

    /** Which input of the layer a recovery phase reads. */
    private static LinearModule.Input inputOf(int phase) {
        return switch (phase) {
            case ATTENTION_PHASE -> LinearModule.Input.ATTENTION;
            case HEADS_PHASE -> LinearModule.Input.ATTENTION_OUTPUT;
            case MLP_PHASE -> LinearModule.Input.MLP;
            default -> LinearModule.Input.DOWN;
        };
    }

    /** One recovery phase's pass: the layer so far on the pruned stream, the dense layer on the dense stream. */
    protected final void accumulateRecovery(
            int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        LinearModule.Input which = inputOf(phase);
        try (Arena scratch = Arena.ofConfined()) {
            Capture prunedCapture = new Capture(which, scratch, phase == HEADS_PHASE ? recoveryMaps() : null);
            run(runner, weights, prunedCapture, input);
            Capture denseCapture = new Capture(which, scratch, null);
            run(runner, dense, denseCapture, denseInput);
            if (paired == null) {
                paired = new PhaseInputs(prunedCapture.x.cols(), phase == HEADS_PHASE || phase == CHANNELS_PHASE);
            }
            paired.add(prunedCapture.x, denseCapture.x, ops);
        }
    }

    /** Copies one input of the layer (and feeds attention maps, when given) during a forward pass. */
    private static final class Capture implements LayerTap {
        private final LinearModule.Input which;
        private final Arena arena;
        private final AttentionMapSimilarity maps;
        Tensor x;

        Capture(LinearModule.Input which, Arena arena, AttentionMapSimilarity maps) {
            this.which = which;
            this.arena = arena;
            this.maps = maps;
        }

        private void take(LinearModule.Input input, Tensor t) {
            if (input == which) {
                x = t.copyAs(arena, DType.F32);
            }
        }

        @Override
        public void attentionInput(int l, Tensor t) {
            take(LinearModule.Input.ATTENTION, t);
        }

        @Override
        public void attentionOutput(int l, Tensor t) {
            take(LinearModule.Input.ATTENTION_OUTPUT, t);
        }

        @Override
        public void mlpInput(int l, Tensor t) {
            take(LinearModule.Input.MLP, t);
        }

        @Override
        public void downInput(int l, Tensor t) {
            take(LinearModule.Input.DOWN, t);
        }

        @Override
        public boolean wantsAttentionProbabilities(int l) {
            return maps != null;
        }

        @Override
        public void attentionProbabilities(int l, int head, Tensor p) {
            maps.add(head, p);
        }
    }

    /** The solves of one recovery phase, on the statistics its pass gathered. */
    protected final List<LayerProblem> recoveryProblems(int phase) {
        PhaseInputs s = paired;
        paired = null; // the next phase accumulates fresh statistics
        return switch (phase) {
            case ATTENTION_PHASE ->
                List.of(
                        refitInPlace(s, LinearModule.Q),
                        refitInPlace(s, LinearModule.K),
                        refitInPlace(s, LinearModule.V));
            case HEADS_PHASE ->
                List.of(problem("attention units", ops -> {
                    int[] heads = recoveryHeads(s, ops);
                    int[] columns = LayerSurgery.units(heads, headDim());
                    RidgeRefit.Result o = s.refit(weights.o(), columns, arena, ops);
                    errors.put(LinearModule.O, relative(o));
                    float[] bias = compensatesBias() ? outputBias(weights.o(), o.weight(), columns, s) : null;
                    compact(new KeptUnits(heads, all(weights.gate().rows())));
                    weights = withO(weights, o.weight());
                    if (bias != null) {
                        weights = LayerSurgery.addOutputBiases(weights, bias, null, arena);
                    }
                    return outcomes(errors);
                }));
            case MLP_PHASE -> {
                mlpInputGathered(s.pruned);
                yield List.of(refitInPlace(s, LinearModule.GATE), refitInPlace(s, LinearModule.UP));
            }
            case CHANNELS_PHASE ->
                List.of(problem("channels", ops -> {
                    int[] channels = recoveryChannels(s, ops);
                    RidgeRefit.Result down = s.refit(weights.down(), channels, arena, ops);
                    errors.put(LinearModule.DOWN, relative(down));
                    float[] bias = compensatesBias() ? outputBias(weights.down(), down.weight(), channels, s) : null;
                    compact(new KeptUnits(all(weights.q().rows() / headDim()), channels));
                    weights = withDown(weights, down.weight());
                    if (bias != null) {
                        weights = LayerSurgery.addOutputBiases(weights, null, bias, arena);
                    }
                    return outcomes(errors);
                }));
            default -> throw new IllegalArgumentException("recovery has " + PHASES + " phases, not " + (phase + 1));
        };
    }

    /**
     * The change of the output bias that makes the refit map's mean output the dense one's: W x̄ − W' x̃̄_S, with W
     * (out, in) the map before the refit, x̄ the dense stream's mean input, W' (out, |S|) the refit map, x̃̄ the pruned
     * stream's mean input. Given W', this is the least-squares bias: the residual's mean.
     */
    static float[] outputBias(Tensor before, Tensor refit, int[] kept, PhaseInputs s) {
        double[] denseMean = s.denseMoments.mean();
        double[] prunedMean = s.prunedMoments.mean();
        float[] out = new float[before.rows()];
        for (int r = 0; r < before.rows(); r++) {
            double v = 0;
            for (int c = 0; c < before.cols(); c++) {
                v += before.getDouble(r, c) * denseMean[c];
            }
            for (int i = 0; i < kept.length; i++) {
                v -= refit.getDouble(r, i) * prunedMean[kept[i]];
            }
            out[r] = (float) v;
        }
        return out;
    }

    /** Refits one map on all its input columns, in place (the maps of a phase are independent). */
    private LayerProblem refitInPlace(PhaseInputs s, LinearModule module) {
        return problem(module.hfName() + " recovery", ops -> {
            Tensor w = module.weight(weights);
            try (Arena scratch = Arena.ofConfined()) {
                RidgeRefit.Result r = s.refit(w, null, scratch, ops);
                if (r.refitted()) {
                    r.weight().copyInto(w);
                }
                synchronized (errors) {
                    errors.put(module, relative(r));
                }
            }
            return Map.of();
        });
    }

    private static double relative(RidgeRefit.Result r) {
        return Double.isNaN(r.denseEnergy()) ? Double.NaN : r.denseEnergy() > 0 ? r.error() / r.denseEnergy() : 0;
    }

    /**
     * The kept query heads for per-query-head scores (higher = keep): the allocated number of attention units, or the
     * layer's uniform share, of the best; records {@link #headUnitsRemoved}.
     */
    protected int[] bestHeads(double[] queryHeadScores) {
        StructuredAllocation.LayerUnits units =
                method.units(layer, queryHeadScores, new double[denseDims.intermediateSize()]);
        int[] keptUnits = StructuredAllocation.keepHighest(units.headScores(), attentionUnitsToKeep(units));
        headUnitsRemoved = units.headScores().length - keptUnits.length;
        return HeadUnits.queryHeads(keptUnits, queryHeadScores, denseDims, method.granularity());
    }

    /** The attention units to keep: the allocated number, or the layer's uniform share. */
    protected int attentionUnitsToKeep(StructuredAllocation.LayerUnits units) {
        return allocation != null
                ? allocation.attentionUnits()
                : StructuredAllocation.uniform(List.of(units), method.sparsity(), 0)
                        .keptHeadUnits()[0]
                        .length;
    }

    /** The kept channels: the allocated number (or the rest of the layer's uniform share) of the best scores. */
    protected int[] bestChannels(double[] channelScores) {
        int keep;
        if (allocation != null) {
            keep = allocation.channels();
        } else {
            StructuredAllocation.LayerUnits units =
                    method.units(layer, new double[denseDims.numHeads()], channelScores);
            keep = channelScores.length
                    - StructuredAllocation.channelsToRemove(units, method.sparsity(), headUnitsRemoved, 0);
        }
        return StructuredAllocation.keepHighest(channelScores, keep);
    }

    protected LayerProblem problem(
            String name, Function<TensorOps, Map<LinearModule, LinearPruner.PruneOutcome>> body) {
        return LayerProblem.of(layer, name, body);
    }

    protected static int[] all(int n) {
        int[] r = new int[n];
        Arrays.setAll(r, i -> i);
        return r;
    }

    private static DecoderLayerWeights withO(DecoderLayerWeights w, Tensor o) {
        return new DecoderLayerWeights(
                w.inputNorm(),
                w.q(),
                w.k(),
                w.v(),
                o,
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
                w.downBias());
    }

    private static DecoderLayerWeights withDown(DecoderLayerWeights w, Tensor down) {
        return new DecoderLayerWeights(
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
                down,
                w.gateBias(),
                w.upBias(),
                w.downBias());
    }

    @Override
    public void close() {
        for (AutoCloseable r : resources) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the statistics of layer " + layer, e);
            }
        }
        resources.clear();
    }
}
