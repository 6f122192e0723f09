package dev.espalier.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the CUDA libraries are looked for, over a file tree of empty files standing for a host's. */
class CudaLibrarySearchTest {
    @TempDir
    Path root;

    private Path file(String relative) throws IOException {
        Path f = root.resolve(relative);
        Files.createDirectories(f.getParent());
        return Files.createFile(f);
    }

    private CudaLibrarySearch search(Map<String, String> env, List<String> ldconfig) {
        return CudaLibrarySearch.of(env, ldconfig, root, root.resolve("home"), List::of);
    }

    @Test
    void takesTheHighestVersionInAFolderAndNeverTheLtLibraryForCublas() throws IOException {
        file("libs/libcublas.so.12");
        Path newest = file("libs/libcublas.so.13");
        Path lt = file("libs/libcublasLt.so.13");
        CudaLibrarySearch s =
                search(Map.of("ESPALIER_CUDA_LIBRARY_PATH", root.resolve("libs").toString()), List.of());
        assertEquals(Optional.of(newest), s.find(CudaLibrary.CUBLAS));
        assertEquals(Optional.of(lt), s.find(CudaLibrary.CUBLAS_LT));
    }

    @Test
    void searchesInItsDocumentedOrder() throws IOException {
        Path fromHome = file("toolkit/lib64/libnvrtc.so.12");
        file("usr/local/cuda-13.0/lib64/libnvrtc.so.13");
        file("usr/lib/x86_64-linux-gnu/libnvrtc.so.13");
        CudaLibrarySearch withHome =
                search(Map.of("CUDA_HOME", root.resolve("toolkit").toString()), List.of());
        assertEquals(Optional.of(fromHome), withHome.find(CudaLibrary.NVRTC), "CUDA_HOME before the toolkits");

        Path newestToolkit = file("usr/local/cuda-13.1/targets/x86_64-linux/lib/libnvrtc.so.13");
        file("usr/local/cuda-12.9/lib64/libnvrtc.so.12");
        assertEquals(
                Optional.of(newestToolkit),
                search(Map.of(), List.of()).find(CudaLibrary.NVRTC),
                "the newest /usr/local/cuda-* first, then the system folders");

        Path cached = file("cache/libnvrtc.so.13");
        String line = "\tlibnvrtc.so.13 (libc6,x86-64) => " + cached;
        Files.delete(newestToolkit);
        Files.delete(root.resolve("usr/local/cuda-13.0/lib64/libnvrtc.so.13"));
        Files.delete(root.resolve("usr/local/cuda-12.9/lib64/libnvrtc.so.12"));
        assertEquals(
                Optional.of(cached),
                search(Map.of(), List.of(line)).find(CudaLibrary.NVRTC),
                "the linker cache before the system folders");
    }

    @Test
    void findsPythonCudaWheelsInSitePackagesAndWherePythonSays() throws IOException {
        Path wheel = file("usr/local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12");
        assertEquals(Optional.of(wheel), search(Map.of(), List.of()).find(CudaLibrary.CUBLAS));

        Path venv = file("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        assertEquals(
                Optional.of(venv),
                search(Map.of("VIRTUAL_ENV", root.resolve("venv").toString()), List.of())
                        .find(CudaLibrary.CUBLAS),
                "an active virtual environment before the system's Python");

        Path elsewhere = file("elsewhere/site/nvidia/cusolver/lib/libcusolver.so.12");
        CudaLibrarySearch asked = CudaLibrarySearch.of(
                Map.of(), List.of(), root, root.resolve("home"), () -> List.of(root.resolve("elsewhere/site")));
        assertEquals(Optional.of(elsewhere), asked.find(CudaLibrary.CUSOLVER));
    }

    @Test
    void theDriverIsOnlyLibcudaSoOneAndNeverALinkStub() throws IOException {
        file("toolkit/lib64/stubs/libcuda.so.1");
        file("toolkit/lib64/libcuda.so");
        CudaLibrarySearch s = search(
                Map.of("LD_LIBRARY_PATH", root.resolve("toolkit/lib64/stubs") + ":" + root.resolve("toolkit/lib64")),
                List.of());
        assertEquals(Optional.empty(), s.find(CudaLibrary.DRIVER));
        Path real = file("usr/lib/x86_64-linux-gnu/libcuda.so.1");
        assertEquals(Optional.of(real), s.find(CudaLibrary.DRIVER));
    }

    @Test
    void aMissingLibraryIsOneLineNamingItWhereItWasLookedForAndTheRemedy() {
        CudaLibrarySearch s = search(Map.of("LD_LIBRARY_PATH", "/opt/x/lib"), List.of());
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> s.require(CudaLibrary.DRIVER));
        String m = e.getMessage();
        assertTrue(
                m.startsWith("the NVIDIA driver (libcuda.so.1) was not found; looked in LD_LIBRARY_PATH (/opt/x/lib)"),
                m);
        assertTrue(m.contains("install the NVIDIA driver") && !m.contains("\n"), m);
        String cublas = assertThrows(CudaUnavailableException.class, () -> s.require(CudaLibrary.CUBLAS))
                .getMessage();
        assertTrue(cublas.startsWith("cuBLAS (libcublas.so) was not found") && cublas.contains("pip install"), cublas);
    }

    @Test
    void versionsCompareNumerically() {
        assertTrue(CudaLibrarySearch.compareVersions("libx.so.9", "libx.so.12") < 0);
        assertTrue(CudaLibrarySearch.compareVersions("libx.so", "libx.so.1") < 0);
        assertTrue(CudaLibrarySearch.compareVersions("cuda-12.9", "cuda-13.0") < 0);
        assertEquals(0, CudaLibrarySearch.compareVersions("libx.so.13", "libx.so.13"));
    }
}
