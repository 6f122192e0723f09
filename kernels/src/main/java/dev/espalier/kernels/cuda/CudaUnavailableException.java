package dev.espalier.kernels.cuda;

/**
 * CUDA cannot be used on this host, with the one-line reason: a library missing (and where it was looked for), the
 * driver refusing to start, or no such device.
 */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String reason) {
        super(reason);
    }
}
