package dev.espalier.engine.runtime;

/**
 * A handle to one batch of activations (rows, hiddenSize) resident on a device worker. Messages carry handles; the
 * tensor stays with the worker that owns it until that worker is told to release it.
 *
 * @param id         unique within the process (every job's handles share the host's store)
 * @param generation the pipeline generation that made it (a restarted pipeline ignores its predecessor's replies)
 * @param worker     index of the owning device worker among the job's workers
 * @param layer      the layer whose input this is (embeddings are layer 0's input)
 * @param batch      index of the calibration batch
 */
public record ActivationRef(long id, int generation, int worker, int layer, int batch) implements CrossJvmMessage {}
