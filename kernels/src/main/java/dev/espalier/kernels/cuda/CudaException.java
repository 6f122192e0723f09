package dev.espalier.kernels.cuda;

/** A CUDA library call that returned an error status: the call, the status code and its name. */
public final class CudaException extends RuntimeException {
    private final int status;

    public CudaException(String call, int status, String statusName) {
        super(call + " failed: " + statusName + " (" + status + ")");
        this.status = status;
    }

    public int status() {
        return status;
    }
}
