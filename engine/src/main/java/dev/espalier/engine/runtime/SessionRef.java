package dev.espalier.engine.runtime;

/**
 * A handle to one job's context on the device workers (its model, scratch buffers, the layers it has open there),
 * opened with {@link DeviceWorker.OpenSession} on each worker the job uses and closed with
 * {@link DeviceWorker.CloseSession}.
 */
public record SessionRef(long id, String job) implements CrossJvmMessage {}
