package dev.espalier.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Where the CUDA libraries of this host are, looked for in this order: the folders of {@code ESPALIER_CUDA_LIBRARY_PATH}
 * and {@code LD_LIBRARY_PATH}; {@code CUDA_HOME} and {@code CUDA_PATH}; {@code /usr/local/cuda} and
 * {@code /usr/local/cuda-*} (newest first), each with {@code lib64}, {@code lib} and {@code targets/x86_64-linux/lib};
 * the linker cache ({@code ldconfig -p}); the system library folders; and the {@code nvidia/<package>/lib} folders of
 * Python's CUDA wheels in the usual site-packages folders (virtual and conda environments, the user's, pyenv's, the
 * system's) and, last, those {@code python3} itself names. Link stubs ({@code stubs} folders) are never taken: a stub
 * driver answers every call with an error.
 */
public final class CudaLibrarySearch {
    /** A folder searched, and why it is searched (printed when a library is missing). */
    public record Place(String origin, Path folder) {}

    private static final List<String> CUDA_SUBFOLDERS = List.of("lib64", "lib", "targets/x86_64-linux/lib");
    private static final List<String> SYSTEM_FOLDERS =
            List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/lib/wsl/lib");

    private final List<Place> places;
    private final Supplier<List<Path>> pythonSitePackages;

    private CudaLibrarySearch(List<Place> places, Supplier<List<Path>> pythonSitePackages) {
        this.places = places;
        this.pythonSitePackages = pythonSitePackages;
    }

    /** The search of this host: its environment, its linker cache, its file system, its python3. */
    public static CudaLibrarySearch ofThisHost() {
        return of(
                System.getenv(),
                linkerCache(),
                Path.of("/"),
                Path.of(System.getProperty("user.home")),
                memoize(CudaLibrarySearch::askPython));
    }

    /**
     * The search over a given environment, linker cache ({@code ldconfig -p} lines), file-system root (absolute
     * standard folders are resolved under it) and home folder, with {@code python} naming Python's site-packages
     * folders when nothing else has the library.
     */
    static CudaLibrarySearch of(
            Map<String, String> env, List<String> ldconfigLines, Path root, Path home, Supplier<List<Path>> python) {
        List<Place> places = new ArrayList<>();
        for (String variable : List.of("ESPALIER_CUDA_LIBRARY_PATH", "LD_LIBRARY_PATH")) {
            for (String folder : env.getOrDefault(variable, "").split(":")) {
                if (!folder.isBlank()) {
                    places.add(new Place(variable, Path.of(folder)));
                }
            }
        }
        for (String variable : List.of("CUDA_HOME", "CUDA_PATH")) {
            String value = env.get(variable);
            if (value != null && !value.isBlank()) {
                CUDA_SUBFOLDERS.forEach(
                        sub -> places.add(new Place(variable, Path.of(value).resolve(sub))));
            }
        }
        Path usrLocal = under(root, "/usr/local");
        List<Path> toolkits = new ArrayList<>();
        toolkits.add(usrLocal.resolve("cuda"));
        toolkits.addAll(children(usrLocal, "cuda-"));
        for (Path toolkit : toolkits) {
            CUDA_SUBFOLDERS.forEach(sub -> places.add(new Place("CUDA toolkit", toolkit.resolve(sub))));
        }
        for (String line : ldconfigLines) {
            int arrow = line.indexOf("=> ");
            if (arrow >= 0) {
                Path file = Path.of(line.substring(arrow + 3).trim());
                if (file.getParent() != null) {
                    places.add(new Place("ldconfig", file.getParent()));
                }
            }
        }
        SYSTEM_FOLDERS.forEach(f -> places.add(new Place("system", under(root, f))));
        for (Path site : siteFolders(env, root, home)) {
            for (Path pkg : children(site.resolve("nvidia"), "")) {
                places.add(new Place("Python CUDA wheel", pkg.resolve("lib")));
            }
        }
        return new CudaLibrarySearch(dedupe(places), python);
    }

    /** The library's file: the first folder in search order that has one (its highest version there). */
    public Optional<Path> find(CudaLibrary library) {
        for (Place place : places) {
            Optional<Path> file = fileIn(place.folder(), library);
            if (file.isPresent()) {
                return file;
            }
        }
        for (Path site : pythonSitePackages.get()) {
            for (Path pkg : children(site.resolve("nvidia"), "")) {
                Optional<Path> file = fileIn(pkg.resolve("lib"), library);
                if (file.isPresent()) {
                    return file;
                }
            }
        }
        return Optional.empty();
    }

    /** As {@link #find}, or CudaUnavailableException naming the library, where it was looked for and the remedy. */
    public Path require(CudaLibrary library) {
        return find(library)
                .orElseThrow(() -> new CudaUnavailableException(library.title() + " (" + library.fileLabel()
                        + ") was not found; looked in " + describePlaces() + "; " + library.remedy()));
    }

    /** The places searched, grouped by origin: "LD_LIBRARY_PATH (/a, /b), CUDA toolkit (/usr/local/cuda/lib64)". */
    public String describePlaces() {
        Map<String, List<String>> byOrigin = new java.util.LinkedHashMap<>();
        for (Place p : places) {
            byOrigin.computeIfAbsent(p.origin(), o -> new ArrayList<>())
                    .add(p.folder().toString());
        }
        List<String> parts = new ArrayList<>();
        byOrigin.forEach((origin, folders) -> parts.add(origin + " ("
                + (folders.size() > 3 ? String.join(", ", folders.subList(0, 3)) + ", …" : String.join(", ", folders))
                + ")"));
        parts.add("python3's site-packages");
        return String.join(", ", parts);
    }

    List<Place> places() {
        return places;
    }

    private static Optional<Path> fileIn(Path folder, CudaLibrary library) {
        if (folder.getFileName() != null && folder.getFileName().toString().equals("stubs")) {
            return Optional.empty();
        }
        if (!Files.isDirectory(folder)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(f -> library.matches(f.getFileName().toString()))
                    .filter(Files::isRegularFile)
                    .max(Comparator.comparing(f -> f.getFileName().toString(), CudaLibrarySearch::compareVersions));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Orders "libx.so" < "libx.so.9" < "libx.so.12" < "libx.so.12.1", and "cuda-12.9" < "cuda-13.0". */
    static int compareVersions(String a, String b) {
        String[] pa = a.split("[.-]");
        String[] pb = b.split("[.-]");
        for (int i = 0; i < Math.min(pa.length, pb.length); i++) {
            boolean na = pa[i].matches("\\d{1,9}");
            boolean nb = pb[i].matches("\\d{1,9}");
            int c = na && nb
                    ? Integer.compare(Integer.parseInt(pa[i]), Integer.parseInt(pb[i]))
                    : pa[i].compareTo(pb[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(pa.length, pb.length);
    }

    private static List<Path> siteFolders(Map<String, String> env, Path root, Path home) {
        List<Path> prefixes = new ArrayList<>();
        for (String variable : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String value = env.get(variable);
            if (value != null && !value.isBlank()) {
                prefixes.add(Path.of(value));
            }
        }
        prefixes.add(home.resolve(".local"));
        prefixes.addAll(children(home.resolve(".pyenv/versions"), ""));
        prefixes.add(under(root, "/opt/conda"));
        prefixes.add(under(root, "/usr/local"));
        prefixes.add(under(root, "/usr"));
        List<Path> sites = new ArrayList<>();
        for (Path prefix : prefixes) {
            for (Path python : children(prefix.resolve("lib"), "python3")) {
                sites.add(python.resolve("site-packages"));
                sites.add(python.resolve("dist-packages"));
            }
        }
        sites.add(under(root, "/usr/lib/python3/dist-packages"));
        return sites;
    }

    /** The sub-folders of {@code dir} whose names start with {@code prefix}, highest version first. */
    private static List<Path> children(Path dir, String prefix) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.filter(Files::isDirectory)
                    .filter(p -> p.getFileName().toString().startsWith(prefix))
                    .sorted(Comparator.comparing(
                                    (Path p) -> p.getFileName().toString(), CudaLibrarySearch::compareVersions)
                            .reversed())
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static Path under(Path root, String absolute) {
        return root.resolve(absolute.substring(1));
    }

    private static List<Place> dedupe(List<Place> places) {
        LinkedHashSet<Path> seen = new LinkedHashSet<>();
        List<Place> out = new ArrayList<>();
        for (Place p : places) {
            if (seen.add(p.folder().toAbsolutePath().normalize())) {
                out.add(p);
            }
        }
        return List.copyOf(out);
    }

    private static List<String> linkerCache() {
        for (String ldconfig : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig")) {
            if (Files.isExecutable(Path.of(ldconfig))) {
                return run(ldconfig, "-p");
            }
        }
        return List.of();
    }

    private static List<Path> askPython() {
        List<String> lines = run(
                "python3",
                "-c",
                "import site,sys; print('\\n'.join(site.getsitepackages()+[site.getusersitepackages()]))");
        return lines.stream().filter(l -> !l.isBlank()).map(Path::of).toList();
    }

    /** The lines a short command prints, or none when it cannot run or takes more than 10 seconds. */
    private static List<String> run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
            p.getOutputStream().close();
            p.getErrorStream().close();
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes();
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return List.of();
            }
            return new String(out, StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }

    private static <T> Supplier<T> memoize(Supplier<T> supplier) {
        return new Supplier<>() {
            private T value;

            @Override
            public synchronized T get() {
                if (value == null) {
                    value = supplier.get();
                }
                return value;
            }
        };
    }
}
