package dev.espalier.engine.runtime;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.runtime.store.Checksums;
import dev.espalier.engine.runtime.store.CorruptArtefactException;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Activations as files, for the stage boundary between two nodes: the exact F32 bytes of a batch, written atomically
 * with their SHA-256 by the sending node's worker and read back, checked, by the receiving node's worker, so that the
 * stage downstream sees the same values as it would in one process.
 */
final class ActivationFiles {

    private ActivationFiles() {}

    /** Writes {@code activation} (rows, cols; F32, contiguous) as {@code dir/name} (temporary file, fsync, rename). */
    static HandoffFile write(Tensor activation, Path dir, String name) {
        activation.requireDType(DType.F32);
        activation.requireContiguous();
        try {
            AtomicFiles.ensureDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot be created (" + e.getMessage() + ")", e);
        }
        MemorySegment bytes = activation.data().asSlice(0, activation.numel() * DType.F32.byteSize());
        return AtomicFiles.write(
                dir.resolve(name),
                channel -> AtomicFiles.writeFully(channel, bytes.asByteBuffer()),
                temp -> new HandoffFile(name, activation.rows(), activation.cols(), Checksums.sha256(temp)));
    }

    /**
     * Reads {@code file} from {@code dir} into {@code target} (rows, cols; F32) after checking its size and SHA-256,
     * then deletes it; CorruptArtefactException naming the file when it does not match.
     */
    static void readInto(Path dir, HandoffFile file, Tensor target) {
        Path path = dir.resolve(file.name());
        long expected = (long) file.rows() * file.cols() * DType.F32.byteSize();
        try {
            long size = Files.size(path);
            if (size != expected) {
                throw new CorruptArtefactException(path, size + " bytes, expected " + expected);
            }
            String found = Checksums.sha256(path);
            if (!found.equals(file.sha256())) {
                throw new CorruptArtefactException(
                        path, "checksum mismatch (expected " + file.sha256() + ", found " + found + ")");
            }
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                var buffer = target.data().asSlice(0, expected).asByteBuffer();
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) {
                        throw new CorruptArtefactException(path, "ended early");
                    }
                }
            }
            Files.delete(path);
        } catch (NoSuchFileException e) {
            throw new CorruptArtefactException(path, "missing (expected " + expected + " bytes)");
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }
}
