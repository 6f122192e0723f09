package dev.espalier.engine.runtime;

import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;

/**
 * The devices a job runs on: {@code cpu} (one worker with every core) or {@code cpu:N} (the cores split into N
 * workers). CUDA devices ({@code cuda:0,1}) need the GPU backend, which this build does not have.
 *
 * @param count          number of device workers
 * @param threadsPerDevice CPU threads of each worker
 */
public record DeviceSpec(int count, int threadsPerDevice) {

    public static DeviceSpec parse(String text) {
        String t = text == null ? "" : text.trim();
        int cores = Runtime.getRuntime().availableProcessors();
        if (t.isEmpty() || t.equals("cpu")) {
            return new DeviceSpec(1, cores);
        }
        if (t.startsWith("cpu:")) {
            int n;
            try {
                n = Integer.parseInt(t.substring(4));
            } catch (NumberFormatException e) {
                n = 0;
            }
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("--devices cpu:N needs N between 1 and 64, got \"" + text + "\"");
            }
            return new DeviceSpec(n, Math.max(1, cores / n));
        }
        if (t.startsWith("cuda")) {
            throw new UnsupportedOperationException("--devices " + text + ": the CUDA backend is not in this build; use cpu or cpu:N");
        }
        throw new IllegalArgumentException("--devices must be cpu or cpu:N (e.g. cpu:2), got \"" + text + "\"");
    }

    /** The backend of worker {@code index}. */
    public TensorOps createOps(int index) {
        return new CpuOps(threadsPerDevice);
    }
}
