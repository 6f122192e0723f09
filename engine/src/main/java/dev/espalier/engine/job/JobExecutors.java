package dev.espalier.engine.job;

import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.data.TextRange;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * The executors of a process, by pruning method, built explicitly over the process's {@link Devices}: every method runs
 * the one skeleton ({@link PruneJob}) with its family's {@link MethodStep}. A job whose method has none fails with
 * "method X is not available in this build".
 */
public final class JobExecutors {
    private final Map<PruneMethod, JobExecutor> executors;

    public JobExecutors(Map<PruneMethod, JobExecutor> executors) {
        this.executors = Map.copyOf(executors);
    }

    /** Every method of this build over {@code devices}. */
    public static JobExecutors standard(Devices devices) {
        Map<PruneMethod, JobExecutor> all = new EnumMap<>(PruneMethod.class);
        PruneJob pipeline = new PruneJob(devices, step(PruneMethod.PRUNE_METHOD_WANDA));
        for (PruneMethod m : new PruneMethod[] {
            PruneMethod.PRUNE_METHOD_MAGNITUDE,
            PruneMethod.PRUNE_METHOD_WANDA,
            PruneMethod.PRUNE_METHOD_SPARSEGPT,
            PruneMethod.PRUNE_METHOD_ALPS,
            PruneMethod.PRUNE_METHOD_WANDA_SP,
            PruneMethod.PRUNE_METHOD_FLAP,
            PruneMethod.PRUNE_METHOD_GOA
        }) {
            all.put(m, pipeline);
        }
        all.put(
                PruneMethod.PRUNE_METHOD_POLICY_GRADIENT,
                new PruneJob(devices, step(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)));
        return new JobExecutors(all);
    }

    /**
     * Checks {@code spec} as far as it can be checked before anything is written or any device started: the spec itself
     * ({@link JobSpecs#validate}), its method's settings and files, and that an --eval-range fits every evaluation
     * file. IllegalArgumentException / UnsupportedOperationException / DataFormatException naming the problem. The
     * node's submit and the CLI's verbs call this same check.
     */
    public static void validate(JobSpec spec) {
        JobSpecs.validate(spec);
        checkRanges(spec);
        for (int k = 0; k < RecipeJob.stageCount(spec); k++) {
            JobSpec stage = RecipeJob.stageSpec(spec, k, Path.of("/recipe"));
            step(stage.getMethod()).validate(stage);
        }
    }

    /**
     * That the spec's --calib-range and --eval-range fit their files (within them, selecting text): reads those files;
     * DataFormatException naming the file, the flag and the value. Nothing to do without ranges.
     */
    public static void checkRanges(JobSpec spec) {
        TextRange calibrationRange = JobInputs.calibrationRange(spec);
        if (calibrationRange != null) {
            TextCorpus.read(Path.of(spec.getCalibration()), calibrationRange);
        }
        TextRange evalRange = JobInputs.evalRange(spec);
        if (evalRange != null) {
            spec.getEvalDataList().forEach(file -> TextCorpus.read(Path.of(file), evalRange));
        }
    }

    /** The method step of {@code method}'s family. */
    static MethodStep step(PruneMethod method) {
        return method == PruneMethod.PRUNE_METHOD_POLICY_GRADIENT
                ? new PolicyGradientMethod()
                : new LayerPipelineMethod();
    }

    /** Whether a job with {@code method} can run here. */
    public boolean isAvailable(PruneMethod method) {
        return executors.containsKey(method);
    }

    /**
     * The executor for {@code spec}: a {@link RecipeJob} when it has next stages, else its method's; one that fails the
     * job when the method is not available.
     */
    public JobExecutor forSpec(JobSpec spec) {
        if (spec.getNextStagesCount() > 0) {
            return new RecipeJob(this);
        }
        JobExecutor executor = executors.get(spec.getMethod());
        if (executor != null) {
            return executor;
        }
        String label = PruneMethods.label(spec.getMethod());
        return (s, run, events, cancel) -> {
            throw new UnsupportedOperationException("method " + label + " is not available in this build");
        };
    }
}
