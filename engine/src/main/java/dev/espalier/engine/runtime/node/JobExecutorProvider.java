package dev.espalier.engine.runtime.node;

import dev.espalier.protocol.v1.PruneMethod;
import java.util.Map;

/**
 * Supplies executors to {@link JobExecutors} through {@link java.util.ServiceLoader}: list the implementing class in
 * {@code META-INF/services/dev.espalier.engine.runtime.node.JobExecutorProvider}.
 */
public interface JobExecutorProvider {

    /** The executors this provider offers, by method. */
    Map<PruneMethod, JobExecutor> executors();
}
