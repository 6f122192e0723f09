package dev.espalier.engine.job;

import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.PruneSupervisor;
import dev.espalier.protocol.v1.JobSpec;
import java.nio.file.Path;
import java.util.Map;

/**
 * The method step of every layer-pipeline method (magnitude, Wanda, SparseGPT, ALPS; Wanda-sp, FLAP, GOA): one
 * {@link PruneSupervisor} over the job's device workers, which prunes and checkpoints layer after layer.
 */
public final class LayerPipelineMethod implements MethodStep {
    /** Largest default calibration sequence; longer contexts are sampled in windows of this many tokens. */
    static final int DEFAULT_MAX_SEQLEN = 2048;

    /** The method of the spec (its settings) and that the calibration file is readable text. */
    @Override
    public void validate(JobSpec spec) {
        PruneMethods.layerMethod(spec, JobInputs.selfCalibration(spec), null);
        if (!JobInputs.selfCalibration(spec)) {
            TextCorpus.read(Path.of(spec.getCalibration()), JobInputs.calibrationRange(spec));
        }
    }

    @Override
    public int defaultSeqlen() {
        return DEFAULT_MAX_SEQLEN;
    }

    @Override
    public Map<Integer, Map<LinearModule, LinearPruner.PruneOutcome>> run(JobContext job) throws Exception {
        JobSpec spec = job.spec();
        LayerMethod method = PruneMethods.layerMethod(
                spec, JobInputs.selfCalibration(spec), job.model().config());
        PruneSupervisor.Plan plan = new PruneSupervisor.Plan(
                job.jobDevices(),
                method,
                job.calibration(),
                job.scoringCalibration(),
                job.model().config().numLayers(),
                JobInputs.window(spec),
                JobInputs.maxRestarts(spec),
                job.run(),
                false,
                JobInputs.pipelineNodes(spec));
        PruneSupervisor.Outcome outcome = Await.result(
                job.devices()
                        .run(
                                "supervisor",
                                PruneSupervisor.Outcome.class,
                                done -> PruneSupervisor.create(plan, job.pipelineEvents(), done)),
                job.cancel());
        return ((PruneSupervisor.Succeeded) outcome).layers();
    }
}
