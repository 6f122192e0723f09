package dev.espalier.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.function.Executable;

/** Builds broken copies of real model files in a temporary folder, and checks the errors they cause. */
final class BrokenFiles {
    private BrokenFiles() {}

    /** The header JSON of a safetensors file (with its padding). */
    static String header(Path safetensors) {
        byte[] b = read(safetensors);
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return new String(b, 8, (int) n, StandardCharsets.UTF_8);
    }

    /** Writes {@code dst}: the header of {@code src} after {@code edit}, re-padded to a multiple of 8, then src's data. */
    static Path rewriteHeader(Path src, Path dst, UnaryOperator<String> edit) {
        byte[] b = read(src);
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String edited = edit.apply(new String(b, 8, (int) n, StandardCharsets.UTF_8).stripTrailing());
        if (edited.equals(new String(b, 8, (int) n, StandardCharsets.UTF_8).stripTrailing())) {
            throw new IllegalArgumentException("the edit changed nothing");
        }
        byte[] h = edited.getBytes(StandardCharsets.UTF_8);
        int padded = h.length + (8 - h.length % 8) % 8;
        ByteBuffer out =
                ByteBuffer.allocate(8 + padded + (int) (b.length - 8 - n)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        out.put(b, (int) (8 + n), (int) (b.length - 8 - n));
        return write(dst, out.array());
    }

    /** Copies the first {@code length} bytes of {@code src} to {@code dst}. */
    static Path truncate(Path src, Path dst, long length) {
        return write(dst, Arrays.copyOf(read(src), (int) length));
    }

    /** Copies the files of a model folder (not subfolders) into {@code dst}. */
    static Path copyFolder(Path src, Path dst) {
        try (var files = Files.list(src)) {
            Files.createDirectories(dst);
            for (Path f : files.toList()) {
                Files.copy(f, dst.resolve(f.getFileName()));
            }
            return dst;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path editText(Path file, UnaryOperator<String> edit) {
        try {
            String before = Files.readString(file);
            String after = edit.apply(before);
            if (after.equals(before)) {
                throw new IllegalArgumentException("the edit changed nothing in " + file);
            }
            Files.delete(file); // copies of read-only shared files are read-only
            Files.writeString(file, after);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asserts a ModelFormatException whose message starts with {@code file} and contains every fragment. */
    static String assertModelError(Path file, Executable action, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, action);
        String m = e.getMessage();
        assertTrue(m.startsWith(file.toString() + ": "), () -> "message does not start with " + file + ": " + m);
        for (String f : fragments) {
            assertTrue(m.contains(f), () -> "message lacks '" + f + "': " + m);
        }
        assertEquals(-1, m.indexOf('\n'), () -> "message is not one line: " + m);
        return m;
    }

    static void delete(Path p) {
        try {
            Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path write(Path p, byte[] bytes) {
        try {
            Files.deleteIfExists(p);
            Files.write(p, bytes);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
