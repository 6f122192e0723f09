package dev.espalier.kernels.cuda;

import java.util.regex.Pattern;

/**
 * The CUDA libraries the GPU backend binds through FFM, by file name. The driver comes with the NVIDIA driver
 * ({@code libcuda.so.1}, never the toolkit's link stub); the others come with the CUDA toolkit or with Python's CUDA
 * wheels ({@code nvidia/<package>/lib}), any major version, the highest found in a folder first.
 */
public enum CudaLibrary {
    DRIVER("libcuda", "the NVIDIA driver", "install the NVIDIA driver (it provides libcuda.so.1)"),
    NVRTC("libnvrtc", "NVRTC", "install the CUDA toolkit or pip install nvidia-cuda-nvrtc"),
    CUBLAS_LT("libcublasLt", "cuBLASLt", "install the CUDA toolkit or pip install nvidia-cublas"),
    CUBLAS("libcublas", "cuBLAS", "install the CUDA toolkit or pip install nvidia-cublas"),
    NVJITLINK("libnvJitLink", "nvJitLink", "install the CUDA toolkit or pip install nvidia-nvjitlink"),
    CUSPARSE("libcusparse", "cuSPARSE", "install the CUDA toolkit or pip install nvidia-cusparse"),
    CUSOLVER("libcusolver", "cuSOLVER", "install the CUDA toolkit or pip install nvidia-cusolver");

    private final String stem;
    private final String title;
    private final String remedy;
    private final Pattern fileName;

    CudaLibrary(String stem, String title, String remedy) {
        this.stem = stem;
        this.title = title;
        this.remedy = remedy;
        this.fileName = stem.equals("libcuda")
                ? Pattern.compile("libcuda\\.so\\.1")
                : Pattern.compile(Pattern.quote(stem) + "\\.so(\\.\\d+)*");
    }

    /** The file name as users know it: "libcuda.so.1", "libcublas.so". */
    public String fileLabel() {
        return this == DRIVER ? "libcuda.so.1" : stem + ".so";
    }

    /** "cuBLAS", "the NVIDIA driver". */
    public String title() {
        return title;
    }

    /** What a user does when the library is missing. */
    public String remedy() {
        return remedy;
    }

    /** Whether {@code name} is a file of this library ("libcublas.so.13" is, "libcublasLt.so.13" is not). */
    public boolean matches(String name) {
        return fileName.matcher(name).matches();
    }
}
