package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * ALPS (Meng, Behdin, Wang, Mazumder, NeurIPS 2024): one-shot pruning of a linear map as the l0-constrained
 * least-squares problem {@code min ||X Ŵᵀ − X Wᵀ||² s.t. Ŵ has at most k nonzeros (whole matrix) or is N:M},
 * solved as in the official code ({@code mazumder-lab/ALPS}, {@code alps.py}):
 *
 * <ol>
 *   <li>Damping and Jacobi scaling: {@code H = XᵀX + δI} with {@code δ = dampFraction · mean(diag XᵀX)},
 *       {@code s = sqrt(diag H) + 1e-8}, {@code Hs = S⁻¹ H S⁻¹}, and the scaled variable {@code B = S Ŵᵀ}
 *       (in, out) with the dense target {@code B0 = S Wᵀ}. The objective is unchanged by the scaling:
 *       {@code (B − B0)ᵀ Hs (B − B0) = (Ŵ − W) H (Ŵ − W)ᵀ}.</li>
 *   <li>One eigendecomposition {@code Hs = Q Λ Qᵀ} (f64, {@link TensorOps#symmetricEigen}).</li>
 *   <li>ADMM on {@code min ½(B − B0)ᵀHs(B − B0) s.t. B = D, D feasible}:
 *       {@code B ← (Hs + ρI)⁻¹(Hs B0 − V + ρD)}, {@code D ← Π(B + V/ρ)}, {@code V ← V + ρ(B − D)}, with the
 *       B-update done in the eigenbasis, {@code Q diag(1/(λ + ρ)) Qᵀ(…)}, so a new ρ costs nothing; Π keeps the k
 *       largest magnitudes of the whole matrix, or the N largest of every group of M consecutive inputs of a row.</li>
 *   <li>The ρ schedule of the official code every {@code updateInterval} iterations, from the number c of entries
 *       whose membership in the support changed since the previous check: c/k > 0.1 → ρ ×1.3; c/k > 0.005 →
 *       ρ ×1.2; c > 0 → ρ ×1.1, or, if ρ has never grown, ρ ÷5 and a restart from B0; c = 0 → stop if ρ has
 *       grown, else ρ ÷5; ρ is capped at 1e6; after {@code switchIteration} iterations, c/k < 0.0003 stops. The
 *       option {@code stopRho} (official: 0) lets the two support-stable stops act only once ρ ≥ stopRho (below
 *       it a quiet check grows ρ ×1.1): on problems with a handful of weights a quiet check is no sign of
 *       convergence, and the official rule then stops at a small ρ. One deliberate difference: when a check both
 *       restarts (c > 0, ρ never grown) and meets the c/k < 0.0003 stop (possible only for k &gt; 3333), the official
 *       code breaks after resetting B to B0 and so ends on the magnitude support of B0; here the stop wins and the
 *       ADMM ends on Π(B) of its last iterate.</li>
 *   <li>The backsolve: {@code B ← Π(B)}, then conjugate gradient on the fixed support
 *       ({@link TensorOps#maskedConjugateGradient}, at most {@code cgIterations}) for
 *       {@code Hs[S,S] B[S] = (Hs B0)[S]} column by column, and {@code Ŵ = (S⁻¹ B)ᵀ}.</li>
 * </ol>
 *
 * <p>Per iteration the work is two GEMMs of 2·out·in² each (into the eigenbasis and back) plus O(out·in) loops; no
 * factorisation happens after the eigendecomposition.
 */
public final class Alps {
    /** The schedule's growth factor when more than {@link #FAST_CHANGE} of the support changed (official: 1.3). */
    public static final double FAST_GROWTH = 1.3;
    /** The schedule's growth factor when more than {@link #SLOW_CHANGE} of the support changed (official: 1.2). */
    public static final double MEDIUM_GROWTH = 1.2;
    /** The schedule's growth factor when a few entries changed after ρ has grown (official: 1.1). */
    public static final double SLOW_GROWTH = 1.1;
    /** The schedule's shrink factor (ρ ÷ 5) while ρ has not grown yet (official: 5). */
    public static final double SHRINK = 5.0;
    /** Fraction of k above which the support is changing fast (official: 0.1). */
    public static final double FAST_CHANGE = 0.1;
    /** Fraction of k above which the support is changing (official: 0.005). */
    public static final double SLOW_CHANGE = 0.005;
    /** Fraction of k below which the support counts as settled after {@code switchIteration} (official: 0.0003). */
    public static final double SETTLED_CHANGE = 0.0003;
    /** The largest ρ the schedule reaches (official: 1e6). */
    public static final double MAX_RHO = 1e6;
    /** Added to sqrt(diag H) in the Jacobi scaling (official: 1e-8). */
    public static final double SCALE_EPSILON = 1e-8;

    private Alps() {}

    /**
     * The parameters of {@code ALPS_prune.ALPS_admm} with the official defaults ({@link #defaults()}).
     *
     * @param rho             initial ρ of the schedule (official {@code rho=0.1})
     * @param maxIterations   ADMM iterations at most (official {@code max_iter=300})
     * @param updateInterval  iterations between ρ updates (official {@code update_iter=3})
     * @param switchIteration iteration from which a settled support stops the ADMM (official {@code switch_iter=30})
     * @param stopRho         once ρ has grown, the support-stable stops apply only when ρ ≥ stopRho, and a check
     *                        without change grows ρ by {@link #SLOW_GROWTH} below it (official: 0, i.e. always stop)
     * @param cgIterations    conjugate-gradient iterations of the backsolve at most (official {@code maxiter=10})
     * @param cgTolerance     relative residual at which the backsolve stops (official {@code rtol=1e-4})
     * @param dampFraction    ridge δ = dampFraction · mean(diag XᵀX) (official 0.01)
     * @param fixedRho        NaN: the schedule; a positive value: ρ fixed at it (the paper's ablation, tables 3–4),
     *                        with only the settled-support stop rule
     */
    public record Options(
            double rho,
            int maxIterations,
            int updateInterval,
            int switchIteration,
            double stopRho,
            int cgIterations,
            double cgTolerance,
            double dampFraction,
            double fixedRho) {
        public Options {
            if (!(rho > 0)
                    || maxIterations < 0
                    || updateInterval < 1
                    || switchIteration < 0
                    || !(stopRho >= 0)
                    || cgIterations < 0
                    || !(cgTolerance > 0)
                    || !(dampFraction >= 0)
                    || (!Double.isNaN(fixedRho) && !(fixedRho > 0))) {
                throw new IllegalArgumentException("Alps.Options: rho " + rho + ", maxIterations " + maxIterations
                        + ", updateInterval " + updateInterval + ", switchIteration " + switchIteration + ", stopRho "
                        + stopRho + ", cgIterations " + cgIterations + ", cgTolerance " + cgTolerance
                        + ", dampFraction " + dampFraction + ", fixedRho " + fixedRho + "; expected rho > 0,"
                        + " maxIterations >= 0, updateInterval >= 1, switchIteration >= 0, stopRho >= 0,"
                        + " cgIterations >= 0, cgTolerance > 0, dampFraction >= 0, fixedRho NaN or > 0");
            }
        }

        /**
         * The official defaults: ρ 0.1, 300 iterations, update every 3, switch at 30, stop at any ρ, CG 10 × 1e-4,
         * damping 0.01, the ρ schedule.
         */
        public static Options defaults() {
            return new Options(0.1, 300, 3, 30, 0.0, 10, 1e-4, 0.01, Double.NaN);
        }

        /** These options with ρ fixed at {@code value} (no schedule). */
        public Options withFixedRho(double value) {
            return new Options(
                    rho,
                    maxIterations,
                    updateInterval,
                    switchIteration,
                    stopRho,
                    cgIterations,
                    cgTolerance,
                    dampFraction,
                    value);
        }

        /** These options with at most {@code value} ADMM iterations. */
        public Options withMaxIterations(int value) {
            return new Options(
                    rho,
                    value,
                    updateInterval,
                    switchIteration,
                    stopRho,
                    cgIterations,
                    cgTolerance,
                    dampFraction,
                    fixedRho);
        }

        /** These options with at most {@code iterations} CG iterations stopping at {@code tolerance}. */
        public Options withBacksolve(int iterations, double tolerance) {
            return new Options(
                    rho,
                    maxIterations,
                    updateInterval,
                    switchIteration,
                    stopRho,
                    iterations,
                    tolerance,
                    dampFraction,
                    fixedRho);
        }

        /** These options with the support-stable stops deferred until ρ ≥ {@code value}. */
        public Options withStopRho(double value) {
            return new Options(
                    rho,
                    maxIterations,
                    updateInterval,
                    switchIteration,
                    value,
                    cgIterations,
                    cgTolerance,
                    dampFraction,
                    fixedRho);
        }

        public boolean scheduled() {
            return Double.isNaN(fixedRho);
        }
    }

    /**
     * One ADMM iteration of the trace.
     *
     * @param iteration      0-based index
     * @param rho            the ρ this iteration used
     * @param objective      relative error of its sparse iterate D: {@code (D − B0)ᵀHs(D − B0) / B0ᵀHs B0}, i.e.
     *                       {@code ||X(D − W)||² / ||X W||²} on the damped Gram
     * @param supportChanges entries of D that entered or left the support since the previous iteration
     * @param restarted      whether the schedule restarted from B0 (ρ ÷ 5) after this iteration
     */
    public record Iteration(int iteration, double rho, double objective, long supportChanges, boolean restarted) {}

    /** Wall time of the phases, seconds: scaling and eigendecomposition, ADMM, backsolve (CG and write-back). */
    public record Timing(double eigenSeconds, double admmSeconds, double backsolveSeconds) {
        public double totalSeconds() {
            return eigenSeconds + admmSeconds + backsolveSeconds;
        }
    }

    /**
     * What a solve did.
     *
     * @param outcome        zeros written into the weight
     * @param trace          one entry per ADMM iteration run
     * @param restarts       restarts of the schedule from B0
     * @param cgIterations   conjugate-gradient iterations of the backsolve
     * @param admmObjective  relative error of Π(B) after the ADMM, before the backsolve
     * @param objective      relative error of the final weight, {@code ||X(Ŵ − W)||² / ||X W||²} (damped Gram)
     * @param denseEnergy    {@code ||X W||²} on the damped Gram, so that objective · denseEnergy is the absolute error
     * @param tokens         the calibration tokens summed into the Gram
     * @param finalRho       ρ when the ADMM stopped
     * @param timing         wall time of the phases
     */
    public record Result(
            LinearPruner.PruneOutcome outcome,
            List<Iteration> trace,
            int restarts,
            int cgIterations,
            double admmObjective,
            double objective,
            double denseEnergy,
            long tokens,
            double finalRho,
            Timing timing) {
        public Result {
            trace = List.copyOf(trace);
        }

        /** ADMM iterations run. */
        public int iterations() {
            return trace.size();
        }

        /** The final squared reconstruction error per calibration token, {@code ||X(Ŵ − W)||² / tokens}. */
        public double errorPerToken() {
            return objective * denseEnergy / tokens;
        }
    }

    /**
     * Prunes {@code weight} (out, in) F32 in place with ALPS; see the class comment for the algorithm.
     *
     * @param weight   (out_features, in_features) F32, writable; on return pattern-conformant: at most k nonzeros with
     *                 k = round((1 − sparsity) · out · in) (unstructured, whole matrix), or N:M in every row
     * @param gram     (in_features, in_features) F32 or F64, the raw sum XᵀX over the calibration tokens; not modified
     * @param tokens   rows of X summed into {@code gram}, > 0
     * @param sparsity fraction of weights to zero (unstructured), or NaN / the implied one for N:M
     * @param ops      the backend for every O(n³) and O(n²·k) step
     */
    public static Result prune(
            Tensor weight,
            Tensor gram,
            long tokens,
            SparsityPattern pattern,
            double sparsity,
            Options options,
            TensorOps ops) {
        double level = pattern.validate(sparsity);
        weight.requireRank(2);
        weight.requireDType(DType.F32);
        gram.requireRank(2);
        int out = weight.rows();
        int in = weight.cols();
        if (gram.rows() != in || gram.cols() != in) {
            throw new IllegalArgumentException("Alps: Gram of shape (" + gram.rows() + ", " + gram.cols()
                    + ") for a weight of shape (" + out + ", " + in + "); expected (" + in + ", " + in + ")");
        }
        if (tokens <= 0) {
            throw new IllegalArgumentException("Alps: " + tokens + " calibration tokens; expected at least one");
        }
        try (Arena arena = Arena.ofShared()) {
            long t0 = System.nanoTime();
            AlpsScaledProblem problem = AlpsScaledProblem.of(gram, options.dampFraction(), arena, ops);
            long t1 = System.nanoTime();
            AlpsProjection projection = new AlpsProjection(pattern, level, out, in, ops);
            AlpsAdmm admm = new AlpsAdmm(problem, projection, weight, options, arena, ops);
            AlpsAdmm.Outcome solved = admm.run();
            long t2 = System.nanoTime();
            int cg = AlpsBacksolve.run(problem, admm, options, weight, ops);
            double objective = admm.relativeError(admm.sparse());
            LinearPruner.PruneOutcome outcome = LinearPruner.zerosOf(weight, ops);
            long t3 = System.nanoTime();
            Timing timing = new Timing((t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9);
            return new Result(
                    outcome,
                    solved.trace(),
                    solved.restarts(),
                    cg,
                    solved.admmObjective(),
                    objective,
                    admm.denseEnergy(),
                    tokens,
                    solved.finalRho(),
                    timing);
        }
    }
}
