package dev.espalier.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class AtomicFilesTest {

    @TempDir
    Path dir;

    private List<String> names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writesContentAndLeavesNoTemporaryFile() throws IOException {
        Path target = dir.resolve("a.bin");
        AtomicFiles.write(target, new byte[] {1, 2, 3});
        AtomicFiles.write(target, new byte[] {4, 5});
        assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(target));
        assertEquals(List.of("a.bin"), names());
    }

    @Test
    void failingWriterLeavesOldContentAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("a.bin");
        AtomicFiles.write(target, new byte[] {7, 7, 7});
        UncheckedIOException e = assertThrows(
                UncheckedIOException.class,
                () -> AtomicFiles.write(target, channel -> {
                    channel.write(ByteBuffer.wrap(new byte[] {9, 9}));
                    throw new IOException("disk full");
                }));
        assertTrue(e.getMessage().startsWith(target + ": cannot be written (disk full)"), e.getMessage());
        assertArrayEquals(new byte[] {7, 7, 7}, Files.readAllBytes(target));
        assertEquals(List.of("a.bin"), names());
    }

    @Test
    void removeTempFilesDeletesOnlyLeftoversOfInterruptedWrites() throws IOException {
        Files.write(dir.resolve("keep.bin"), new byte[] {1});
        Files.write(dir.resolve(AtomicFiles.tempName("keep.bin")), new byte[] {2});
        Files.createDirectories(dir.resolve("layers"));
        Files.write(dir.resolve("layers").resolve(AtomicFiles.tempName("layer-00.safetensors")), new byte[] {3});
        Files.createDirectories(dir.resolve(AtomicFiles.tempName("job")).resolve("inner"));
        Files.write(dir.resolve(".hidden"), new byte[] {4});

        assertEquals(3, AtomicFiles.removeTempFiles(dir));
        assertEquals(List.of(".hidden", "keep.bin", "layers"), names());
        assertEquals(0, Files.list(dir.resolve("layers")).count());
    }

    @Test
    void concurrentReaderSeesEitherOldOrNewContentNeverAMix() throws Exception {
        Path target = dir.resolve("state.bin");
        byte[] small = filled(4_000, (byte) 'a');
        byte[] large = filled(300_000, (byte) 'b');
        AtomicFiles.write(target, small);
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<String> bad = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().start(() -> {
            while (!done.get() && bad.get() == null) {
                try {
                    byte[] seen = Files.readAllBytes(target);
                    if (!Arrays.equals(seen, small) && !Arrays.equals(seen, large)) {
                        bad.set("read " + seen.length + " bytes that are neither version");
                    }
                } catch (IOException e) {
                    bad.set("read failed: " + e);
                }
            }
        });
        for (int i = 0; i < 200; i++) {
            AtomicFiles.write(target, i % 2 == 0 ? large : small);
        }
        done.set(true);
        reader.join();
        assertEquals(null, bad.get());
        assertEquals(List.of("state.bin"), names());
    }

    private static byte[] filled(int n, byte value) {
        byte[] bytes = new byte[n];
        Arrays.fill(bytes, value);
        return bytes;
    }
}
