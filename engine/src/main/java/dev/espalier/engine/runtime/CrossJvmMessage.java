package dev.espalier.engine.runtime;

/**
 * Marks messages that may cross a JVM boundary (Pekko remoting / cluster): they carry handles and plain values,
 * never tensors or models, and are serialised by {@link KryoSerializer}. Messages that hand over local memory
 * (layer weights, solve problems, models to evaluate) do not carry this mark and stay within one host.
 */
public interface CrossJvmMessage {}
