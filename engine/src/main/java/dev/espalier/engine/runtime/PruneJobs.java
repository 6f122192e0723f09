package dev.espalier.engine.runtime;

import dev.espalier.engine.runtime.node.JobExecutor;
import dev.espalier.engine.runtime.node.JobExecutorProvider;
import dev.espalier.protocol.v1.PruneMethod;
import java.util.Map;

/** Offers the pipeline's job executors (the layer pipeline's, and the policy-gradient learner's) for every method they implement. */
public final class PruneJobs implements JobExecutorProvider {

    @Override
    public Map<PruneMethod, JobExecutor> executors() {
        PruneJob job = new PruneJob();
        return Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, job, PruneMethod.PRUNE_METHOD_WANDA, job,
                PruneMethod.PRUNE_METHOD_SPARSEGPT, job, PruneMethod.PRUNE_METHOD_ALPS, job, PruneMethod.PRUNE_METHOD_WANDA_SP, job,
                PruneMethod.PRUNE_METHOD_FLAP, job, PruneMethod.PRUNE_METHOD_GOA, job,
                PruneMethod.PRUNE_METHOD_POLICY_GRADIENT, new PolicyGradientJob());
    }
}
