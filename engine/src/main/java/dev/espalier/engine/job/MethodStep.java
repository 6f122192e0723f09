package dev.espalier.engine.job;

import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.protocol.v1.JobSpec;
import java.util.Map;

/**
 * The method step of {@link PruneJob}, the one skeleton every job runs (load → calibrate → evaluate → method → export →
 * evaluate → report): what a family of methods does between the calibration and the export. A step leaves every pruned
 * decoder layer as a checkpoint in the run directory (written by the device worker that holds it, with the units it
 * keeps for structured methods); the skeleton reads the pruned model back from there.
 */
public interface MethodStep {

    /**
     * Checks what can be checked before anything is written (options, calibration file); throws
     * IllegalArgumentException / UnsupportedOperationException naming the problem.
     */
    void validate(JobSpec spec);

    /** Tokens per calibration sequence when the spec leaves it to the method (capped by the model's context). */
    int defaultSeqlen();

    /** Runs the method; returns the outcome of each layer it pruned (matrix by matrix). */
    Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> run(JobContext job) throws Exception;
}
