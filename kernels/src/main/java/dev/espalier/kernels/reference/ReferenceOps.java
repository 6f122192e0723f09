package dev.espalier.kernels.reference;

import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorChecks;
import dev.espalier.kernels.TensorOps;

/**
 * The scalar oracle: plain loops over {@link Tensor} element accessors, one thread, accumulation in f64. Every
 * other backend is tested against it. Slow by design; use it only on small tensors.
 */
public final class ReferenceOps implements TensorOps {

    @Override
    public String name() {
        return "reference";
    }

    /** {@inheritDoc} Each element of c is one f64 dot product, then {@code alpha * dot + beta * c} in f64. */
    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] mnk = TensorChecks.gemmShape(transA, transB, a, b, c);
        int m = mnk[0];
        int n = mnk[1];
        int k = mnk[2];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int p = 0; p < k; p++) {
                    double x = transA ? a.getDouble(p, i) : a.getDouble(i, p);
                    double y = transB ? b.getDouble(j, p) : b.getDouble(p, j);
                    dot += x * y;
                }
                double prior = beta == 0 ? 0 : beta * c.getDouble(i, j);
                c.set(i, j, alpha * dot + prior);
            }
        }
    }

    /** {@inheritDoc} Every entry of g (both triangles) gets its own f64 dot product. */
    @Override
    public void accumulateGram(Tensor x, float scale, Tensor g) {
        int[] nd = TensorChecks.gramShape(x, g);
        int n = nd[0];
        int d = nd[1];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                double dot = 0;
                for (int r = 0; r < n; r++) {
                    dot += x.getDouble(r, i) * x.getDouble(r, j);
                }
                g.set(i, j, g.getDouble(i, j) + (double) scale * dot);
            }
        }
    }

    /** {@inheritDoc} The Cholesky–Banachiewicz algorithm in f64, row by row. */
    @Override
    public void cholesky(Tensor a) {
        int n = TensorChecks.choleskyShape(a);
        double[] l = new double[n * n]; // (n, n) the factor being built
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = a.getDouble(i, j);
                for (int p = 0; p < j; p++) {
                    sum -= l[i * n + p] * l[j * n + p];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        throw new NotPositiveDefiniteException(i, n);
                    }
                    l[i * n + i] = Math.sqrt(sum);
                } else {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                a.set(i, j, l[i * n + j]);
            }
        }
    }

    /** {@inheritDoc} Forward substitution (or back substitution with Lᵀ) per column of b, in f64. */
    @Override
    public void solveLowerTriangular(Tensor l, boolean transpose, Tensor b) {
        int[] nm = TensorChecks.triangularShape(l, b);
        int n = nm[0];
        int m = nm[1];
        double[] y = new double[n];
        for (int col = 0; col < m; col++) {
            if (!transpose) {
                for (int i = 0; i < n; i++) { // L y = b
                    double sum = b.getDouble(i, col);
                    for (int p = 0; p < i; p++) {
                        sum -= l.getDouble(i, p) * y[p];
                    }
                    y[i] = sum / l.getDouble(i, i);
                }
            } else {
                for (int i = n - 1; i >= 0; i--) { // Lᵀ y = b: (Lᵀ)[i][p] = L[p][i]
                    double sum = b.getDouble(i, col);
                    for (int p = i + 1; p < n; p++) {
                        sum -= l.getDouble(p, i) * y[p];
                    }
                    y[i] = sum / l.getDouble(i, i);
                }
            }
            for (int i = 0; i < n; i++) {
                b.set(i, col, y[i]);
            }
        }
    }

    /** {@inheritDoc} The cyclic Jacobi method in f64 ({@link JacobiEigen}). */
    @Override
    public void symmetricEigen(Tensor a, Tensor values, Tensor vectors) {
        int n = TensorChecks.eigenShape(a, values, vectors);
        double[] lower = a.toDoubleArray();
        double[] w = new double[n];
        double[] v = new double[n * n];
        JacobiEigen.decompose(lower, n, w, v);
        for (int i = 0; i < n; i++) {
            values.setFlat(i, w[i]);
            for (int j = 0; j < n; j++) {
                vectors.set(i, j, v[i * n + j]);
            }
        }
    }

    /**
     * {@inheritDoc} The formula as written: for each row, column by column, every update a {@link Math#fma} on the
     * tensors' elements; the N:M ranks counted pairwise.
     */
    @Override
    public void obsSweep(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        int[] rk = TensorChecks.obsSweepShape(u, nmKeep, nmGroup, marks, w, errors);
        int rows = rk[0];
        int k = rk[1];
        for (int r = 0; r < rows; r++) {
            for (int a = 0; a < k; a++) {
                if (nmGroup > 0 && a % nmGroup == 0) {
                    markGroup(u, nmKeep, nmGroup, a, Math.min(nmGroup, k - a), r, marks, w);
                }
                float d = u.get(a, a);
                float wa = w.get(r, a);
                float p = wa * marks.get(r, a);
                float err = p / d;
                errors.set(r, a, err);
                w.set(r, a, wa - p);
                for (int b = a + 1; b < k; b++) {
                    w.set(r, b, Math.fma(err, -u.get(a, b), w.get(r, b)));
                }
            }
        }
    }

    /** Marks of row r in the N:M group of columns a .. a + g − 1: 1 for the g − n smallest scores (see obsSweep). */
    private static void markGroup(Tensor u, int nmKeep, int nmGroup, int a, int g, int r, Tensor marks, Tensor w) {
        int kept = g == nmGroup ? nmKeep : (g * nmKeep + nmGroup - 1) / nmGroup;
        int drop = g - kept;
        int[] bits = new int[g]; // (g) the scores' bit patterns
        for (int c = 0; c < g; c++) {
            float v = w.get(r, a + c);
            float d = u.get(a + c, a + c);
            bits[c] = Float.floatToRawIntBits(v * v / (d * d));
        }
        for (int c = 0; c < g; c++) {
            int rank = 0; // scores below s_c, plus the equal ones of earlier columns
            for (int h = 0; h < g; h++) {
                if (bits[h] < bits[c] || (h < c && bits[h] == bits[c])) {
                    rank++;
                }
            }
            marks.set(r, a + c, rank < drop ? 1 : 0);
        }
    }

    /**
     * {@inheritDoc} Textbook preconditioned CG run separately on each column, in f64, reading H element by
     * element; a column stops once its residual meets the tolerance. Returns the largest iteration count of a column.
     */
    @Override
    public int maskedConjugateGradient(Tensor h, Tensor b, Tensor mask, Tensor x, int maxIterations, double tolerance) {
        int[] dm = TensorChecks.cgShape(h, b, mask, x, maxIterations, tolerance);
        int d = dm[0];
        int m = dm[1];
        int most = 0;
        double[] xs = new double[d];
        double[] r = new double[d];
        double[] z = new double[d];
        double[] p = new double[d];
        double[] q = new double[d];
        for (int col = 0; col < m; col++) {
            boolean[] on = new boolean[d];
            double bNorm2 = 0;
            for (int i = 0; i < d; i++) {
                on[i] = mask.getDouble(i, col) != 0;
                xs[i] = on[i] ? x.getDouble(i, col) : 0;
                bNorm2 += on[i] ? sq(b.getDouble(i, col)) : 0;
            }
            double limit2 = tolerance * tolerance * bNorm2;
            double rr = 0;
            for (int i = 0; i < d; i++) { // r = b - H x on the support
                double hx = 0;
                for (int j = 0; j < d; j++) {
                    hx += on[j] ? h.getDouble(i, j) * xs[j] : 0;
                }
                r[i] = on[i] ? b.getDouble(i, col) - hx : 0;
                rr += r[i] * r[i];
            }
            double rz = 0;
            for (int i = 0; i < d; i++) {
                z[i] = on[i] ? r[i] / h.getDouble(i, i) : 0;
                p[i] = z[i];
                rz += r[i] * z[i];
            }
            int it = 0;
            while (rr > limit2 && it < maxIterations) {
                double pq = 0;
                for (int i = 0; i < d; i++) {
                    double hp = 0;
                    for (int j = 0; j < d; j++) {
                        hp += on[j] ? h.getDouble(i, j) * p[j] : 0;
                    }
                    q[i] = on[i] ? hp : 0;
                    pq += p[i] * q[i];
                }
                it++;
                if (!(pq > 0)) {
                    break; // breakdown: H is not positive definite on this support
                }
                double alpha = rz / pq;
                rr = 0;
                double rzNew = 0;
                for (int i = 0; i < d; i++) {
                    xs[i] += alpha * p[i];
                    r[i] -= alpha * q[i];
                    z[i] = on[i] ? r[i] / h.getDouble(i, i) : 0;
                    rr += r[i] * r[i];
                    rzNew += r[i] * z[i];
                }
                double beta = rzNew / rz;
                rz = rzNew;
                for (int i = 0; i < d; i++) {
                    p[i] = z[i] + beta * p[i];
                }
            }
            most = Math.max(most, it);
            for (int i = 0; i < d; i++) {
                x.set(i, col, xs[i]);
            }
        }
        return most;
    }

    /** {@inheritDoc} out = x * (float) (1 / sqrt(mean(x²) + eps)) * weight, computed in f32 after an f64 mean. */
    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int rows = TensorChecks.rowsOf("rmsNorm", "x", x);
        int d = TensorChecks.colsOf("rmsNorm", "x", x);
        TensorChecks.requireSameShape("rmsNorm", "out", out, "x", x);
        TensorChecks.requireShape("rmsNorm", "weight", weight, d);
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int c = 0; c < d; c++) {
                ss += sq(at(x, r, c));
            }
            float inv = (float) (1.0 / Math.sqrt(ss / d + eps));
            for (int c = 0; c < d; c++) {
                put(out, r, c, (float) at(x, r, c) * inv * weight.getFlat(c));
            }
        }
    }

    /** {@inheritDoc} The angle is the f32 product position * invFreq[i]; cos and sin are rounded to f32. */
    @Override
    public void rope(Tensor x, int headDim, int startPosition, Tensor invFreq) {
        int[] rh = TensorChecks.ropeShape(x, headDim, invFreq);
        int half = headDim / 2;
        for (int r = 0; r < rh[0]; r++) {
            float position = startPosition + r;
            for (int head = 0; head < rh[1]; head++) {
                int base = head * headDim;
                for (int i = 0; i < half; i++) {
                    float angle = position * invFreq.getFlat(i);
                    float cos = (float) Math.cos(angle);
                    float sin = (float) Math.sin(angle);
                    float x0 = (float) at(x, r, base + i);
                    float x1 = (float) at(x, r, base + i + half);
                    put(x, r, base + i, x0 * cos - x1 * sin);
                    put(x, r, base + i + half, x1 * cos + x0 * sin);
                }
            }
        }
    }

    /** {@inheritDoc} Maximum, exponentials and their sum in f64. */
    @Override
    public void causalSoftmax(Tensor scores, int firstQueryPosition, float scale, int window) {
        TensorChecks.requireRank("causalSoftmax", "scores", scores, 2);
        int t = scores.cols();
        for (int r = 0; r < scores.rows(); r++) {
            long position = (long) firstQueryPosition + r;
            int visible = (int) Math.max(0, Math.min(t, position + 1));
            int first = window > 0 ? (int) Math.max(0, Math.min(visible, position - window + 1)) : 0;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = first; c < visible; c++) {
                max = Math.max(max, (double) scale * scores.getDouble(r, c));
            }
            double sum = 0;
            double[] e = new double[visible];
            for (int c = first; c < visible; c++) {
                e[c] = Math.exp((double) scale * scores.getDouble(r, c) - max);
                sum += e[c];
            }
            for (int c = 0; c < t; c++) {
                scores.set(r, c, c >= first && c < visible ? e[c] / sum : 0);
            }
        }
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        TensorChecks.requireSameShape("siluMul", "up", up, "gate", gate);
        TensorChecks.requireSameShape("siluMul", "out", out, "gate", gate);
        forEachElement(gate, (r, c) -> {
            double g = at(gate, r, c);
            put(out, r, c, g / (1 + Math.exp(-g)) * at(up, r, c));
        });
    }

    @Override
    public void add(Tensor x, Tensor y) {
        TensorChecks.requireSameShape("add", "y", y, "x", x);
        forEachElement(x, (r, c) -> put(y, r, c, (float) at(y, r, c) + (float) at(x, r, c)));
    }

    @Override
    public void addRowVector(Tensor bias, Tensor y) {
        int d = TensorChecks.colsOf("addRowVector", "y", y);
        TensorChecks.requireShape("addRowVector", "bias", bias, d);
        forEachElement(y, (r, c) -> put(y, r, c, (float) at(y, r, c) + bias.getFlat(c)));
    }

    private interface ElementVisitor {
        void visit(int r, int c);
    }

    /** Visits every element of a vector/matrix as (row, column), or of another rank as (0, flat index). */
    private static void forEachElement(Tensor t, ElementVisitor v) {
        if (t.rank() == 2) {
            for (int r = 0; r < t.rows(); r++) {
                for (int c = 0; c < t.cols(); c++) {
                    v.visit(r, c);
                }
            }
        } else {
            TensorChecks.requireContiguous("elementwise", "tensor", t);
            for (long i = 0; i < t.numel(); i++) {
                v.visit(0, (int) i);
            }
        }
    }

    /** Element (r, c) of a matrix, or element c of a tensor of another rank (r is then 0). */
    private static double at(Tensor t, int r, int c) {
        return t.rank() == 2 ? t.getDouble(r, c) : t.getFlatDouble(c);
    }

    private static void put(Tensor t, int r, int c, double value) {
        if (t.rank() == 2) {
            t.set(r, c, value);
        } else {
            t.setFlat(c, value);
        }
    }

    private static double sq(double v) {
        return v * v;
    }
}
