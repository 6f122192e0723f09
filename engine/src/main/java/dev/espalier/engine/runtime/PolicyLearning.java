package dev.espalier.engine.runtime;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.policy.PolicyGradientPruner;
import dev.espalier.engine.prune.policy.PolicyState;
import java.util.List;

/**
 * The public entry point to a policy-gradient learning run outside a job, for benchmarks: a fresh device system on
 * {@code devices}, {@link PolicyLearner} with {@code inFlight} rollout passes in flight over {@code batches} for the
 * pruner's configured steps, no run directory, no events, no checkpoints.
 */
public final class PolicyLearning {
    private PolicyLearning() {}

    /**
     * The final learner state after {@code pruner}'s steps.
     *
     * @throws PipelineFailedException when the learner reports a failure
     */
    public static PolicyState learn(LlamaModel model, DeviceSpec devices, PolicyGradientPruner pruner, int[][][] batches, int inFlight)
            throws Exception {
        PolicyLearner.Result r;
        try (DeviceSystem system = new DeviceSystem(model, devices, batches[0][0].length)) {
            r = PolicyGradientJob.learn(system, model, pruner, batches, inFlight, 0, null, null, pruner.config().steps(), null, List.of());
        }
        if (r instanceof PolicyLearner.LearningFailed f) {
            throw new PipelineFailedException(f.message());
        }
        return ((PolicyLearner.Learned) r).state();
    }
}
