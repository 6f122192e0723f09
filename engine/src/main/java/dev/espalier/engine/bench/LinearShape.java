package dev.espalier.engine.bench;

import java.util.List;

/** A linear map's weight shape (out_features, in_features), for benchmarks on synthetic layers. */
public record LinearShape(int out, int in) {
    /** LLaMA-7B's three distinct linear shapes: q/k/v/o (4096 × 4096), gate/up (11008 × 4096), down (4096 × 11008). */
    public static final List<LinearShape> LLAMA_7B =
            List.of(new LinearShape(4096, 4096), new LinearShape(11008, 4096), new LinearShape(4096, 11008));

    @Override
    public String toString() {
        return out + "x" + in;
    }
}
