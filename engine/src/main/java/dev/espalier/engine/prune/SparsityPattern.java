package dev.espalier.engine.prune;

import java.util.Locale;

/**
 * Where zeros may go: anywhere ({@link #UNSTRUCTURED}), or N:M — at most N nonzeros in every group of M consecutive
 * input weights of a row (2:4, 4:8), which fixes the sparsity at 1 − N/M.
 *
 * @param keep  N, the weights kept per group (0 for unstructured)
 * @param group M, the group size (0 for unstructured)
 */
public record SparsityPattern(int keep, int group) {
    public static final SparsityPattern UNSTRUCTURED = new SparsityPattern(0, 0);

    public SparsityPattern {
        if (group != 0 && (keep <= 0 || keep >= group)) {
            throw new IllegalArgumentException("N:M pattern needs 0 < N < M, got " + keep + ":" + group);
        }
    }

    /**
     * The pattern a job spec names, read from the enum value's name (SPARSITY_PATTERN_2_4 → 2:4), so that the list
     * of patterns lives in the protocol only; IllegalArgumentException for UNSPECIFIED / UNRECOGNIZED.
     */
    public static SparsityPattern of(dev.espalier.protocol.v1.SparsityPattern pattern) {
        if (pattern == dev.espalier.protocol.v1.SparsityPattern.UNRECOGNIZED
                || pattern == dev.espalier.protocol.v1.SparsityPattern.SPARSITY_PATTERN_UNSPECIFIED) {
            throw new IllegalArgumentException("pattern is required (unstructured, 2:4 or 4:8), got " + pattern);
        }
        return parse(label(pattern));
    }

    /** The command line's name of a spec's pattern: "unstructured", "2:4", "4:8" (from the enum value's name). */
    public static String label(dev.espalier.protocol.v1.SparsityPattern pattern) {
        String rest = pattern.name().replaceFirst("^SPARSITY_PATTERN_", "");
        return Character.isDigit(rest.charAt(0)) ? rest.replace('_', ':') : rest.toLowerCase(Locale.ROOT);
    }

    /** Parses "unstructured" or "N:M" (e.g. "2:4"). */
    public static SparsityPattern parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("unstructured")) {
            return UNSTRUCTURED;
        }
        String[] parts = t.split(":");
        if (parts.length == 2) {
            try {
                return new SparsityPattern(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException(
                "pattern must be \"unstructured\" or N:M such as 2:4 or 4:8, got \"" + text + "\"");
    }

    public boolean isNm() {
        return group > 0;
    }

    /**
     * Weights kept in a group of {@code width} consecutive inputs: N for a full group; for a trailing group narrower
     * than M (an input width not divisible by M, such as stories260K's FFN width 172 under 4:8), ⌈width · N / M⌉.
     */
    public int keptInGroup(int width) {
        return width == group ? keep : (width * keep + group - 1) / group;
    }

    /** The sparsity an N:M pattern implies, 1 − N/M. */
    public double impliedSparsity() {
        return isNm() ? 1.0 - (double) keep / group : Double.NaN;
    }

    /** Checks a requested sparsity against the pattern; returns it (N:M: the implied one when {@code sparsity} is NaN). */
    public double validate(double sparsity) {
        if (isNm()) {
            double implied = impliedSparsity();
            if (!Double.isNaN(sparsity) && Math.abs(sparsity - implied) > 1e-9) {
                throw new IllegalArgumentException(
                        "pattern " + this + " fixes the sparsity at " + implied + ", got --sparsity " + sparsity);
            }
            return implied;
        }
        if (!(sparsity > 0 && sparsity < 1)) {
            throw new IllegalArgumentException("sparsity must be in (0, 1), got " + sparsity);
        }
        return sparsity;
    }

    @Override
    public String toString() {
        return isNm() ? keep + ":" + group : "unstructured";
    }
}
