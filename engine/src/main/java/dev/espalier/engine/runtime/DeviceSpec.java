package dev.espalier.engine.runtime;

import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.protocol.v1.Device;
import java.util.List;

/**
 * A set of device workers: {@code cpu} (one worker with every core) or {@code cpu:N} (the cores split into N workers).
 * CUDA devices ({@code cuda:0,1}) need the GPU backend, which this build does not have. A process starts its workers
 * from one ({@link Devices#start}); a job's names how many of them it uses.
 *
 * @param count          number of device workers
 * @param threadsPerDevice CPU threads of each worker
 */
public record DeviceSpec(int count, int threadsPerDevice) {

    /**
     * The workers of a spec's devices (validated by the job spec's checks): none or one CPU entry; CUDA devices need the
     * GPU backend, which this build does not have (UnsupportedOperationException).
     */
    public static DeviceSpec of(List<Device> devices) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (devices.isEmpty()) {
            return new DeviceSpec(1, cores);
        }
        Device d = devices.getFirst();
        if (d.getKind() == Device.Kind.KIND_CUDA || devices.size() > 1) {
            throw new UnsupportedOperationException(
                    "--devices " + label(devices) + ": the CUDA backend is not in this build; use cpu or cpu:N");
        }
        if (d.getKind() != Device.Kind.KIND_CPU
                || (d.hasCpuShares() && (d.getCpuShares() < 1 || d.getCpuShares() > 64))) {
            throw new IllegalArgumentException(
                    "--devices must be cpu or cpu:N with N between 1 and 64, got " + label(devices));
        }
        int n = d.hasCpuShares() ? d.getCpuShares() : 1;
        return new DeviceSpec(n, Math.max(1, cores / n));
    }

    /** How the command line spells {@code devices}: "cpu", "cpu:2", "cuda:0,cuda:1". */
    public static String label(List<Device> devices) {
        if (devices.isEmpty()) {
            return "cpu";
        }
        StringBuilder b = new StringBuilder();
        for (Device d : devices) {
            b.append(b.isEmpty() ? "" : ",");
            b.append(
                    d.getKind() == Device.Kind.KIND_CUDA
                            ? "cuda:" + d.getIndex()
                            : d.hasCpuShares() ? "cpu:" + d.getCpuShares() : "cpu");
        }
        return b.toString();
    }

    /** The name of worker {@code index} in logs and status: "cpu" for one worker, "cpu:0/2" for the first of two. */
    public String name(int index) {
        return count == 1 ? "cpu" : "cpu:" + index + "/" + count;
    }

    /** The backend of worker {@code index}. */
    public TensorOps createOps(int index) {
        return new CpuOps(threadsPerDevice);
    }
}
