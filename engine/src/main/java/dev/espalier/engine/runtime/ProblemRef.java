package dev.espalier.engine.runtime;

/**
 * A handle to one independent solve of a layer ({@link dev.espalier.engine.prune.LayerProblem}), held in the host's
 * {@link HostProblems} by the layer's home worker until a worker takes it to solve.
 */
public record ProblemRef(long id, int layer, String name) implements CrossJvmMessage {}
