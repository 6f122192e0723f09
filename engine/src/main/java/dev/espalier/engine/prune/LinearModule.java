package dev.espalier.engine.prune;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.Tensor;
import java.util.Locale;

/** The seven linear maps of a decoder layer, each with the forward-pass input it reads. */
public enum LinearModule {
    Q(Input.ATTENTION),
    K(Input.ATTENTION),
    V(Input.ATTENTION),
    O(Input.ATTENTION_OUTPUT),
    GATE(Input.MLP),
    UP(Input.MLP),
    DOWN(Input.DOWN);

    /** Which captured activation feeds the map. */
    public enum Input {
        ATTENTION,
        ATTENTION_OUTPUT,
        MLP,
        DOWN
    }

    private final Input input;

    LinearModule(Input input) {
        this.input = input;
    }

    public Input input() {
        return input;
    }

    /** The weight (out_features, in_features) of this map in {@code w}. */
    public Tensor weight(DecoderLayerWeights w) {
        return switch (this) {
            case Q -> w.q();
            case K -> w.k();
            case V -> w.v();
            case O -> w.o();
            case GATE -> w.gate();
            case UP -> w.up();
            case DOWN -> w.down();
        };
    }

    /** The Hugging Face module name: q_proj, …, down_proj. */
    public String hfName() {
        return name().toLowerCase(Locale.ROOT) + "_proj";
    }
}
