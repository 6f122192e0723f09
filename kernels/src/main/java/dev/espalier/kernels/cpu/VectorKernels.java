package dev.espalier.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row kernels of the CPU backend for the memory-bound and fused operations, with the Vector API: one call handles
 * one row of F32 values at byte offset {@code o} of a segment. Every vector loop has a scalar tail. Reductions run in
 * a fixed order within the row, so results do not depend on how rows are spread over threads.
 *
 * <p>Only operations with exactly specified IEEE results are used (add, mul, div, fma, min/max, conversions), so
 * interpreted, C1- and C2-compiled code give the same bits: {@code reduceLanes(ADD)} (whose order the JIT may change)
 * is replaced by {@link #sumLanes}, and {@code lanewise(EXP)} (SVML in C2, {@code Math.exp} otherwise) by
 * {@link #exp}, a polynomial whose scalar twin {@link #expScalar} gives the same bits in the loop tails.
 */
final class VectorKernels {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Doubles of the preferred shape, and floats of half that shape with as many lanes (for f32 → f64 widening). */
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    static final VectorSpecies<Float> HALF =
            VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private VectorKernels() {}

    /** Σ x[i]² over a row of d floats, accumulated in f64. */
    static double sumOfSquares(MemorySegment x, long o, int d) {
        int step = HALF.length();
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        for (; i <= d - step; i += step) {
            DoubleVector v = (DoubleVector)
                    FloatVector.fromMemorySegment(HALF, x, o + i * 4L, NATIVE).convertShape(VectorOperators.F2D, D, 0);
            acc = v.fma(v, acc);
        }
        double sum = sumLanes(acc);
        for (; i < d; i++) {
            double v = x.get(F32, o + i * 4L);
            sum += v * v;
        }
        return sum;
    }

    /** out[i] = (x[i] * inv) * w[i] over a row of d floats ({@code out} may be {@code x}). */
    static void scaleByWeights(MemorySegment x, long xo, float inv, float[] w, MemorySegment out, long oo, int d) {
        FloatVector vInv = FloatVector.broadcast(S, inv);
        int i = 0;
        for (; i <= d - L; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, xo + i * 4L, NATIVE);
            v.mul(vInv).mul(FloatVector.fromArray(S, w, i)).intoMemorySegment(out, oo + i * 4L, NATIVE);
        }
        for (; i < d; i++) {
            out.set(F32, oo + i * 4L, x.get(F32, xo + i * 4L) * inv * w[i]);
        }
    }

    /**
     * Rotates the pairs (x[i], x[i + half]) of each of {@code heads} heads in one row by the angles whose cosines and
     * sines are given (half each): x0' = x0 cos - x1 sin, x1' = x1 cos + x0 sin.
     */
    static void rotateHalves(MemorySegment x, long o, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            long lo = o + (long) h * headDim * 4L;
            long hi = lo + half * 4L;
            int i = 0;
            for (; i <= half - L; i += L) {
                FloatVector x0 = FloatVector.fromMemorySegment(S, x, lo + i * 4L, NATIVE);
                FloatVector x1 = FloatVector.fromMemorySegment(S, x, hi + i * 4L, NATIVE);
                FloatVector c = FloatVector.fromArray(S, cos, i);
                FloatVector s = FloatVector.fromArray(S, sin, i);
                x0.mul(c).sub(x1.mul(s)).intoMemorySegment(x, lo + i * 4L, NATIVE);
                x1.mul(c).add(x0.mul(s)).intoMemorySegment(x, hi + i * 4L, NATIVE);
            }
            for (; i < half; i++) {
                float x0 = x.get(F32, lo + i * 4L);
                float x1 = x.get(F32, hi + i * 4L);
                x.set(F32, lo + i * 4L, x0 * cos[i] - x1 * sin[i]);
                x.set(F32, hi + i * 4L, x1 * cos[i] + x0 * sin[i]);
            }
        }
    }

    /**
     * Softmax of scale * s over the first {@code visible} entries of a row of t, in place; the other entries become 0.
     * Maximum and sum in f32, lanes first then across lanes.
     */
    static void softmaxPrefix(MemorySegment s, long o, int t, int visible, float scale) {
        if (visible > 0) {
            FloatVector vScale = FloatVector.broadcast(S, scale);
            FloatVector vMax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            int i = 0;
            for (; i <= visible - L; i += L) {
                vMax = vMax.max(
                        FloatVector.fromMemorySegment(S, s, o + i * 4L, NATIVE).mul(vScale));
            }
            float max = vMax.reduceLanes(VectorOperators.MAX);
            for (; i < visible; i++) {
                max = Math.max(max, s.get(F32, o + i * 4L) * scale);
            }
            FloatVector vShift = FloatVector.broadcast(S, max);
            FloatVector vSum = FloatVector.zero(S);
            i = 0;
            for (; i <= visible - L; i += L) {
                FloatVector e = exp(FloatVector.fromMemorySegment(S, s, o + i * 4L, NATIVE)
                        .mul(vScale)
                        .sub(vShift));
                vSum = vSum.add(e);
                e.intoMemorySegment(s, o + i * 4L, NATIVE);
            }
            float sum = sumLanes(vSum);
            for (; i < visible; i++) {
                float e = expScalar(s.get(F32, o + i * 4L) * scale - max);
                sum += e;
                s.set(F32, o + i * 4L, e);
            }
            FloatVector vInv = FloatVector.broadcast(S, 1f / sum);
            i = 0;
            for (; i <= visible - L; i += L) {
                FloatVector.fromMemorySegment(S, s, o + i * 4L, NATIVE)
                        .mul(vInv)
                        .intoMemorySegment(s, o + i * 4L, NATIVE);
            }
            float inv = 1f / sum;
            for (; i < visible; i++) {
                s.set(F32, o + i * 4L, s.get(F32, o + i * 4L) * inv);
            }
        }
        if (visible < t) {
            s.asSlice(o + visible * 4L, (long) (t - visible) * 4L).fill((byte) 0);
        }
    }

    /** out = silu(g) * u = g / (1 + exp(-g)) * u over n floats ({@code out} may alias g or u). */
    static void siluMul(MemorySegment g, long go, MemorySegment u, long uo, MemorySegment out, long oo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector vg = FloatVector.fromMemorySegment(S, g, go + i * 4L, NATIVE);
            FloatVector vu = FloatVector.fromMemorySegment(S, u, uo + i * 4L, NATIVE);
            vg.div(exp(vg.neg()).add(1f)).mul(vu).intoMemorySegment(out, oo + i * 4L, NATIVE);
        }
        for (; i < n; i++) {
            float vg = g.get(F32, go + i * 4L);
            out.set(F32, oo + i * 4L, vg / (1f + expScalar(-vg)) * u.get(F32, uo + i * 4L));
        }
    }

    /** y[i] += x[i] over n floats. */
    static void add(MemorySegment x, long xo, MemorySegment y, long yo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromMemorySegment(S, y, yo + i * 4L, NATIVE)
                    .add(FloatVector.fromMemorySegment(S, x, xo + i * 4L, NATIVE))
                    .intoMemorySegment(y, yo + i * 4L, NATIVE);
        }
        for (; i < n; i++) {
            y.set(F32, yo + i * 4L, y.get(F32, yo + i * 4L) + x.get(F32, xo + i * 4L));
        }
    }

    /** y[i] += bias[i] over n floats. */
    static void addArray(float[] bias, MemorySegment y, long yo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromMemorySegment(S, y, yo + i * 4L, NATIVE)
                    .add(FloatVector.fromArray(S, bias, i))
                    .intoMemorySegment(y, yo + i * 4L, NATIVE);
        }
        for (; i < n; i++) {
            y.set(F32, yo + i * 4L, y.get(F32, yo + i * 4L) + bias[i]);
        }
    }

    /** The lanes of v added in lane order (0, 1, 2, ...): the same bits at every JIT tier. */
    static float sumLanes(FloatVector v) {
        float sum = 0;
        for (int i = 0; i < v.length(); i++) {
            sum += v.lane(i);
        }
        return sum;
    }

    /** The lanes of v added in lane order. */
    static double sumLanes(DoubleVector v) {
        double sum = 0;
        for (int i = 0; i < v.length(); i++) {
            sum += v.lane(i);
        }
        return sum;
    }

    // exp(x) = 2^n · e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness), e^r by a
    // degree-7 polynomial (Cephes expf coefficients); about 1 ulp on the clamped range [-87, 88].
    private static final float EXP_LO = -87f;
    private static final float EXP_HI = 88f;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f; // 1.5 · 2^23: adding it rounds to an integer in the low bits
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    /** e^x lane-wise (inputs clamped to [-87, 88]); every lane equals {@link #expScalar} of it. */
    static FloatVector exp(FloatVector x) {
        x = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = x.fma(FloatVector.broadcast(x.species(), LOG2E), FloatVector.broadcast(x.species(), ROUNDER));
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(x.species(), -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(x.species(), -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(x.species(), P0);
        p = p.fma(r, FloatVector.broadcast(x.species(), P1));
        p = p.fma(r, FloatVector.broadcast(x.species(), P2));
        p = p.fma(r, FloatVector.broadcast(x.species(), P3));
        p = p.fma(r, FloatVector.broadcast(x.species(), P4));
        p = p.fma(r, FloatVector.broadcast(x.species(), P5));
        p = p.fma(r.mul(r), r).add(1f);
        jdk.incubator.vector.IntVector bits = t.reinterpretAsInts()
                .sub(Float.floatToRawIntBits(ROUNDER))
                .add(127)
                .lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }

    /** e^x with exactly the operations of {@link #exp}, for scalar tails. */
    static float expScalar(float x) {
        x = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = Math.fma(x, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = P0;
        p = Math.fma(p, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, r * r, r) + 1f;
        int bits = (Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUNDER) + 127) << 23;
        return p * Float.intBitsToFloat(bits);
    }

    /** y[i] *= beta over n floats; beta == 0 writes zeros (NaN and infinities in y are ignored). */
    static void scale(MemorySegment y, long yo, int n, float beta) {
        if (beta == 0f) {
            y.asSlice(yo, n * 4L).fill((byte) 0);
            return;
        }
        FloatVector vb = FloatVector.broadcast(S, beta);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromMemorySegment(S, y, yo + i * 4L, NATIVE).mul(vb).intoMemorySegment(y, yo + i * 4L, NATIVE);
        }
        for (; i < n; i++) {
            y.set(F32, yo + i * 4L, y.get(F32, yo + i * 4L) * beta);
        }
    }
}
