package dev.espalier.engine.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An exclusive lock on a path Espalier writes (a run directory, an output folder), held by one job at a time across
 * processes: an OS file lock on a small lock file that also names the holder's pid. The operating system drops the
 * lock when its holder dies, so a lock left by a killed process is stale and simply taken over (and said so); a lock
 * held by a live process, or by another job of this process, is refused with {@link PathInUseException}.
 */
public final class PathLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PathLock.class);

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private PathLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code lockFile} (created if needed) for {@code what} (e.g. "run directory /x/out.run"), or throws
     * {@link PathInUseException}: "&lt;what&gt; is in use by process 1234 (lock file …); wait for it to finish or stop it".
     */
    public static PathLock acquire(Path lockFile, String what) {
        Path file = lockFile.toAbsolutePath();
        FileChannel channel = null;
        try {
            AtomicFiles.ensureDirectory(file.getParent());
            channel = FileChannel.open(
                    file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                throw new PathInUseException(
                        what + " is in use by another job of this process (lock file " + file + ")");
            }
            if (lock == null) {
                throw new PathInUseException(what + " is in use by process " + holder(channel) + " (lock file " + file
                        + "); wait for it to finish or stop it");
            }
            String previous = holder(channel);
            if (!previous.isEmpty()
                    && !previous.equals(String.valueOf(ProcessHandle.current().pid()))) {
                LOG.info("{}: taking over the stale lock of process {} (no longer holds it)", what, previous);
            }
            channel.truncate(0);
            AtomicFiles.writeFully(
                    channel.position(0),
                    ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)));
            channel.force(true);
            return new PathLock(file, channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException(file + ": cannot lock " + what + " (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static String holder(FileChannel channel) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(32);
        channel.read(buffer, 0);
        return new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the failure being reported matters more
            }
        }
    }

    /** The lock file. */
    public Path file() {
        return file;
    }

    /** Releases the lock; the lock file stays (deleting it would let two processes lock two different files). */
    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            LOG.warn("{}: cannot release the lock ({})", file, e.getMessage());
        }
    }

    /** The path is locked by another holder. */
    public static final class PathInUseException extends IllegalStateException {
        public PathInUseException(String message) {
            super(message);
        }
    }

    /** The lock file of {@code path} beside it: {@code .<name>.lock} in its parent folder. */
    public static Path siblingLockFile(Path path) {
        Path absolute = path.toAbsolutePath();
        return absolute.getParent().resolve("." + absolute.getFileName() + ".lock");
    }
}
