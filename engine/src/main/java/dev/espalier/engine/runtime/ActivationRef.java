package dev.espalier.engine.runtime;

/**
 * A handle to one batch of activations (rows, hiddenSize) resident on a device worker. Messages carry handles; the
 * tensor stays with the worker that owns it until that worker is told to release it.
 *
 * @param id     unique within the job
 * @param worker index of the owning device worker
 * @param layer  the layer whose input this is (-1 for embeddings entering layer 0 are layer 0's input: 0)
 * @param batch  index of the calibration batch
 */
public record ActivationRef(long id, int worker, int layer, int batch) {}
