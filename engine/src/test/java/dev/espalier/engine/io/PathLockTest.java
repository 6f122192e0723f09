package dev.espalier.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PathLockTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondHolderIsRefusedUntilTheFirstReleases() throws IOException {
        Path file = tmp.resolve("lock");
        try (PathLock first = PathLock.acquire(file, "run directory /x")) {
            assertEquals(
                    ProcessHandle.current().pid() + "",
                    Files.readString(first.file()).strip());
            PathLock.PathInUseException e =
                    assertThrows(PathLock.PathInUseException.class, () -> PathLock.acquire(file, "run directory /x"));
            assertTrue(e.getMessage().startsWith("run directory /x is in use"), e.getMessage());
        }
        PathLock.acquire(file, "run directory /x").close();
    }

    @Test
    void aLiveProcessHoldsItAndADeadOnesLockIsTakenOver() throws Exception {
        Path file = tmp.resolve("lock");
        Path source = Files.writeString(tmp.resolve("Hold.java"), """
                import java.nio.channels.FileChannel;
                import java.nio.file.*;
                class Hold {
                    public static void main(String[] a) throws Exception {
                        var c = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                        c.lock();
                        Thread.sleep(30_000);
                    }
                }
                """);
        String java = ProcessHandle.current().info().command().orElse("java");
        Process holder = new ProcessBuilder(java, source.toString(), file.toString())
                .inheritIO()
                .start();
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            PathLock.PathInUseException refused = null;
            while (refused == null && System.nanoTime() < deadline) {
                try {
                    PathLock.acquire(file, "output /o").close(); // the holder has not started yet
                    Thread.sleep(20);
                } catch (PathLock.PathInUseException e) {
                    refused = e;
                }
            }
            assertTrue(
                    refused != null && refused.getMessage().contains("in use by process"), "a live holder is refused");
        } finally {
            holder.destroyForcibly().waitFor();
        }
        Files.writeString(file, "999999\n"); // what a killed Espalier leaves: its pid, no lock
        try (PathLock taken = PathLock.acquire(file, "output /o")) {
            assertEquals(
                    ProcessHandle.current().pid() + "",
                    Files.readString(taken.file()).strip());
        }
    }
}
