package dev.espalier.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * One CUDA library loaded from its file into the global arena (it stays loaded for the life of the JVM), and the
 * downcalls to its functions. A file that cannot be loaded, or that lacks a function, is a {@link
 * CudaUnavailableException} naming the file and the function.
 */
@SuppressWarnings("restricted") // native downcalls are the point of this class; the JVM runs with native access
final class NativeLibrary {
    private final CudaLibrary library;
    private final Path file;
    private final SymbolLookup lookup;

    private NativeLibrary(CudaLibrary library, Path file, SymbolLookup lookup) {
        this.library = library;
        this.file = file;
        this.lookup = lookup;
    }

    /** Loads {@code library} from where {@code search} finds it, after the libraries it needs ({@code needs}). */
    static NativeLibrary load(CudaLibrarySearch search, CudaLibrary library, CudaLibrary... needs) {
        for (CudaLibrary need : needs) {
            // Loaded first by path so that the dynamic linker finds them by soname; one that is missing here is
            // reported below by the failed load of the library itself.
            search.find(need).ifPresent(f -> tryLoad(f));
        }
        Path file = search.require(library);
        if (library == CudaLibrary.NVRTC) {
            // NVRTC opens its builtins by soname at its first compile; load them from its own folder now.
            preloadBesides(file, "libnvrtc-builtins.so");
        }
        try {
            return new NativeLibrary(library, file, SymbolLookup.libraryLookup(file, Arena.global()));
        } catch (IllegalArgumentException e) {
            throw new CudaUnavailableException(library.title() + " at " + file + " could not be loaded"
                    + (needs.length == 0 ? "" : " (it needs " + titles(needs) + ")") + ": " + e.getMessage());
        }
    }

    private static void preloadBesides(Path file, String prefix) {
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(file.getParent())) {
            files.filter(f -> f.getFileName().toString().startsWith(prefix))
                    .sorted()
                    .forEach(NativeLibrary::tryLoad);
        } catch (java.io.IOException ignored) {
            // the compile reports the missing builtins
        }
    }

    private static void tryLoad(Path file) {
        try {
            SymbolLookup.libraryLookup(file, Arena.global());
        } catch (IllegalArgumentException ignored) {
            // reported by the load that needs it
        }
    }

    private static String titles(CudaLibrary... libraries) {
        StringBuilder b = new StringBuilder();
        for (CudaLibrary l : libraries) {
            b.append(b.isEmpty() ? "" : ", ").append(l.fileLabel());
        }
        return b.toString();
    }

    /** A downcall to {@code symbol}; CudaUnavailableException when the library has no such function. */
    MethodHandle function(String symbol, FunctionDescriptor descriptor) {
        MemorySegment address = lookup.find(symbol)
                .orElseThrow(() -> new CudaUnavailableException(library.title() + " at " + file + " has no function "
                        + symbol + "; it is too old or not " + library.fileLabel()));
        return Linker.nativeLinker().downcallHandle(address, descriptor);
    }

    Path file() {
        return file;
    }

    /** Calls a downcall handle; its checked throwables (none in practice) become IllegalStateException. */
    static Object invoke(MethodHandle h, Object... args) {
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
