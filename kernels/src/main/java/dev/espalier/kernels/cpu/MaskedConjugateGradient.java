package dev.espalier.kernels.cpu;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Jacobi-preconditioned conjugate gradient on every column of x at once, each column restricted to its own support
 * (see {@link TensorOps#maskedConjugateGradient}). One GEMM {@code Q = H P} per iteration serves all columns; the
 * vectors live in (d, m) F32 matrices and the per-column scalars (dot products in f64) in arrays. Columns stop
 * independently once their residual meets the tolerance; a stopped column's search direction is zeroed. Column
 * blocks run in parallel, each column's sums over rows in row order, so results do not depend on the thread count.
 */
final class MaskedConjugateGradient {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int COLUMN_BLOCK = 64;
    private static final VectorSpecies<Double> D = VectorKernels.D;
    private static final VectorSpecies<Float> H = VectorKernels.HALF; // as many float lanes as D has
    private static final int HL = H.length();
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private MaskedConjugateGradient() {}

    /** Runs the solve; arguments as {@link TensorOps#maskedConjugateGradient}, already checked. Returns iterations. */
    static int solve(
            TensorOps ops,
            Parallel par,
            Tensor h,
            Tensor b,
            Tensor mask,
            Tensor x,
            int maxIterations,
            double tolerance) {
        int d = h.rows();
        int m = b.cols();
        if (d == 0 || m == 0) {
            return 0;
        }
        MemorySegment bs = Parallel.shareable(b.data()); // (d, m)
        MemorySegment ms = Parallel.shareable(mask.data()); // (d, m)
        MemorySegment xs = Parallel.shareable(x.data()); // (d, m)
        float[] dinv = new float[d]; // (d) 1 / H[i][i]
        for (int i = 0; i < d; i++) {
            dinv[i] = 1f / h.get(i, i);
        }
        double[] limit2 = new double[m]; // (m) tolerance² ||b[S_j, j]||²
        double[] rr = new double[m]; // (m) ||r_j||²
        double[] rz = new double[m]; // (m) r_jᵀ z_j
        double[] pq = new double[m]; // (m) p_jᵀ q_j
        boolean[] active = new boolean[m]; // (m) column iterating in this step
        boolean[] brokeDown = new boolean[m]; // (m) pᵀHp was not positive: H is not positive definite on the support
        try (Arena arena = Arena.ofShared()) {
            Tensor p = Tensor.allocate(arena, DType.F32, d, m); // (d, m) search directions, zero off the support
            Tensor q = Tensor.allocate(arena, DType.F32, d, m); // (d, m) H p, then residuals r
            Tensor r = Tensor.allocate(arena, DType.F32, d, m); // (d, m) residuals b - H x on the support
            MemorySegment ps = p.data();
            MemorySegment qs = q.data();
            MemorySegment rs = r.data();
            // x ← x on the support; r = (b - H x) on the support; p = z = D⁻¹ r.
            par.forRange(
                    ceil(m),
                    1,
                    (b0, b1) -> forColumns(b0, b1, m, (j0, j1) -> {
                        for (int i = 0; i < d; i++) {
                            long row = (long) i * m;
                            for (int j = j0; j < j1; j++) {
                                if (ms.getAtIndex(F32, row + j) == 0) {
                                    xs.setAtIndex(F32, row + j, 0f);
                                }
                            }
                        }
                    }));
            ops.gemm(false, false, 1f, h, x, 0f, q);
            par.forRange(
                    ceil(m),
                    1,
                    (b0, b1) -> forColumns(b0, b1, m, (j0, j1) -> {
                        for (int i = 0; i < d; i++) {
                            long row = (long) i * m;
                            for (int j = j0; j < j1; j++) {
                                boolean on = ms.getAtIndex(F32, row + j) != 0;
                                float bij = on ? bs.getAtIndex(F32, row + j) : 0f;
                                float rij = on ? bij - qs.getAtIndex(F32, row + j) : 0f;
                                float zij = rij * dinv[i];
                                rs.setAtIndex(F32, row + j, rij);
                                ps.setAtIndex(F32, row + j, zij);
                                limit2[j] += (double) bij * bij;
                                rr[j] += (double) rij * rij;
                                rz[j] += (double) rij * zij;
                            }
                        }
                        for (int j = j0; j < j1; j++) {
                            limit2[j] *= tolerance * tolerance;
                        }
                    }));
            int iterations = 0;
            while (iterations < maxIterations) {
                boolean any = false;
                for (int j = 0; j < m; j++) {
                    active[j] = !brokeDown[j] && rr[j] > limit2[j];
                    any |= active[j];
                }
                if (!any) {
                    break;
                }
                ops.gemm(false, false, 1f, h, p, 0f, q); // q = H p (p is zero off each support and on stopped columns)
                iterations++;
                par.forRange(
                        ceil(m),
                        1,
                        (b0, b1) -> forColumns(b0, b1, m, (j0, j1) -> {
                            int w = j1 - j0;
                            double[] pqLocal = new double[w];
                            for (int i = 0; i < d; i++) {
                                accumulateProducts(ps, qs, (long) i * m + j0, w, pqLocal);
                            }
                            float[] alpha = new float[w];
                            for (int j = j0; j < j1; j++) {
                                pq[j] = pqLocal[j - j0];
                                if (active[j] && !(pq[j] > 0)) {
                                    active[j] = false;
                                    brokeDown[j] = true;
                                }
                                alpha[j - j0] =
                                        active[j] ? (float) (rz[j] / pq[j]) : 0f; // 0 leaves the column unchanged
                            }
                            double[] rzNew = new double[w];
                            double[] rrNew = new double[w];
                            for (int i = 0; i < d; i++) {
                                step(xs, rs, qs, ps, ms, (long) i * m + j0, w, alpha, dinv[i], rrNew, rzNew);
                            }
                            float[] beta = new float[w];
                            boolean[] keep = new boolean[w];
                            for (int j = j0; j < j1; j++) {
                                if (active[j]) {
                                    beta[j - j0] = (float) (rzNew[j - j0] / rz[j]);
                                    rz[j] = rzNew[j - j0];
                                    rr[j] = rrNew[j - j0];
                                    keep[j - j0] = rr[j] > limit2[j];
                                }
                            }
                            for (int i = 0; i < d; i++) {
                                nextDirection(ps, qs, (long) i * m + j0, w, beta, keep);
                            }
                        }));
            }
            return iterations;
        }
    }

    // Row kernels over the w columns starting at element offset o of a (d, m) matrix; per-column values (alpha, beta,
    // keep, sums) are indexed from 0. Vectors of 8 floats pair with vectors of 8 doubles for the f64 sums; the scalar
    // tails use the same operations (fma included), so a column's result does not depend on where it falls.

    /** sums[c] += (double) u[o + c] · v[o + c]. */
    private static void accumulateProducts(MemorySegment u, MemorySegment v, long o, int w, double[] sums) {
        int c = 0;
        for (; c <= w - HL; c += HL) {
            DoubleVector a = widen(u, o + c);
            DoubleVector b = widen(v, o + c);
            a.fma(b, DoubleVector.fromArray(D, sums, c)).intoArray(sums, c);
        }
        for (; c < w; c++) {
            sums[c] = Math.fma((double) u.getAtIndex(F32, o + c), v.getAtIndex(F32, o + c), sums[c]);
        }
    }

    /**
     * One CG update of a row: x += alpha p; r = (r - alpha q) on the support, 0 off it; z = r / H[i][i], stored
     * into q; rr[c] += r², rz[c] += r z (f64).
     */
    private static void step(
            MemorySegment x,
            MemorySegment r,
            MemorySegment q,
            MemorySegment p,
            MemorySegment mask,
            long o,
            int w,
            float[] alpha,
            float dinv,
            double[] rr,
            double[] rz) {
        FloatVector vDinv = FloatVector.broadcast(H, dinv);
        int c = 0;
        for (; c <= w - HL; c += HL) {
            long b = (o + c) * 4;
            FloatVector a = FloatVector.fromArray(H, alpha, c);
            FloatVector vp = FloatVector.fromMemorySegment(H, p, b, NATIVE);
            a.fma(vp, FloatVector.fromMemorySegment(H, x, b, NATIVE)).intoMemorySegment(x, b, NATIVE);
            VectorMask<Float> off =
                    FloatVector.fromMemorySegment(H, mask, b, NATIVE).compare(VectorOperators.EQ, 0f);
            FloatVector vr = a.neg()
                    .fma(FloatVector.fromMemorySegment(H, q, b, NATIVE), FloatVector.fromMemorySegment(H, r, b, NATIVE))
                    .blend(0f, off);
            FloatVector vz = vr.mul(vDinv);
            vr.intoMemorySegment(r, b, NATIVE);
            vz.intoMemorySegment(q, b, NATIVE);
            DoubleVector dr = (DoubleVector) vr.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector dz = (DoubleVector) vz.convertShape(VectorOperators.F2D, D, 0);
            dr.fma(dr, DoubleVector.fromArray(D, rr, c)).intoArray(rr, c);
            dr.fma(dz, DoubleVector.fromArray(D, rz, c)).intoArray(rz, c);
        }
        for (; c < w; c++) {
            long e = o + c;
            float a = alpha[c];
            x.setAtIndex(F32, e, Math.fma(a, p.getAtIndex(F32, e), x.getAtIndex(F32, e)));
            float vr = mask.getAtIndex(F32, e) == 0f ? 0f : Math.fma(-a, q.getAtIndex(F32, e), r.getAtIndex(F32, e));
            float vz = vr * dinv;
            r.setAtIndex(F32, e, vr);
            q.setAtIndex(F32, e, vz);
            rr[c] = Math.fma((double) vr, vr, rr[c]);
            rz[c] = Math.fma((double) vr, vz, rz[c]);
        }
    }

    /** p = z + beta p (z held in q) where keep[c], else 0 (a stopped column stops moving). */
    private static void nextDirection(MemorySegment p, MemorySegment z, long o, int w, float[] beta, boolean[] keep) {
        int c = 0;
        for (; c <= w - HL; c += HL) {
            long b = (o + c) * 4;
            VectorMask<Float> stop = VectorMask.fromArray(H, keep, c).not();
            FloatVector.fromArray(H, beta, c)
                    .fma(FloatVector.fromMemorySegment(H, p, b, NATIVE), FloatVector.fromMemorySegment(H, z, b, NATIVE))
                    .blend(0f, stop)
                    .intoMemorySegment(p, b, NATIVE);
        }
        for (; c < w; c++) {
            long e = o + c;
            p.setAtIndex(F32, e, keep[c] ? Math.fma(beta[c], p.getAtIndex(F32, e), z.getAtIndex(F32, e)) : 0f);
        }
    }

    private static DoubleVector widen(MemorySegment s, long element) {
        return (DoubleVector)
                FloatVector.fromMemorySegment(H, s, element * 4, NATIVE).convertShape(VectorOperators.F2D, D, 0);
    }

    private interface ColumnRange {
        void run(int j0, int j1);
    }

    /** Number of column blocks of {@link #COLUMN_BLOCK} columns. */
    private static int ceil(int m) {
        return (m + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
    }

    /** Runs {@code body} on the column ranges of blocks [b0, b1). */
    private static void forColumns(int b0, int b1, int m, ColumnRange body) {
        for (int blk = b0; blk < b1; blk++) {
            body.run(blk * COLUMN_BLOCK, Math.min(m, (blk + 1) * COLUMN_BLOCK));
        }
    }
}
