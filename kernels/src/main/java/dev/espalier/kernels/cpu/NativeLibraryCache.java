package dev.espalier.kernels.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Copies native libraries out of class-path resources into a per-user cache folder, once: each file is written to a
 * temporary file in the same folder and renamed into place (atomic on POSIX file systems, so concurrent JVMs never
 * see a half-written library), and an existing file of the expected size is reused.
 */
final class NativeLibraryCache {
    private NativeLibraryCache() {}

    /**
     * The cache folder for one library bundle: {@code -Despalier.native.cache=DIR} if set, else
     * {@code $XDG_CACHE_HOME/espalier/native/<bundle>}, else {@code ~/.cache/espalier/native/<bundle>}.
     */
    static Path folder(String bundle) {
        String override = System.getProperty("espalier.native.cache");
        if (override != null && !override.isBlank()) {
            return Path.of(override).resolve(bundle);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path root = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return root.resolve("espalier").resolve("native").resolve(bundle);
    }

    /**
     * Makes sure {@code folder/fileName} holds the class-path resource {@code resourceDir + fileName} and returns
     * its path. Throws {@link UncheckedIOException} when the resource is missing or the folder is not writable.
     */
    static Path extract(String resourceDir, String fileName, Path folder) {
        String resource = resourceDir + fileName;
        URL url = NativeLibraryCache.class.getClassLoader().getResource(resource);
        if (url == null) {
            throw new UncheckedIOException(new IOException("class-path resource " + resource
                    + " not found, expected it inside the org.bytedeco:openblas linux-x86_64 jar"));
        }
        Path target = folder.resolve(fileName);
        try {
            URLConnection connection = url.openConnection();
            long size = connection.getContentLengthLong();
            if (size >= 0 && Files.isRegularFile(target) && Files.size(target) == size) {
                return target;
            }
            Files.createDirectories(folder);
            Path temporary = Files.createTempFile(folder, fileName + ".", ".part");
            try (InputStream in = connection.getInputStream()) {
                Files.copy(in, temporary, StandardCopyOption.REPLACE_EXISTING);
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(temporary);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + resource + " to " + target + ": " + e.getMessage(), e);
        }
    }
}
