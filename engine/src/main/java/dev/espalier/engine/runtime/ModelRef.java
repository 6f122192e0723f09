package dev.espalier.engine.runtime;

/** A handle to a model resident on this host ({@link HostModels}); messages name models by it, never by the weights. */
public record ModelRef(long id, String name) implements CrossJvmMessage {}
