package dev.espalier.kernels.reference;

import java.util.Arrays;

/**
 * The cyclic Jacobi eigenvalue algorithm for a small symmetric matrix, in f64: rotations zero each off-diagonal
 * entry in turn, sweep after sweep, until the off-diagonal mass is negligible. Slow (O(n³) per sweep) and
 * obviously correct, which is what the oracle needs.
 */
final class JacobiEigen {
    private static final int MAX_SWEEPS = 100;

    private JacobiEigen() {}

    /**
     * Eigendecomposition {@code a = V diag(w) Vᵀ} of the symmetric matrix whose lower triangle is given.
     *
     * @param lower  (n, n) row-major; only entries with column ≤ row are read; not modified
     * @param values (n) receives the eigenvalues in ascending order
     * @param vecs   (n, n) row-major, receives the eigenvectors as columns, in the order of {@code values}
     */
    static void decompose(double[] lower, int n, double[] values, double[] vecs) {
        double[] a = new double[n * n]; // (n, n) the full symmetric working copy
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                a[i * n + j] = lower[i * n + j];
                a[j * n + i] = lower[i * n + j];
            }
        }
        double[] v = new double[n * n]; // (n, n) accumulated rotations, columns are eigenvectors
        for (int i = 0; i < n; i++) {
            v[i * n + i] = 1;
        }
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double off = 0;
            double total = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double x = a[i * n + j] * a[i * n + j];
                    total += x;
                    if (i != j) {
                        off += x;
                    }
                }
            }
            if (off <= 1e-26 * total) { // off-diagonal entries below ~1e-13 of the norm
                break;
            }
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    rotate(a, v, n, p, q);
                }
            }
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Double.compare(a[x * n + x], a[y * n + y]));
        for (int c = 0; c < n; c++) {
            int src = order[c];
            values[c] = a[src * n + src];
            for (int r = 0; r < n; r++) {
                vecs[r * n + c] = v[r * n + src];
            }
        }
    }

    /** One Jacobi rotation in the (p, q) plane that zeroes a[p][q] (Golub and Van Loan, Algorithm 8.4.1). */
    private static void rotate(double[] a, double[] v, int n, int p, int q) {
        double apq = a[p * n + q];
        if (apq == 0) {
            return;
        }
        double tau = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        double t = Math.signum(tau) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        if (tau == 0) {
            t = 1;
        }
        double c = 1 / Math.sqrt(1 + t * t);
        double s = t * c;
        // A ← Jᵀ A J with J the identity except J[p][p] = J[q][q] = c, J[p][q] = s, J[q][p] = -s.
        for (int k = 0; k < n; k++) {
            double akp = a[k * n + p];
            double akq = a[k * n + q];
            a[k * n + p] = c * akp - s * akq;
            a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) {
            double apk = a[p * n + k];
            double aqk = a[q * n + k];
            a[p * n + k] = c * apk - s * aqk;
            a[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; k++) {
            double vkp = v[k * n + p];
            double vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
    }
}
