package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;

/**
 * The structural surgery of one decoder layer given its {@link KeptUnits}. {@link #compact} removes the pruned units
 * physically: q rows of removed query heads, k/v rows of removed key/value groups, the matching o_proj columns, and
 * gate/up rows and down_proj columns of removed FFN channels, with the q/k/v and gate/up biases sliced alike (o_proj
 * and down_proj biases are hidden-sized and kept whole). {@link #maskDense} keeps the dense shapes and zeroes the same
 * rows and columns: its twin, which computes the same function. Results are new F32 tensors in the caller's arena;
 * the input layer is never modified.
 */
public final class LayerSurgery {
    private LayerSurgery() {}

    /** The compact layer: only the kept heads, key/value groups and channels, F32, allocated in {@code arena}. */
    public static DecoderLayerWeights compact(
            DecoderLayerWeights dense, LlamaConfig.LayerDims denseDims, int headDim, KeptUnits kept, Arena arena) {
        kept.dims(denseDims); // validates the indices and the GQA grouping
        int[] qRows = units(kept.queryHeads(), headDim);
        int[] kvRows = units(kept.kvHeads(denseDims), headDim);
        int[] channels = kept.channels();
        return new DecoderLayerWeights(
                copy(dense.inputNorm(), arena),
                rows(dense.q(), qRows, arena),
                rows(dense.k(), kvRows, arena),
                rows(dense.v(), kvRows, arena),
                columns(dense.o(), qRows, arena),
                elements(dense.qBias(), qRows, arena),
                elements(dense.kBias(), kvRows, arena),
                elements(dense.vBias(), kvRows, arena),
                copy(dense.oBias(), arena),
                copy(dense.postAttentionNorm(), arena),
                rows(dense.gate(), channels, arena),
                rows(dense.up(), channels, arena),
                columns(dense.down(), channels, arena),
                elements(dense.gateBias(), channels, arena),
                elements(dense.upBias(), channels, arena),
                copy(dense.downBias(), arena));
    }

    /**
     * The inverse of {@link #compact}: a compact layer (the units {@code kept} of a dense layer of {@code denseDims},
     * possibly with refit weights) scattered back into dense shapes, the removed units zero. Its forward pass equals the
     * compact layer's; it is what stock loaders read.
     */
    public static DecoderLayerWeights expand(
            DecoderLayerWeights compact, LlamaConfig.LayerDims denseDims, int headDim, KeptUnits kept, Arena arena) {
        if (!kept.dims(denseDims).equals(LlamaConfig.LayerDims.of(compact, headDim))) {
            throw new IllegalArgumentException("a compact layer of " + LlamaConfig.LayerDims.of(compact, headDim)
                    + " does not keep " + kept.dims(denseDims));
        }
        int[] qRows = units(kept.queryHeads(), headDim);
        int[] kvRows = units(kept.kvHeads(denseDims), headDim);
        int[] channels = kept.channels();
        int q = denseDims.numHeads() * headDim;
        int kv = denseDims.numKvHeads() * headDim;
        int ffn = denseDims.intermediateSize();
        return new DecoderLayerWeights(
                copy(compact.inputNorm(), arena),
                scatterRows(compact.q(), qRows, q, arena),
                scatterRows(compact.k(), kvRows, kv, arena),
                scatterRows(compact.v(), kvRows, kv, arena),
                scatterColumns(compact.o(), qRows, q, arena),
                scatterElements(compact.qBias(), qRows, q, arena),
                scatterElements(compact.kBias(), kvRows, kv, arena),
                scatterElements(compact.vBias(), kvRows, kv, arena),
                copy(compact.oBias(), arena),
                copy(compact.postAttentionNorm(), arena),
                scatterRows(compact.gate(), channels, ffn, arena),
                scatterRows(compact.up(), channels, ffn, arena),
                scatterColumns(compact.down(), channels, ffn, arena),
                scatterElements(compact.gateBias(), channels, ffn, arena),
                scatterElements(compact.upBias(), channels, ffn, arena),
                copy(compact.downBias(), arena));
    }

    private static Tensor scatterRows(Tensor w, int[] rows, int denseRows, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, denseRows, w.cols());
        for (int i = 0; i < rows.length; i++) {
            w.rowSlice(i, i + 1).copyInto(out.rowSlice(rows[i], rows[i] + 1));
        }
        return out;
    }

    private static Tensor scatterColumns(Tensor w, int[] columns, int denseColumns, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, w.rows(), denseColumns);
        for (int r = 0; r < w.rows(); r++) {
            for (int i = 0; i < columns.length; i++) {
                out.set(r, columns[i], w.get(r, i));
            }
        }
        return out;
    }

    private static Tensor scatterElements(Tensor bias, int[] indices, int denseLength, Arena arena) {
        if (bias == null) {
            return null;
        }
        Tensor out = Tensor.allocate(arena, DType.F32, denseLength);
        for (int i = 0; i < indices.length; i++) {
            out.setFlat(indices[i], bias.getFlat(i));
        }
        return out;
    }

    /**
     * The masked-dense twin: an F32 copy with the dense shapes whose removed units are zero (q, k, v rows and biases, o
     * columns; gate, up rows and biases, down columns). Its forward pass equals the compact layer's.
     */
    public static DecoderLayerWeights maskDense(
            DecoderLayerWeights dense, LlamaConfig.LayerDims denseDims, int headDim, KeptUnits kept, Arena arena) {
        kept.dims(denseDims);
        boolean[] qKeep = keepFlags(units(kept.queryHeads(), headDim), denseDims.numHeads() * headDim);
        boolean[] kvKeep = keepFlags(units(kept.kvHeads(denseDims), headDim), denseDims.numKvHeads() * headDim);
        boolean[] chKeep = keepFlags(kept.channels(), denseDims.intermediateSize());
        DecoderLayerWeights w = new DecoderLayerWeights(
                copy(dense.inputNorm(), arena),
                copy(dense.q(), arena),
                copy(dense.k(), arena),
                copy(dense.v(), arena),
                copy(dense.o(), arena),
                copy(dense.qBias(), arena),
                copy(dense.kBias(), arena),
                copy(dense.vBias(), arena),
                copy(dense.oBias(), arena),
                copy(dense.postAttentionNorm(), arena),
                copy(dense.gate(), arena),
                copy(dense.up(), arena),
                copy(dense.down(), arena),
                copy(dense.gateBias(), arena),
                copy(dense.upBias(), arena),
                copy(dense.downBias(), arena));
        zeroRows(w.q(), qKeep);
        zeroRows(w.k(), kvKeep);
        zeroRows(w.v(), kvKeep);
        zeroColumns(w.o(), qKeep);
        zeroElements(w.qBias(), qKeep);
        zeroElements(w.kBias(), kvKeep);
        zeroElements(w.vBias(), kvKeep);
        zeroRows(w.gate(), chKeep);
        zeroRows(w.up(), chKeep);
        zeroColumns(w.down(), chKeep);
        zeroElements(w.gateBias(), chKeep);
        zeroElements(w.upBias(), chKeep);
        return w;
    }

    /** The forward-pass mask of {@code kept}: 1 for kept query heads and channels, 0 for removed ones. */
    public static LayerMask mask(LlamaConfig.LayerDims denseDims, KeptUnits kept) {
        float[] heads = new float[denseDims.numHeads()];
        float[] channels = new float[denseDims.intermediateSize()];
        for (int h : kept.queryHeads()) {
            heads[h] = 1f;
        }
        for (int c : kept.channels()) {
            channels[c] = 1f;
        }
        return new LayerMask(heads, channels);
    }

    /**
     * FLAP's bias compensation of one output projection: {@code Σ_{c ∈ removed} W[:, c] · mean[c]}, the average
     * contribution of the removed input columns, to be added to the projection's bias.
     *
     * @param weight  o_proj (hidden, heads·headDim) or down_proj (hidden, intermediate) of the dense layer
     * @param removed removed input columns (for heads: every column of each removed head)
     * @param mean    (in_features) the mean input of each column over the calibration tokens
     * @return (hidden) the compensation vector
     */
    public static float[] compensation(Tensor weight, int[] removed, double[] mean) {
        weight.requireRank(2);
        if (mean.length != weight.cols()) {
            throw new IllegalArgumentException(
                    mean.length + " column means for a weight of " + weight.cols() + " columns");
        }
        float[] out = new float[weight.rows()];
        for (int r = 0; r < weight.rows(); r++) {
            double s = 0;
            for (int c : removed) {
                s += weight.getDouble(r, c) * mean[c];
            }
            out[r] = (float) s;
        }
        return out;
    }

    /** The o_proj input columns of the query heads {@code kept} removes (headDim columns per head), sorted. */
    public static int[] removedHeadColumns(LlamaConfig.LayerDims denseDims, int headDim, KeptUnits kept) {
        return units(complement(kept.queryHeads(), denseDims.numHeads()), headDim);
    }

    /** The FFN channels {@code kept} removes, sorted. */
    public static int[] removedChannels(LlamaConfig.LayerDims denseDims, KeptUnits kept) {
        return complement(kept.channels(), denseDims.intermediateSize());
    }

    /**
     * The layer with {@code attentionOutput} added to its o_proj bias and {@code mlpOutput} to its down_proj bias (each
     * may be null: that bias is left as it is); a missing bias starts at zero. The changed biases are new F32 tensors
     * in {@code arena}; all other tensors are shared with {@code w}. A config describing the result must declare the
     * biases ({@link StructuredModels#withBiasesOf}).
     */
    public static DecoderLayerWeights addOutputBiases(
            DecoderLayerWeights w, float[] attentionOutput, float[] mlpOutput, Arena arena) {
        Tensor oBias = attentionOutput == null ? w.oBias() : plus(w.oBias(), attentionOutput, w.o().rows(), arena);
        Tensor downBias = mlpOutput == null
                ? w.downBias()
                : plus(w.downBias(), mlpOutput, w.down().rows(), arena);
        return new DecoderLayerWeights(
                w.inputNorm(),
                w.q(),
                w.k(),
                w.v(),
                w.o(),
                w.qBias(),
                w.kBias(),
                w.vBias(),
                oBias,
                w.postAttentionNorm(),
                w.gate(),
                w.up(),
                w.down(),
                w.gateBias(),
                w.upBias(),
                downBias);
    }

    private static Tensor plus(Tensor bias, float[] delta, int hidden, Arena arena) {
        if (delta.length != hidden) {
            throw new IllegalArgumentException(
                    "bias compensation of " + delta.length + " values for a hidden size of " + hidden);
        }
        Tensor out = Tensor.allocate(arena, DType.F32, hidden);
        for (int i = 0; i < hidden; i++) {
            out.setFlat(i, (bias == null ? 0.0 : bias.getFlat(i)) + delta[i]);
        }
        return out;
    }

    /** Indices u·width .. u·width + width − 1 of every unit u, in order (a head's q rows, o_proj columns, …). */
    public static int[] units(int[] units, int width) {
        int[] out = new int[units.length * width];
        for (int i = 0; i < units.length; i++) {
            for (int j = 0; j < width; j++) {
                out[i * width + j] = units[i] * width + j;
            }
        }
        return out;
    }

    private static int[] complement(int[] kept, int n) {
        boolean[] k = keepFlags(kept, n);
        int[] out = new int[n - kept.length];
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!k[i]) {
                out[j++] = i;
            }
        }
        return out;
    }

    private static boolean[] keepFlags(int[] kept, int n) {
        boolean[] flags = new boolean[n];
        for (int i : kept) {
            flags[i] = true;
        }
        return flags;
    }

    private static Tensor copy(Tensor t, Arena arena) {
        return t == null ? null : t.copyAs(arena, DType.F32);
    }

    private static Tensor rows(Tensor w, int[] rows, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, rows.length, w.cols());
        for (int i = 0; i < rows.length; i++) {
            w.rowSlice(rows[i], rows[i] + 1).copyInto(out.rowSlice(i, i + 1));
        }
        return out;
    }

    private static Tensor columns(Tensor w, int[] columns, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, w.rows(), columns.length);
        float[] row = new float[w.cols()];
        for (int r = 0; r < w.rows(); r++) {
            Tensor src = w.rowSlice(r, r + 1).reshape(w.cols());
            for (int c = 0; c < row.length; c++) {
                row[c] = src.getFlat(c);
            }
            for (int i = 0; i < columns.length; i++) {
                out.setFlat((long) r * columns.length + i, row[columns[i]]);
            }
        }
        return out;
    }

    private static Tensor elements(Tensor bias, int[] indices, Arena arena) {
        if (bias == null) {
            return null;
        }
        Tensor out = Tensor.allocate(arena, DType.F32, indices.length);
        for (int i = 0; i < indices.length; i++) {
            out.setFlat(i, bias.getFlat(indices[i]));
        }
        return out;
    }

    private static void zeroRows(Tensor w, boolean[] keep) {
        for (int r = 0; r < keep.length; r++) {
            if (!keep[r]) {
                w.rowSlice(r, r + 1).zero();
            }
        }
    }

    private static void zeroColumns(Tensor w, boolean[] keep) {
        for (int r = 0; r < w.rows(); r++) {
            for (int c = 0; c < keep.length; c++) {
                if (!keep[c]) {
                    w.set(r, c, 0);
                }
            }
        }
    }

    private static void zeroElements(Tensor bias, boolean[] keep) {
        if (bias != null) {
            for (int i = 0; i < keep.length; i++) {
                if (!keep[i]) {
                    bias.setFlat(i, 0);
                }
            }
        }
    }
}
