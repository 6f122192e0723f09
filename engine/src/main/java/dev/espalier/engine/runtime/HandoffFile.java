package dev.espalier.engine.runtime;

/**
 * One batch of activations written for a stage on another node: a file in the job's handoff folder (in the run folder
 * every node shares), named, not pathed, since each node may mount that folder elsewhere.
 *
 * @param name   the file's name in the handoff folder
 * @param rows   tokens of the batch
 * @param cols   hidden size
 * @param sha256 SHA-256 of the file (raw little-endian F32, row-major), checked before it is used
 */
public record HandoffFile(String name, int rows, int cols, String sha256) implements CrossJvmMessage {}
