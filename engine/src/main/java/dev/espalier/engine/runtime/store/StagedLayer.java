package dev.espalier.engine.runtime.store;

/**
 * A layer checkpoint written by another node into the shared run folder, not yet committed by the job's node.
 *
 * @param layer        the decoder layer
 * @param relativePath the file, '/'-separated, inside the run directory
 * @param sha256       its SHA-256, hex
 * @param sizeBytes    its size
 */
public record StagedLayer(int layer, String relativePath, String sha256, long sizeBytes) {}
