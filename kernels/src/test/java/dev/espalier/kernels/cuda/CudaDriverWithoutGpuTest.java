package dev.espalier.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver bindings against a stand-in libcuda.so.1 compiled here with gcc ({@code fake_libcuda.c}): what a user
 * sees when the driver has no device or is a stub, and the device queries through FFM. Skipped, saying so, where
 * gcc is missing.
 */
class CudaDriverWithoutGpuTest {
    @TempDir
    static Path dir;

    private static String gccMissing;

    @BeforeAll
    static void compileFakeDrivers() throws IOException, InterruptedException {
        Path source = dir.resolve("fake_libcuda.c");
        try (InputStream in = CudaDriverWithoutGpuTest.class.getResourceAsStream("fake_libcuda.c")) {
            Files.write(source, in.readAllBytes());
        }
        for (var variant : Map.of("nodevice", 100, "stub", 34, "two", 0).entrySet()) {
            Path folder = Files.createDirectories(dir.resolve(variant.getKey()));
            Process gcc;
            try {
                gcc = new ProcessBuilder(
                                "gcc",
                                "-shared",
                                "-fPIC",
                                "-DCUINIT_STATUS=" + variant.getValue(),
                                "-o",
                                folder.resolve("libcuda.so.1").toString(),
                                source.toString())
                        .inheritIO()
                        .start();
            } catch (IOException e) {
                gccMissing = "gcc is not on this host (" + e.getMessage() + ")";
                break;
            }
            if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                gccMissing = "gcc could not compile fake_libcuda.c";
                break;
            }
        }
        if (gccMissing != null) {
            System.out.println("CudaDriverWithoutGpuTest skipped: " + gccMissing);
        }
        assumeTrue(gccMissing == null, gccMissing);
    }

    private static CudaLibrarySearch searchIn(String variant) {
        return CudaLibrarySearch.of(
                Map.of("ESPALIER_CUDA_LIBRARY_PATH", dir.resolve(variant).toString()),
                List.of(),
                dir.resolve("empty-root"),
                dir.resolve("empty-home"),
                List::of);
    }

    @Test
    void aDriverWithoutDevicesSaysSoInOneLine() {
        String m = assertThrows(CudaUnavailableException.class, () -> CudaDriver.start(searchIn("nodevice")))
                .getMessage();
        assertTrue(
                m.contains("did not start: cuInit returned CUDA_ERROR_NO_DEVICE: no CUDA-capable device is visible"),
                m);
        assertTrue(m.contains(dir.resolve("nodevice/libcuda.so.1").toString()) && !m.contains("\n"), m);
    }

    @Test
    void aStubDriverIsNamedAsOne() {
        String m = assertThrows(CudaUnavailableException.class, () -> CudaDriver.start(searchIn("stub")))
                .getMessage();
        assertTrue(m.contains("CUDA_ERROR_STUB_LIBRARY: it is the toolkit's link stub"), m);
    }

    @Test
    void devicesAreQueriedThroughTheBindings() {
        CudaDriver driver = CudaDriver.start(searchIn("two"));
        assertEquals(13000, driver.version());
        assertEquals(2, driver.deviceCount());
        int d = driver.device(1);
        assertEquals("Fake GPU one", driver.deviceName(d));
        assertEquals((80L << 30) + 1, driver.totalMemory(d));
        assertEquals(90, driver.computeCapability(d));
        CudaException e = assertThrows(CudaException.class, () -> driver.device(2));
        assertTrue(e.getMessage().startsWith("cuDeviceGet(2) failed: CUDA_ERROR_INVALID_DEVICE"), e.getMessage());
        CudaException unnamed = assertThrows(CudaException.class, () -> driver.allocate(1024));
        assertEquals("cuMemAlloc(1024 bytes) failed: CUDA_ERROR_999: fake error (999)", unnamed.getMessage());
    }

    @Test
    void aDriverWithDevicesButNoToolkitLibrariesNamesTheFirstMissingOne() {
        String m = assertThrows(CudaUnavailableException.class, () -> CudaHost.open(searchIn("two")))
                .getMessage();
        assertTrue(m.startsWith("NVRTC (libnvrtc.so) was not found; looked in ESPALIER_CUDA_LIBRARY_PATH"), m);
    }
}
