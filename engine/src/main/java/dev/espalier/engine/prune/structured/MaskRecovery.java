package dev.espalier.engine.prune.structured;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.protocol.v1.StructuredSettings;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * Recovery of given keep sets, as a layer-pipeline method: every layer keeps exactly the units {@code kept} names
 * (policy-gradient's final masks) and its modules are refit by the four phases of {@link RecoveringLayer} (ridge least
 * squares against the dense stream, from the pruned stream's inputs), in place of a plain compaction. The mask search
 * and the recovery are independent: the units are not scored again.
 *
 * @param label  the method whose masks these are ("policy-gradient"), for the log
 * @param config the dense model's configuration
 * @param kept   one keep set per layer, in layer order, in the dense numbering
 * @param ridge  recovery's ridge λ as a fraction of the mean diagonal of the inputs' Gram
 */
public record MaskRecovery(String label, LlamaConfig config, List<KeptUnits> kept, double ridge)
        implements LayerMethod {

    public MaskRecovery {
        kept = List.copyOf(kept);
        if (kept.size() != config.numLayers()) {
            throw new IllegalArgumentException(
                    kept.size() + " keep sets for a model of " + config.numLayers() + " layers");
        }
        if (!(ridge > 0)) {
            throw new IllegalArgumentException("recovery's ridge must be positive, got " + ridge);
        }
    }

    @Override
    public String describe() {
        return label + " masks, recovery on (ridge " + ridge + ")";
    }

    @Override
    public int phases() {
        return RecoveringLayer.PHASES;
    }

    @Override
    public boolean usesDenseStream() {
        return true;
    }

    @Override
    public boolean scoresGlobally() {
        return false;
    }

    @Override
    public LayerWork open(
            int layer, DecoderLayerWeights dense, DecoderLayerWeights start, boolean completed, Arena arena) {
        // the settings the recovery phases read (the configuration and the ridge); the kept units come from kept
        StructuredMethod settings = StructuredMethod.of(
                StructuredMethod.Kind.WANDA_SP,
                config,
                0,
                StructuredSettings.newBuilder()
                        .setRecovery(true)
                        .setRidge(ridge)
                        .build());
        return new GivenUnitsLayer(settings, layer, dense, start, kept.get(layer), arena);
    }
}
