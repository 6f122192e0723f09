package dev.espalier.engine.runtime;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.protocol.v1.Device;
import java.util.List;

/**
 * The devices a job runs on: {@code cpu} (one worker with every core) or {@code cpu:N} (the cores split into N
 * workers). CUDA devices ({@code cuda:0,1}) need the GPU backend, which this build does not have.
 *
 * @param count          number of device workers
 * @param threadsPerDevice CPU threads of each worker
 */
public record DeviceSpec(int count, int threadsPerDevice) {

    /** The devices of the command line's spelling ({@link JobSpecs#devicesOf}): "cpu", "cpu:2". */
    public static DeviceSpec parse(String text) {
        return of(JobSpecs.devicesOf(text));
    }

    /**
     * The workers of a spec's devices (validated by {@link JobSpecs}): none or one CPU entry; CUDA devices need the GPU
     * backend, which this build does not have (UnsupportedOperationException).
     */
    public static DeviceSpec of(List<Device> devices) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (devices.isEmpty()) {
            return new DeviceSpec(1, cores);
        }
        Device d = devices.getFirst();
        if (d.getKind() == Device.Kind.KIND_CUDA || devices.size() > 1) {
            throw new UnsupportedOperationException("--devices " + JobSpecs.devicesLabel(devices)
                    + ": the CUDA backend is not in this build; use cpu or cpu:N");
        }
        if (d.getKind() != Device.Kind.KIND_CPU || (d.hasCpuShares() && (d.getCpuShares() < 1 || d.getCpuShares() > 64))) {
            throw new IllegalArgumentException("--devices must be cpu or cpu:N with N between 1 and 64, got " + JobSpecs.devicesLabel(devices));
        }
        int n = d.hasCpuShares() ? d.getCpuShares() : 1;
        return new DeviceSpec(n, Math.max(1, cores / n));
    }

    /** The backend of worker {@code index}. */
    public TensorOps createOps(int index) {
        return new CpuOps(threadsPerDevice);
    }
}
