package dev.espalier.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The NVRTC kernels: every kernel of the source is bound, and the source compiles to PTX for the oldest and the
 * newest architecture NVRTC supports. Compiling needs NVRTC but no GPU; where NVRTC is not found the compile test is
 * skipped and says why (set ESPALIER_CUDA_LIBRARY_PATH to a folder with libnvrtc.so.* to run it).
 */
class CudaKernelsTest {

    @Test
    void everyKernelOfTheSourceIsBoundAndNoOther() {
        Matcher m = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(").matcher(CudaKernels.source());
        Set<String> inSource = new TreeSet<>();
        while (m.find()) {
            inSource.add(m.group(1));
        }
        Set<String> bound = Arrays.stream(CudaKernels.Kernel.values())
                .map(k -> k.symbol)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(inSource, bound);
    }

    @Test
    void theArchitectureIsTheNewestNotAboveTheDevice() {
        List<Integer> supported = List.of(75, 80, 86, 89, 90, 100, 120);
        assertEquals(90, CudaKernels.architectureFor(supported, 90));
        assertEquals(89, CudaKernels.architectureFor(supported, 89));
        assertEquals(120, CudaKernels.architectureFor(supported, 121));
        String m = assertThrows(CudaUnavailableException.class, () -> CudaKernels.architectureFor(supported, 61))
                .getMessage();
        assertTrue(m.contains("compute capability 6.1 is older than this NVRTC supports"), m);
    }

    @Test
    void theKernelsCompileToPtxWithNvrtc() {
        CudaLibrarySearch search = CudaLibrarySearch.ofThisHost();
        Optional<Path> nvrtcFile = search.find(CudaLibrary.NVRTC);
        if (nvrtcFile.isEmpty() && System.getenv("ESPALIER_REQUIRE_GPU") != null) {
            fail("ESPALIER_REQUIRE_GPU is set but NVRTC was not found; looked in " + search.describePlaces());
        }
        if (nvrtcFile.isEmpty()) {
            System.out.println("CudaKernelsTest.theKernelsCompileToPtxWithNvrtc skipped: NVRTC not found; looked in "
                    + search.describePlaces());
        }
        assumeTrue(nvrtcFile.isPresent(), "NVRTC not found");
        Nvrtc nvrtc = Nvrtc.load(search);
        List<Integer> archs = nvrtc.supportedArchitectures();
        assertTrue(!archs.isEmpty(), "NVRTC " + nvrtc.version() + " lists no architecture");
        for (int arch : Set.of(archs.getFirst(), CudaKernels.architectureFor(archs, 90))) {
            try (Arena arena = Arena.ofConfined()) {
                String ptx = CudaKernels.compile(nvrtc, arch, arena).getString(0);
                assertTrue(ptx.contains(".target sm_" + arch), "PTX for compute_" + arch);
                for (CudaKernels.Kernel k : CudaKernels.Kernel.values()) {
                    assertTrue(
                            ptx.contains(".entry " + k.symbol + "("), k.symbol + " missing from the PTX for " + arch);
                }
            }
        }
        String broken = assertThrows(IllegalStateException.class, () -> {
                    try (Arena arena = Arena.ofConfined()) {
                        nvrtc.compile(
                                "extern \"C\" __global__ void k() { undefined_name(); }",
                                "bad.cu",
                                archs.getFirst(),
                                arena);
                    }
                })
                .getMessage();
        assertTrue(broken.startsWith("NVRTC could not compile bad.cu") && broken.contains("undefined_name"), broken);
    }
}
