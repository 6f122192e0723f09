package dev.espalier.engine.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Crash-safe file replacement: the content goes to {@code .<name>.tmp-<random>} in the target's folder, is forced to
 * disk, atomically renamed over the target, and the folder is forced too. A reader therefore sees either the old or
 * the new content, never a mix; a crash leaves at most a stray temporary file, which {@link #removeTempFiles} deletes.
 */
public final class AtomicFiles {
    private static final String TEMP_MARK = ".tmp-";
    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {}

    /** Writes content into an open, empty file channel. */
    @FunctionalInterface
    public interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    /** Looks at the finished temporary file before it replaces the target (e.g. to checksum it). */
    @FunctionalInterface
    public interface TempInspector<T> {
        T inspect(Path temp) throws IOException;
    }

    /** Replaces {@code target} with {@code bytes} atomically and durably. */
    public static void write(Path target, byte[] bytes) {
        write(target, channel -> writeFully(channel, ByteBuffer.wrap(bytes)));
    }

    /** Replaces {@code target} with what {@code writer} writes, atomically and durably. */
    public static void write(Path target, ChannelWriter writer) {
        write(target, writer, temp -> null);
    }

    /**
     * Replaces {@code target} with what {@code writer} writes: temp file, {@code force(true)}, {@code inspector} on the
     * temp file, atomic rename, folder fsync. On any failure the temp file is deleted and the target is untouched.
     *
     * @return what {@code inspector} returned
     */
    public static <T> T write(Path target, ChannelWriter writer, TempInspector<T> inspector) {
        Path dir = target.toAbsolutePath().getParent();
        Path temp = dir.resolve(tempName(target.getFileName().toString()));
        try {
            ensureDirectory(dir);
            try {
                try (FileChannel channel =
                        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    writer.write(channel);
                    channel.force(true);
                }
                T inspected = inspector.inspect(temp);
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                fsyncDirectory(dir);
                return inspected;
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot be written (" + e.getMessage() + ")", e);
        }
    }

    /** Writes all of {@code buffer} at the channel's position. */
    public static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Forces a folder's entries (creations, renames, deletions) to disk. */
    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** Creates {@code dir} (and missing parents) durably: each created folder's parent is fsync'd. */
    public static void ensureDirectory(Path dir) throws IOException {
        Path absolute = dir.toAbsolutePath();
        if (Files.isDirectory(absolute)) {
            return;
        }
        ensureDirectory(absolute.getParent());
        Files.createDirectories(absolute);
        fsyncDirectory(absolute.getParent());
    }

    /** Whether {@code file} is a temporary file left by {@link #write}. */
    public static boolean isTempFile(Path file) {
        String name = file.getFileName().toString();
        return name.startsWith(".") && name.contains(TEMP_MARK);
    }

    /** Deletes the temporary files (and temporary folders) in {@code dir} and its sub-folders; returns how many. */
    public static int removeTempFiles(Path dir) {
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                if (isTempFile(entry)) {
                    deleteRecursively(entry);
                    removed++;
                } else if (Files.isDirectory(entry)) {
                    removed += removeTempFiles(entry);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot be cleaned of temporary files (" + e.getMessage() + ")", e);
        }
        return removed;
    }

    /** A fresh temporary name for {@code name}, in the form {@link #isTempFile} recognises. */
    public static String tempName(String name) {
        return "." + name + TEMP_MARK + HexFormat.of().toHexDigits(RANDOM.nextLong());
    }

    /** Deletes {@code path} and, for a folder, everything in it (links are deleted, not followed). */
    public static void deleteRecursively(Path path) throws IOException {
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(path)) {
                for (Path entry : entries) {
                    deleteRecursively(entry);
                }
            }
        }
        Files.deleteIfExists(path);
    }
}
