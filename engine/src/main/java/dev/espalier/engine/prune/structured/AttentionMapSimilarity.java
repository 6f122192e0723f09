package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How alike the attention maps of a layer's query heads are: the Jensen–Shannon divergence between two heads'
 * attention distributions of the same query row, averaged over query rows and calibration sequences (GOA's
 * similarity-based head metric, arXiv 2407.19126: heads that attend alike are redundant).
 * <pre>
 *   JS(P, Q) = ½ KL(P || M) + ½ KL(Q || M),  M = ½ (P + Q),  natural log, 0·log 0 = 0  ⇒  JS ∈ [0, ln 2]
 *   D[a][b]  = mean over rows r of JS(p_a(r, ·), p_b(r, ·))
 * </pre>
 * Rows come from {@code LayerTap.attentionProbabilities(layer, head, p)}, p (n, keys) with the n queries at the last
 * n key positions; row r's distribution is its causal support, keys 0 .. keys − n + r. Rows whose support is one key
 * (the first token of a sequence) are skipped: every head puts all its mass there, so they would pull every
 * divergence toward 0 alike and say nothing. Every other row counts once, whatever its length.
 *
 * <p>Heads of one forward pass arrive one at a time; each is compared with those already buffered, then buffered
 * (heads × n·keys/2 floats); when all heads have arrived the pass is done and the buffer cleared. {@code rowStride}
 * k keeps every k-th query row to bound that memory and the heads²·n·keys/2 cost.
 *
 * <p>Pruning by similarity ({@link #greedyPrune}): repeatedly take the most similar pair of surviving units; if its
 * divergence is below τ (or, in count mode, while fewer than the target have gone) remove the lower-scored of the
 * two (scores from any importance metric, e.g. {@link GoaHeadScores}) and fold its group into the survivor's. One rule,
 * two stopping criteria, so the τ mode and the target-count mode prune the same heads in the same order. For key/value
 * group units the divergence between groups is the mean over their cross query-head pairs ({@link #groupDivergence}).
 * The paper's text was not reachable from this environment; this greedy rule is this project's reading of "group
 * similar heads, prune the redundant ones", chosen so that the survivor of each redundant pair is the more important
 * head and so that a head count target and a τ give nested results.
 *
 * <p>The threshold graph ({@link #thresholdPrune}, {@code head_graph=threshold}) is the slide's rule "heads connected
 * when D(h_i, h_j) ≥ 0.2", read with D a similarity: here D is a divergence, so two units are connected when their
 * divergence is below the threshold (0.2 nats by default, of at most ln 2), and each connected component keeps its
 * best-scored unit. It differs from τ: τ is the same greedy pair rule with a stopping threshold, so after a pair's
 * loser is gone its other near neighbours may survive (a chain a–b–c keeps a and c when only a–b and b–c are close),
 * whereas the graph removes every unit but one of the whole component. Neither takes the allocated count; the FFN
 * channels then make up the layer's parameter target.
 */
public final class AttentionMapSimilarity {
    private final int numHeads;
    private final int rowStride;
    private final double[][] sums; // (heads, heads) Σ over rows of JS
    private final float[][][] pass; // per head, the buffered support rows of the current pass
    private int passRows = -1;
    private int passKeys = -1;
    private int arrived;
    private long rows;

    /** Every query row. */
    public AttentionMapSimilarity(int numHeads) {
        this(numHeads, 1);
    }

    /** Every {@code rowStride}-th query row (rows 0, k, 2k, … of each call). */
    public AttentionMapSimilarity(int numHeads, int rowStride) {
        if (numHeads <= 0 || rowStride <= 0) {
            throw new IllegalArgumentException(
                    "AttentionMapSimilarity: heads " + numHeads + " and row stride " + rowStride + " must be positive");
        }
        this.numHeads = numHeads;
        this.rowStride = rowStride;
        this.sums = new double[numHeads][numHeads];
        this.pass = new float[numHeads][][];
    }

    /** Adds one head's probabilities p (n, keys) of the current forward pass; rows sum to 1 over their causal support. */
    public void add(int head, Tensor p) {
        if (head < 0 || head >= numHeads) {
            throw new IllegalArgumentException("head " + head + " out of range 0.." + (numHeads - 1));
        }
        if (p.rank() != 2 || p.rows() > p.cols()) {
            throw new IllegalArgumentException("attention probabilities must be (n, keys) with n ≤ keys, got " + p);
        }
        if (pass[head] != null) {
            throw new IllegalStateException(
                    "head " + head + " arrived twice before the other heads of its forward pass");
        }
        if (arrived == 0) {
            passRows = p.rows();
            passKeys = p.cols();
        } else if (p.rows() != passRows || p.cols() != passKeys) {
            throw new IllegalArgumentException("head " + head + " has shape " + Arrays.toString(p.shape())
                    + ", the pass has (" + passRows + ", " + passKeys + ")");
        }
        float[][] mine = supportRows(p);
        for (int other = 0; other < numHeads; other++) {
            if (pass[other] != null) {
                double s = 0;
                for (int r = 0; r < mine.length; r++) {
                    s += jensenShannon(mine[r], pass[other][r]);
                }
                sums[head][other] += s;
                sums[other][head] += s;
            }
        }
        pass[head] = mine;
        if (++arrived == numHeads) {
            rows += mine.length;
            Arrays.fill(pass, null);
            arrived = 0;
        }
    }

    private float[][] supportRows(Tensor p) {
        int n = p.rows();
        int offset = p.cols() - n; // query r sits at key position offset + r
        List<float[]> out = new ArrayList<>();
        for (int r = 0; r < n; r += rowStride) {
            int length = offset + r + 1;
            if (length < 2) {
                continue;
            }
            float[] row = new float[length];
            for (int k = 0; k < length; k++) {
                row[k] = p.get(r, k);
            }
            out.add(row);
        }
        return out.toArray(new float[0][]);
    }

    /** Query rows averaged over so far (complete passes only). */
    public long rows() {
        return rows;
    }

    /** D (heads, heads): the mean Jensen–Shannon divergence per pair, symmetric, zero diagonal. */
    public double[][] divergence() {
        if (rows == 0) {
            throw new IllegalStateException("no complete forward pass with a query row of two or more keys was added");
        }
        double[][] d = new double[numHeads][numHeads];
        for (int a = 0; a < numHeads; a++) {
            for (int b = 0; b < numHeads; b++) {
                d[a][b] = a == b ? 0 : sums[a][b] / rows;
            }
        }
        return d;
    }

    /** JS(P, Q) in nats over equal-length distributions, clamped to [0, ln 2] against rounding. */
    public static double jensenShannon(float[] p, float[] q) {
        if (p.length != q.length) {
            throw new IllegalArgumentException("distributions of lengths " + p.length + " and " + q.length);
        }
        double sum = 0;
        for (int k = 0; k < p.length; k++) {
            double a = p[k];
            double b = q[k];
            double m = 0.5 * (a + b);
            if (a > 0) {
                sum += a * Math.log(a / m);
            }
            if (b > 0) {
                sum += b * Math.log(b / m);
            }
        }
        return Math.min(Math.log(2), Math.max(0, 0.5 * sum));
    }

    /** Divergence between key/value groups: the mean of D over the perGroup² pairs of their query heads. */
    public static double[][] groupDivergence(double[][] d, int perGroup) {
        if (perGroup <= 0 || d.length % perGroup != 0) {
            throw new IllegalArgumentException(d.length + " heads do not split into groups of " + perGroup);
        }
        int groups = d.length / perGroup;
        double[][] out = new double[groups][groups];
        for (int g = 0; g < groups; g++) {
            for (int f = 0; f < groups; f++) {
                if (g == f) {
                    continue;
                }
                double s = 0;
                for (int a = g * perGroup; a < (g + 1) * perGroup; a++) {
                    for (int b = f * perGroup; b < (f + 1) * perGroup; b++) {
                        s += d[a][b];
                    }
                }
                out[g][f] = s / ((double) perGroup * perGroup);
            }
        }
        return out;
    }

    /**
     * The outcome of {@link #greedyPrune}.
     *
     * @param kept    surviving units, sorted
     * @param removed removed units, in removal order
     * @param groups  one per survivor, in {@code kept} order: the survivor first, then the units folded into it
     */
    public record Pruning(int[] kept, int[] removed, int[][] groups) {}

    /**
     * Greedy redundancy pruning over units with divergence matrix d (symmetric) and importance scores: while more than
     * one unit survives, fewer than {@code maxRemove} were removed and the most similar surviving pair (i, j) has
     * d[i][j] &lt; τ, remove the lower-scored of i and j (ties: the higher index). τ = +∞ gives the count mode;
     * maxRemove = Integer.MAX_VALUE the threshold mode.
     */
    public static Pruning greedyPrune(double[][] d, double[] scores, double tau, int maxRemove) {
        int n = d.length;
        if (scores.length != n) {
            throw new IllegalArgumentException(n + " units but " + scores.length + " scores");
        }
        boolean[] alive = new boolean[n];
        Arrays.fill(alive, true);
        List<List<Integer>> groups = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            groups.add(new ArrayList<>(List.of(i)));
        }
        int[] removed = new int[n];
        int count = 0;
        while (count < maxRemove && n - count > 1) {
            int bi = -1;
            int bj = -1;
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n && alive[i]; j++) {
                    if (alive[j] && (bi < 0 || d[i][j] < d[bi][bj])) {
                        bi = i;
                        bj = j;
                    }
                }
            }
            if (!(d[bi][bj] < tau)) {
                break;
            }
            int loser = scores[bj] <= scores[bi] ? bj : bi;
            int winner = loser == bj ? bi : bj;
            alive[loser] = false;
            groups.get(winner).addAll(groups.get(loser));
            removed[count++] = loser;
        }
        int[] kept = new int[n - count];
        int[][] keptGroups = new int[n - count][];
        for (int i = 0, k = 0; i < n; i++) {
            if (alive[i]) {
                kept[k] = i;
                keptGroups[k++] =
                        groups.get(i).stream().mapToInt(Integer::intValue).toArray();
            }
        }
        return new Pruning(kept, Arrays.copyOf(removed, count), keptGroups);
    }

    /**
     * The threshold graph rule ({@code head_graph=threshold}): units i and j are joined by an edge when
     * d[i][j] &lt; threshold (their maps are that alike), and each connected component of that graph keeps only its
     * highest-scored unit (ties: the lower index); components are found by union–find. Unlike {@link #greedyPrune}
     * with τ, which stops pairing once a unit's partner is gone, a chain a–b–c with a, c farther apart than the
     * threshold is one component here and keeps one unit. Groups list each survivor first, then its component's
     * other units in index order; removed units are in index order.
     */
    public static Pruning thresholdPrune(double[][] d, double[] scores, double threshold) {
        int n = d.length;
        if (scores.length != n) {
            throw new IllegalArgumentException(n + " units but " + scores.length + " scores");
        }
        int[] parent = new int[n];
        Arrays.setAll(parent, i -> i);
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                if (d[i][j] < threshold) {
                    parent[root(parent, i)] = root(parent, j);
                }
            }
        }
        int[] best = new int[n]; // per root, its best unit
        Arrays.fill(best, -1);
        for (int i = 0; i < n; i++) {
            int r = root(parent, i);
            if (best[r] < 0 || scores[i] > scores[best[r]]) {
                best[r] = i;
            }
        }
        List<Integer> kept = new ArrayList<>();
        List<Integer> removed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            (best[root(parent, i)] == i ? kept : removed).add(i);
        }
        int[][] groups = new int[kept.size()][];
        for (int k = 0; k < groups.length; k++) {
            int survivor = kept.get(k);
            int r = root(parent, survivor);
            List<Integer> g = new ArrayList<>(List.of(survivor));
            for (int i = 0; i < n; i++) {
                if (i != survivor && root(parent, i) == r) {
                    g.add(i);
                }
            }
            groups[k] = g.stream().mapToInt(Integer::intValue).toArray();
        }
        return new Pruning(
                kept.stream().mapToInt(Integer::intValue).toArray(),
                removed.stream().mapToInt(Integer::intValue).toArray(),
                groups);
    }

    private static int root(int[] parent, int i) {
        while (parent[i] != i) {
            i = parent[i];
        }
        return i;
    }

    /**
     * Query heads inside key/value groups, the same number per group: {@link #greedyPrune} in count mode on each
     * group's own block of d, removing {@code removePerGroup} heads from every group. Returns the kept query heads,
     * sorted.
     */
    public static int[] pruneWithinGroups(double[][] d, double[] scores, int perGroup, int removePerGroup) {
        if (perGroup <= 0 || d.length % perGroup != 0 || removePerGroup < 0 || removePerGroup >= perGroup) {
            throw new IllegalArgumentException(
                    "cannot remove " + removePerGroup + " of " + perGroup + " heads per group from " + d.length);
        }
        int[] kept = new int[d.length - (d.length / perGroup) * removePerGroup];
        int k = 0;
        for (int g0 = 0; g0 < d.length; g0 += perGroup) {
            double[][] block = new double[perGroup][perGroup];
            double[] s = new double[perGroup];
            for (int a = 0; a < perGroup; a++) {
                s[a] = scores[g0 + a];
                for (int b = 0; b < perGroup; b++) {
                    block[a][b] = d[g0 + a][g0 + b];
                }
            }
            for (int h : greedyPrune(block, s, Double.POSITIVE_INFINITY, removePerGroup)
                    .kept()) {
                kept[k++] = g0 + h;
            }
        }
        return kept;
    }
}
