package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * Recovery of a structurally pruned linear map by least squares against the dense outputs, from Grams only. With
 * X̃ (N, in) the map's inputs in the pruned stream, X (N, in) the dense stream's, W (out, in) the dense weight and S
 * the kept input columns:
 * <pre>
 *   W'  = argmin_V ||X̃_S Vᵀ − X Wᵀ||² + λ ||V||²   ⇒   W'ᵀ = (G̃_SS + λI)⁻¹ C_{S,:} Wᵀ,     V (out, |S|)
 *   E(V) = ||X̃_S Vᵀ − X Wᵀ||² = tr(V G̃_SS Vᵀ) − 2 tr(V C_{S,:} Wᵀ) + tr(W G Wᵀ)
 * </pre>
 * with G̃ = X̃ᵀX̃, C = X̃ᵀX ({@link CrossGramStatistics}), G = XᵀX. λ = relativeDamping · mean diag(G̃_SS), default
 * {@value #DEFAULT_RELATIVE_DAMPING}: SparseGPT's percdamp, the damping this project's second-order pruners already
 * use; it makes the system positive definite when some kept input is dead or collinear, and shrinks W' by at most
 * about 1% on inputs of average energy. If the Cholesky factorisation still fails, λ grows tenfold, up to four times.
 *
 * <p>The refit is kept only if E(W') &lt; E(W[:, S]), the plain restriction's error, so recovery never increases the
 * error on the calibration data (as measured from the Grams).
 *
 * <p>The pruned and dense streams have the same width (a masked pruned stream); S indexes both.
 */
public final class RidgeRefit {
    /** λ relative to the mean diagonal of G̃_SS (SparseGPT's percdamp). */
    public static final double DEFAULT_RELATIVE_DAMPING = 0.01;

    private static final int DAMPING_RETRIES = 4;

    private RidgeRefit() {}

    /**
     * @param weight          the chosen weight (out, |S|) F32, in the caller's arena: W' if refitted, else W[:, S]
     * @param refitError      E(W'), or NaN when no factorisation succeeded
     * @param restrictedError E(W[:, S])
     * @param denseEnergy     tr(W G Wᵀ) = ||X Wᵀ||², the scale for relative errors
     * @param refitted        whether {@code weight} is W'
     */
    public record Result(
            Tensor weight, double refitError, double restrictedError, double denseEnergy, boolean refitted) {
        /** The chosen weight's error. */
        public double error() {
            return refitted ? refitError : restrictedError;
        }
    }

    /** {@link #refit(Tensor, Tensor, Tensor, Tensor, int[], double, Arena, TensorOps)} with the default damping. */
    public static Result refit(
            Tensor weight, Tensor prunedGram, Tensor cross, Tensor denseGram, int[] kept, Arena arena, TensorOps ops) {
        return refit(weight, prunedGram, cross, denseGram, kept, DEFAULT_RELATIVE_DAMPING, arena, ops);
    }

    /**
     * Refits W on the kept columns, or keeps the restriction when that is not worse.
     *
     * @param weight     W (out, in), any float dtype
     * @param prunedGram G̃ (in, in) F32 or F64
     * @param cross      C (in, in) = X̃ᵀX
     * @param denseGram  G (in, in)
     * @param kept       S, sorted distinct indices into 0 .. in − 1; null for all columns
     * @param arena      where the returned weight lives
     */
    public static Result refit(
            Tensor weight,
            Tensor prunedGram,
            Tensor cross,
            Tensor denseGram,
            int[] kept,
            double relativeDamping,
            Arena arena,
            TensorOps ops) {
        int out = weight.rows();
        int in = weight.cols();
        requireSquare(prunedGram, in, "pruned Gram");
        requireSquare(cross, in, "cross Gram");
        requireSquare(denseGram, in, "dense Gram");
        if (!(relativeDamping > 0)) {
            throw new IllegalArgumentException("relative damping must be positive, got " + relativeDamping);
        }
        int[] s = kept == null ? range(in) : kept.clone();
        for (int i = 0; i < s.length; i++) {
            if (s[i] < 0 || s[i] >= in || (i > 0 && s[i] <= s[i - 1])) {
                throw new IllegalArgumentException("RidgeRefit: kept columns must be sorted, distinct and in 0.."
                        + (in - 1) + ", got " + Arrays.toString(kept));
            }
        }
        int n = s.length;
        try (Arena scratch = Arena.ofConfined()) {
            Tensor w = weight.copyAs(scratch, DType.F32); // (out, in) W
            Tensor restricted = gatherColumns(w, s, arena); // (out, n) W[:, S]
            Tensor crossRows = Tensor.allocate(scratch, DType.F32, n, in); // (n, in) C_{S,:}
            for (int i = 0; i < n; i++) {
                cross.rowSlice(s[i], s[i] + 1).copyInto(crossRows.rowSlice(i, i + 1));
            }
            Tensor rhs = Tensor.allocate(scratch, DType.F32, n, out); // (n, out) C_{S,:} Wᵀ
            ops.gemm(false, true, 1f, crossRows, w, 0f, rhs);
            Tensor gss = Tensor.allocate(scratch, DType.F32, n, n); // (n, n) G̃_SS
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    gss.set(i, j, prunedGram.getDouble(s[i], s[j]));
                }
            }
            double denseEnergy = quadraticTrace(
                    w, denseGram.dtype() == DType.F32 ? denseGram : denseGram.copyAs(scratch, DType.F32), scratch, ops);
            double restrictedError = error(restricted, gss, rhs, denseEnergy, scratch, ops);
            Tensor solution = solve(gss, rhs, relativeDamping, scratch, ops); // (n, out) F64 W'ᵀ, or null
            if (solution == null) {
                return new Result(restricted, Double.NaN, restrictedError, denseEnergy, false);
            }
            Tensor refitted = Tensor.allocate(arena, DType.F32, out, n); // (out, n) W'
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    refitted.set(o, i, solution.getDouble(i, o));
                }
            }
            double refitError = error(refitted, gss, rhs, denseEnergy, scratch, ops);
            return refitError < restrictedError
                    ? new Result(refitted, refitError, restrictedError, denseEnergy, true)
                    : new Result(restricted, refitError, restrictedError, denseEnergy, false);
        }
    }

    /**
     * E(V) = tr(V G̃_SS Vᵀ) − 2 tr(V C_{S,:} Wᵀ) + tr(W G Wᵀ) for a candidate V (out, |S|), from the Grams; the
     * ||X̃_S Vᵀ − X Wᵀ||² of the class comment.
     */
    public static double error(
            Tensor candidate,
            Tensor weight,
            Tensor prunedGram,
            Tensor cross,
            Tensor denseGram,
            int[] kept,
            TensorOps ops) {
        int in = weight.cols();
        int[] s = kept == null ? range(in) : kept;
        int n = s.length;
        try (Arena scratch = Arena.ofConfined()) {
            Tensor w = weight.copyAs(scratch, DType.F32);
            Tensor v = candidate.copyAs(scratch, DType.F32);
            Tensor crossRows = Tensor.allocate(scratch, DType.F32, n, in);
            for (int i = 0; i < n; i++) {
                cross.rowSlice(s[i], s[i] + 1).copyInto(crossRows.rowSlice(i, i + 1));
            }
            Tensor rhs = Tensor.allocate(scratch, DType.F32, n, weight.rows());
            ops.gemm(false, true, 1f, crossRows, w, 0f, rhs);
            Tensor gss = Tensor.allocate(scratch, DType.F32, n, n);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    gss.set(i, j, prunedGram.getDouble(s[i], s[j]));
                }
            }
            double dense = quadraticTrace(w, denseGram.copyAs(scratch, DType.F32), scratch, ops);
            return error(v, gss, rhs, dense, scratch, ops);
        }
    }

    private static double error(Tensor v, Tensor gss, Tensor rhs, double denseEnergy, Arena scratch, TensorOps ops) {
        double quadratic = quadraticTrace(v, gss, scratch, ops);
        double linear = 0; // tr(V · rhs) = Σ_{o,i} V[o,i] rhs[i,o]
        for (int o = 0; o < v.rows(); o++) {
            for (int i = 0; i < v.cols(); i++) {
                linear += (double) v.get(o, i) * rhs.get(i, o);
            }
        }
        return quadratic - 2 * linear + denseEnergy;
    }

    /** (G̃_SS + λI) X = rhs by Cholesky in f64; null when no damping up to 10⁴·λ factorises. */
    private static Tensor solve(Tensor gss, Tensor rhs, double relativeDamping, Arena scratch, TensorOps ops) {
        int n = gss.rows();
        double meanDiag = 0;
        for (int i = 0; i < n; i++) {
            meanDiag += gss.getDouble(i, i);
        }
        meanDiag = n == 0 ? 0 : meanDiag / n;
        double lambda = relativeDamping * (meanDiag > 0 ? meanDiag : 1);
        for (int attempt = 0; attempt <= DAMPING_RETRIES; attempt++, lambda *= 10) {
            Tensor l = Tensor.allocate(scratch, DType.F64, n, n); // (n, n) G̃_SS + λI, then its factor
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    l.set(i, j, gss.getDouble(i, j) + (i == j ? lambda : 0));
                }
            }
            try {
                ops.cholesky(l);
            } catch (NotPositiveDefiniteException e) {
                continue;
            }
            Tensor x = rhs.copyAs(scratch, DType.F64); // (n, out)
            ops.solveLowerTriangular(l, false, x);
            ops.solveLowerTriangular(l, true, x);
            return x;
        }
        return null;
    }

    /** tr(M H Mᵀ) = Σ (M·H) ⊙ M for M (r, k), H (k, k) F32; one GEMM, f64 sum. */
    private static double quadraticTrace(Tensor m, Tensor h, Arena scratch, TensorOps ops) {
        Tensor product = Tensor.allocate(scratch, DType.F32, m.rows(), m.cols());
        ops.gemm(false, false, 1f, m, h, 0f, product);
        double sum = 0;
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < m.cols(); c++) {
                sum += (double) product.get(r, c) * m.get(r, c);
            }
        }
        return sum;
    }

    private static Tensor gatherColumns(Tensor w, int[] s, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, w.rows(), s.length);
        for (int r = 0; r < w.rows(); r++) {
            for (int i = 0; i < s.length; i++) {
                out.set(r, i, w.get(r, s[i]));
            }
        }
        return out;
    }

    private static void requireSquare(Tensor t, int n, String what) {
        if (t.rank() != 2 || t.rows() != n || t.cols() != n) {
            throw new IllegalArgumentException("RidgeRefit: " + what + " must be (" + n + ", " + n + "), got " + t);
        }
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }
}
