package dev.espalier.engine.prune;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * In which order a layer's seven linear maps are pruned, and from which inputs their statistics come.
 * <ul>
 *   <li>{@link #SHARED}: all seven from inputs captured with the dense layer, in one pass (the official ALPS, Wanda and
 *       SparseGPT-for-LLaMA drivers); all seven solves are independent and run concurrently. The default: one forward
 *       pass per layer instead of four, and the setting the published numbers use.</li>
 *   <li>{@link #SEQUENTIAL}: q/k/v, then o on inputs from the pruned attention, then gate/up on the residual stream
 *       after the pruned attention, then down (SparseGPT's "true sequential"): each group sees the errors of the groups
 *       before it, at the cost of four forward passes over the calibration set per layer.</li>
 * </ul>
 */
public enum SolveOrder {
    SHARED(List.of(EnumSet.allOf(LinearModule.Input.class))),
    SEQUENTIAL(List.of(
            EnumSet.of(LinearModule.Input.ATTENTION),
            EnumSet.of(LinearModule.Input.ATTENTION_OUTPUT),
            EnumSet.of(LinearModule.Input.MLP),
            EnumSet.of(LinearModule.Input.DOWN)));

    private final List<Set<LinearModule.Input>> phases;

    SolveOrder(List<Set<LinearModule.Input>> phases) {
        this.phases = phases;
    }

    /** The inputs whose maps are accumulated and solved together, phase by phase. */
    public List<Set<LinearModule.Input>> phases() {
        return phases;
    }

    /** "shared" or "sequential". */
    public static SolveOrder parse(String text) {
        for (SolveOrder o : values()) {
            if (o.name().equalsIgnoreCase(text.trim())) {
                return o;
            }
        }
        throw new IllegalArgumentException(
                "--method-option solve_order must be shared or sequential, got \"" + text + "\"");
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
