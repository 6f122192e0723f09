package dev.espalier.engine.runtime;

import dev.espalier.engine.prune.LayerProblem;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The independent solves that layers' home workers have handed out and no worker has taken yet, by handle. A
 * {@link LayerProblem} refers to its layer's statistics and weights, which stay on the home worker; on this host every
 * CPU worker reads the same memory, so any of them may take it.
 */
final class HostProblems {
    private final ConcurrentHashMap<Long, LayerProblem> problems = new ConcurrentHashMap<>();
    private final AtomicLong next = new AtomicLong(1);

    ProblemRef put(LayerProblem problem) {
        ProblemRef ref = new ProblemRef(next.getAndIncrement(), problem.layer(), problem.name());
        problems.put(ref.id(), problem);
        return ref;
    }

    /** Removes and returns the problem of {@code ref}. */
    LayerProblem take(ProblemRef ref) {
        LayerProblem p = problems.remove(ref.id());
        if (p == null) {
            throw new IllegalStateException(
                    "problem " + ref + " is not held on this host (taken twice, or its layer restarted)");
        }
        return p;
    }
}
