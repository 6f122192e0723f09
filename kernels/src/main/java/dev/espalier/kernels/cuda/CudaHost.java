package dev.espalier.kernels.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA of this host, opened once per process: the driver started, NVRTC, cuBLAS and cuSOLVER loaded, the devices
 * listed. {@link #get} answers the same host (or the same {@link CudaUnavailableException}, with its one-line reason)
 * every time, so that a host without a GPU pays for the search once.
 */
public final class CudaHost {
    /** One GPU: its ordinal ({@code cuda:<ordinal>}), name, memory and compute capability (major * 10 + minor). */
    public record DeviceInfo(int ordinal, String name, long memoryBytes, int capability) {
        /** "cuda:0 (NVIDIA H200, 139.8 GiB, sm_90)". */
        public String describe() {
            return "cuda:" + ordinal + " (" + name + ", "
                    + String.format(java.util.Locale.ROOT, "%.1f GiB", memoryBytes / (double) (1L << 30)) + ", sm_"
                    + capability + ")";
        }
    }

    private static volatile Object opened; // a CudaHost or the CudaUnavailableException that opening it threw

    final CudaDriver driver;
    final Nvrtc nvrtc;
    final NativeLibrary cublas;
    final NativeLibrary cusolver;
    private final List<DeviceInfo> devices;

    private CudaHost(CudaDriver driver, Nvrtc nvrtc, NativeLibrary cublas, NativeLibrary cusolver, List<DeviceInfo> d) {
        this.driver = driver;
        this.nvrtc = nvrtc;
        this.cublas = cublas;
        this.cusolver = cusolver;
        this.devices = d;
    }

    /** The CUDA of this host; CudaUnavailableException saying what is missing. */
    public static CudaHost get() {
        Object o = opened;
        if (o == null) {
            synchronized (CudaHost.class) {
                o = opened;
                if (o == null) {
                    try {
                        o = open(CudaLibrarySearch.ofThisHost());
                    } catch (CudaUnavailableException e) {
                        o = e;
                    }
                    opened = o;
                }
            }
        }
        if (o instanceof CudaUnavailableException e) {
            throw new CudaUnavailableException(e.getMessage());
        }
        return (CudaHost) o;
    }

    /** Whether this host can run the CUDA backend, and if not, why not (for tests that skip and say so). */
    public static String unavailableReason() {
        try {
            get();
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    static CudaHost open(CudaLibrarySearch search) {
        CudaDriver driver = CudaDriver.start(search);
        int count = driver.deviceCount();
        if (count == 0) {
            throw new CudaUnavailableException("the CUDA driver sees no device");
        }
        List<DeviceInfo> devices = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int d = driver.device(i);
            devices.add(new DeviceInfo(i, driver.deviceName(d), driver.totalMemory(d), driver.computeCapability(d)));
        }
        Nvrtc nvrtc = Nvrtc.load(search);
        NativeLibrary cublas = NativeLibrary.load(search, CudaLibrary.CUBLAS, CudaLibrary.CUBLAS_LT);
        NativeLibrary cusolver = NativeLibrary.load(
                search,
                CudaLibrary.CUSOLVER,
                CudaLibrary.CUBLAS_LT,
                CudaLibrary.CUBLAS,
                CudaLibrary.NVJITLINK,
                CudaLibrary.CUSPARSE);
        return new CudaHost(driver, nvrtc, cublas, cusolver, List.copyOf(devices));
    }

    public List<DeviceInfo> devices() {
        return devices;
    }

    /** The device {@code cuda:<ordinal>}; CudaUnavailableException naming the devices there are. */
    public DeviceInfo device(int ordinal) {
        if (ordinal < 0 || ordinal >= devices.size()) {
            throw new CudaUnavailableException("cuda:" + ordinal + " does not exist; this host has " + devices.size()
                    + (devices.size() == 1 ? " CUDA device: " : " CUDA devices: ")
                    + String.join(
                            ", ", devices.stream().map(DeviceInfo::describe).toList()));
        }
        return devices.get(ordinal);
    }

    /** "CUDA driver 13.0, NVRTC 13.1". */
    public String describe() {
        int v = driver.version();
        return "CUDA driver " + v / 1000 + "." + (v % 1000) / 10 + ", NVRTC " + nvrtc.version();
    }
}
