package dev.espalier.engine.runtime;

import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.ComputePool;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.cuda.CudaHost;
import dev.espalier.kernels.cuda.CudaOps;
import dev.espalier.kernels.cuda.CudaUnavailableException;
import dev.espalier.protocol.v1.Device;
import java.util.ArrayList;
import java.util.List;

/**
 * A set of device workers: {@code cpu} (one worker with every core), {@code cpu:N} (N workers sharing every core:
 * one host-wide pool of threads, so a worker alone uses all of them and busy workers share them), or GPUs
 * ({@code cuda} for every GPU of the host, {@code cuda:0,cuda:1} for some), one worker each, with the cores split among
 * them for what runs on the host. A process starts its workers from one ({@link Devices#start}); a job's names how
 * many of them it uses.
 *
 * @param count            number of device workers
 * @param threadsPerDevice CPU threads each worker may use: for CPU workers the size of the pool they all share, for
 *                         GPU workers each one's own host threads
 * @param cudaOrdinals     the GPU of each worker; empty for CPU workers
 */
public record DeviceSpec(int count, int threadsPerDevice, List<Integer> cudaOrdinals) {

    /** {@code count} CPU workers of {@code threadsPerDevice} threads each. */
    public DeviceSpec(int count, int threadsPerDevice) {
        this(count, threadsPerDevice, List.of());
    }

    public DeviceSpec {
        cudaOrdinals = List.copyOf(cudaOrdinals);
        if (!cudaOrdinals.isEmpty() && cudaOrdinals.size() != count) {
            throw new IllegalArgumentException(count + " workers for " + cudaOrdinals.size() + " GPUs");
        }
    }

    /**
     * The workers of a spec's devices (validated by the job spec's checks): none or one CPU entry, or CUDA devices.
     * CUDA devices are checked here, at once: CudaUnavailableException with one line naming what is missing (the
     * driver, a library, the device).
     */
    public static DeviceSpec of(List<Device> devices) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (devices.isEmpty()) {
            return new DeviceSpec(1, cores);
        }
        Device d = devices.getFirst();
        if (d.getKind() == Device.Kind.KIND_CUDA) {
            return cuda(devices, cores);
        }
        if (d.getKind() != Device.Kind.KIND_CPU
                || devices.size() > 1
                || (d.hasCpuShares() && (d.getCpuShares() < 1 || d.getCpuShares() > 64))) {
            throw new IllegalArgumentException(
                    "--devices must be cpu, cpu:N with N between 1 and 64, cuda or cuda:0,cuda:1,…, got "
                            + label(devices));
        }
        return cpu(d.hasCpuShares() ? d.getCpuShares() : 1);
    }

    /** {@code workers} CPU workers sharing every core of this host. */
    public static DeviceSpec cpu(int workers) {
        return new DeviceSpec(workers, Runtime.getRuntime().availableProcessors());
    }

    private static DeviceSpec cuda(List<Device> devices, int cores) {
        String label = label(devices);
        List<Integer> ordinals = new ArrayList<>();
        try {
            CudaHost host = CudaHost.get();
            for (Device d : devices) {
                if (d.getKind() != Device.Kind.KIND_CUDA) {
                    throw new IllegalArgumentException("--devices " + label + ": CPU and CUDA devices cannot be mixed");
                }
                if (d.getIndex() == ALL_GPUS) {
                    host.devices().forEach(g -> ordinals.add(g.ordinal()));
                } else {
                    ordinals.add(host.device(d.getIndex()).ordinal());
                }
            }
        } catch (CudaUnavailableException e) {
            throw new CudaUnavailableException("--devices " + label + ": " + e.getMessage());
        }
        return new DeviceSpec(ordinals.size(), Math.max(1, cores / ordinals.size()), ordinals);
    }

    /** The index of the one CUDA entry {@code cuda} (every GPU of the host that runs the job). */
    public static final int ALL_GPUS = -1;

    /** How the command line spells {@code devices}: "cpu", "cpu:2", "cuda", "cuda:0,cuda:1". */
    public static String label(List<Device> devices) {
        if (devices.isEmpty()) {
            return "cpu";
        }
        StringBuilder b = new StringBuilder();
        for (Device d : devices) {
            b.append(b.isEmpty() ? "" : ",");
            b.append(
                    d.getKind() == Device.Kind.KIND_CUDA
                            ? d.getIndex() == ALL_GPUS ? "cuda" : "cuda:" + d.getIndex()
                            : d.hasCpuShares() ? "cpu:" + d.getCpuShares() : "cpu");
        }
        return b.toString();
    }

    /** Whether the workers are GPUs. */
    public boolean isCuda() {
        return !cudaOrdinals.isEmpty();
    }

    /** The name of worker {@code index} in logs and status: "cpu", "cpu:0/2" for the first of two, "cuda:1". */
    public String name(int index) {
        if (isCuda()) {
            return "cuda:" + cudaOrdinals.get(index);
        }
        return count == 1 ? "cpu" : "cpu:" + index + "/" + count;
    }

    /** The backend of worker {@code index}; CPU workers run on {@code cpuPool}, of {@link #threadsPerDevice} threads. */
    public TensorOps createOps(int index, ComputePool cpuPool) {
        return isCuda() ? CudaOps.open(cudaOrdinals.get(index), threadsPerDevice) : new CpuOps(cpuPool);
    }
}
