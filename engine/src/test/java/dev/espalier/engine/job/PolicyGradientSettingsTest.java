package dev.espalier.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import org.junit.jupiter.api.Test;

/** The presets and the layer-rate rule as {@link PolicyGradientMethod.Settings} reads them from a spec. */
class PolicyGradientSettingsTest {

    private static PolicyGradientMethod.Settings settings(PolicyGradientSettings.Builder pg) {
        return PolicyGradientMethod.Settings.of(JobSpec.newBuilder()
                .setMethod(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                .setSparsity(0.3)
                .setPolicyGradient(pg)
                .build());
    }

    @Test
    void theDefaultsAreEspaliersAndTheGlobalBudget() {
        for (PolicyGradientSettings.Preset preset : new PolicyGradientSettings.Preset[] {
            PolicyGradientSettings.Preset.PRESET_UNSPECIFIED, PolicyGradientSettings.Preset.PRESET_ESPALIER
        }) {
            PolicyGradientMethod.Settings s =
                    settings(PolicyGradientSettings.newBuilder().setPreset(preset));
            assertEquals(1000, s.config().steps());
            assertEquals(0.05, s.config().headLr());
            assertEquals(4, s.batchSize());
            assertEquals(2, s.config().rollouts());
            assertFalse(s.config().uniformLayerRates());
        }
    }

    @Test
    void thePaperPresetTakesTheOfficialScriptsSettingsUnlessAFieldIsSet() {
        PolicyGradientMethod.Settings paper =
                settings(PolicyGradientSettings.newBuilder().setPreset(PolicyGradientSettings.Preset.PRESET_PAPER));
        assertEquals(15_000, paper.config().steps());
        assertEquals(2e-3, paper.config().headLr());
        assertEquals(2e-3, paper.config().channelLr());
        assertEquals(8, paper.batchSize());
        assertEquals(2, paper.config().rollouts());
        assertEquals(0.7, paper.config().headKeepRatio(), 1e-15);

        PolicyGradientMethod.Settings overridden = settings(PolicyGradientSettings.newBuilder()
                .setPreset(PolicyGradientSettings.Preset.PRESET_PAPER)
                .setSteps(300)
                .setLr(0.01)
                .setBatchSize(2));
        assertEquals(300, overridden.config().steps());
        assertEquals(0.01, overridden.config().headLr());
        assertEquals(2, overridden.batchSize());
    }

    @Test
    void uniformLayerRatesReachTheLearnersConfig() {
        assertTrue(settings(PolicyGradientSettings.newBuilder()
                        .setLayerRates(PolicyGradientSettings.LayerRates.LAYER_RATES_UNIFORM))
                .config()
                .uniformLayerRates());
        assertFalse(settings(PolicyGradientSettings.newBuilder()
                        .setLayerRates(PolicyGradientSettings.LayerRates.LAYER_RATES_GLOBAL))
                .config()
                .uniformLayerRates());
    }
}
