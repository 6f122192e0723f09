package dev.espalier.engine.runtime.node;

import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The executors of this build, by pruning method: those of every {@link JobExecutorProvider} on the class path,
 * overridden by {@link #register}. A job whose method has none fails with "method X is not available in this build".
 */
public final class JobExecutors {
    private static final Map<PruneMethod, JobExecutor> EXECUTORS = new ConcurrentHashMap<>();

    static {
        for (JobExecutorProvider provider : ServiceLoader.load(JobExecutorProvider.class)) {
            EXECUTORS.putAll(provider.executors());
        }
    }

    private JobExecutors() {}

    /** Makes {@code executor} the one for {@code method}, replacing any other. */
    public static void register(PruneMethod method, JobExecutor executor) {
        EXECUTORS.put(method, executor);
    }

    /** Whether a job with {@code method} can run in this build. */
    public static boolean isAvailable(PruneMethod method) {
        return EXECUTORS.containsKey(method);
    }

    /** The executor for {@code spec}'s method; one that fails the job when the method is not available. */
    public static JobExecutor forSpec(JobSpec spec) {
        JobExecutor executor = EXECUTORS.get(spec.getMethod());
        return executor != null ? executor : unavailable(spec.getMethod());
    }

    /** An executor that fails every job with "method X is not available in this build". */
    static JobExecutor unavailable(PruneMethod method) {
        String label = PruneMethods.label(method);
        return (s, run, events, cancel) -> {
            throw new UnsupportedOperationException("method " + label + " is not available in this build");
        };
    }
}
