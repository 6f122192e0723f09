package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;

/**
 * Writes safetensors files: the 8-byte little-endian header length, a compact JSON header ({@code __metadata__} first
 * when given, then the tensors in the order given) padded with spaces so that 8 + header length is a multiple of 8,
 * then each tensor's elements contiguously in the same order. The file appears atomically (temporary file, fsync,
 * rename).
 */
public final class SafetensorsWriter {
    private static final int STAGING_BYTES = 1 << 20;

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} (any float dtype, contiguous or strided 2-D views) to {@code file}.
     *
     * @param metadata the {@code __metadata__} string map, or null to write none
     * @throws ModelFormatException naming the file when it cannot be written
     */
    public static void write(Path file, SequencedMap<String, Tensor> tensors, Map<String, String> metadata) {
        write(file, tensors, metadata, null);
    }

    /**
     * Writes {@code tensors} to {@code file} as {@code dtype} (null: each in its own dtype), converting a few rows at a
     * time (nearest even), so that no tensor is ever copied whole.
     *
     * @throws ModelFormatException naming the file when it cannot be written, or the tensor F16 cannot hold
     */
    public static void write(
            Path file, SequencedMap<String, Tensor> tensors, Map<String, String> metadata, DType dtype) {
        try {
            AtomicFiles.write(file, ch -> writeTo(ch, tensors, metadata, dtype));
        } catch (UncheckedIOException e) {
            throw IoFailures.of(file, "write", e.getCause());
        }
    }

    /**
     * Writes the file's bytes to {@code channel} at its current position, each tensor as {@code dtype} (null: its own);
     * callers own atomicity and fsync. A tensor memory-mapped from a file has its pages dropped from resident memory
     * once written, so that writing a model larger than memory stays within it.
     */
    public static void writeTo(
            FileChannel channel, SequencedMap<String, Tensor> tensors, Map<String, String> metadata, DType dtype)
            throws IOException {
        SafetensorsFile.requireLittleEndianPlatform();
        SequencedMap<String, Layout> layouts = new LinkedHashMap<>();
        tensors.forEach((name, t) -> layouts.put(name, new Layout(dtype != null ? dtype : t.dtype(), t.shape())));
        byte[] header = header(layouts, metadata);
        Staging staging = new Staging(channel);
        staging.buffer.putLong(header.length);
        staging.put(MemorySegment.ofArray(header), header.length);
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (dtype != null && t.dtype() != dtype) {
                putConverted(staging, e.getKey(), t, dtype);
            } else if (t.rank() == 2 && !t.isContiguous()) {
                for (int r = 0; r < t.rows(); r++) {
                    staging.put(
                            t.rowSlice(r, r + 1).data(),
                            (long) t.cols() * t.dtype().byteSize());
                }
            } else {
                staging.put(t.data(), t.numel() * t.dtype().byteSize());
            }
            t.unloadIfMapped();
        }
        staging.flush();
    }

    /** {@code t} as {@code dtype}, a block of rows (about the staging buffer's size) at a time. */
    private static void putConverted(Staging staging, String name, Tensor t, DType dtype) throws IOException {
        Tensor rows = t.rank() == 2 ? t : t.reshape(1, (int) t.numel());
        int perBlock = (int) Math.max(1, STAGING_BYTES / Math.max(1L, (long) rows.cols() * dtype.byteSize()));
        try (Arena scratch = Arena.ofConfined()) {
            Tensor block = Tensor.allocate(scratch, dtype, Math.min(perBlock, rows.rows()), rows.cols());
            for (int r0 = 0; r0 < rows.rows(); r0 += perBlock) {
                int r1 = Math.min(rows.rows(), r0 + perBlock);
                Tensor out = block.rowSlice(0, r1 - r0);
                rows.rowSlice(r0, r1).copyInto(out);
                if (dtype == DType.F16) {
                    requireFiniteF16(name, rows.rowSlice(r0, r1), out);
                }
                staging.put(out.data(), (long) (r1 - r0) * rows.cols() * dtype.byteSize());
            }
        }
    }

    private static void requireFiniteF16(String name, Tensor source, Tensor converted) {
        for (int r = 0; r < converted.rows(); r++) {
            for (int c = 0; c < converted.cols(); c++) {
                if (Float.isInfinite(converted.get(r, c)) && !Float.isInfinite(source.get(r, c))) {
                    throw new ModelFormatException(
                            Path.of(name), "holds a value beyond F16's range (±65504): export it as bf16 or f32");
                }
            }
        }
    }

    /** A tensor's dtype and shape as a file declares it. */
    public record Layout(DType dtype, int[] shape) {}

    /** Makes the tensor {@code name} of {@code layout} in {@code arena}, which the writer frees once it is written. */
    @FunctionalInterface
    public interface Producer {
        Tensor make(String name, Layout layout, Arena arena);
    }

    /**
     * Writes a file of the tensors {@code layouts} declares, each made by {@code producer} only when the writer reaches
     * it and freed once written: a file larger than memory needs one tensor's worth. Atomic as {@link #write}.
     *
     * @throws ModelFormatException naming the file when it cannot be written
     * @throws IllegalStateException when a made tensor differs from its declared layout
     */
    public static void writeProduced(
            Path file, SequencedMap<String, Layout> layouts, Map<String, String> metadata, Producer producer) {
        SafetensorsFile.requireLittleEndianPlatform();
        byte[] header = header(layouts, metadata);
        try {
            AtomicFiles.write(file, ch -> {
                Staging staging = new Staging(ch);
                staging.buffer.putLong(header.length);
                staging.put(MemorySegment.ofArray(header), header.length);
                for (Map.Entry<String, Layout> e : layouts.entrySet()) {
                    try (Arena arena = Arena.ofShared()) {
                        Tensor t = producer.make(e.getKey(), e.getValue(), arena);
                        if (t.dtype() != e.getValue().dtype()
                                || !Arrays.equals(t.shape(), e.getValue().shape())
                                || !t.isContiguous()) {
                            throw new IllegalStateException(e.getKey() + " was made as " + t + ", declared "
                                    + e.getValue().dtype() + " "
                                    + Arrays.toString(e.getValue().shape()));
                        }
                        staging.put(t.data(), t.numel() * t.dtype().byteSize());
                    }
                }
                staging.flush();
            });
        } catch (UncheckedIOException e) {
            throw IoFailures.of(file, "write", e.getCause());
        }
    }

    /** The padded header JSON (without the 8-byte length) for tensors of these layouts, in this order. */
    static byte[] header(SequencedMap<String, Layout> layouts, Map<String, String> metadata) {
        ObjectNode root = ModelJson.newObject();
        if (metadata != null) {
            ObjectNode m = root.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Layout> e : layouts.entrySet()) {
            if (e.getKey().equals(SafetensorsFile.METADATA_KEY)) {
                throw new IllegalArgumentException("a tensor cannot be named " + SafetensorsFile.METADATA_KEY);
            }
            Layout t = e.getValue();
            long bytes = Tensor.numel(t.shape()) * t.dtype().byteSize();
            ObjectNode entry = root.putObject(e.getKey());
            entry.put("dtype", t.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            Arrays.stream(t.shape()).forEach(shape::add);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = ModelJson.toBytes(root);
        int padding = (8 - json.length % 8) % 8;
        byte[] padded = Arrays.copyOf(json, json.length + padding);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    /** A direct buffer that collects bytes and writes them to the channel when full. */
    private static final class Staging {
        final FileChannel channel;
        final ByteBuffer buffer = ByteBuffer.allocateDirect(STAGING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        final MemorySegment segment = MemorySegment.ofBuffer(buffer); // the whole buffer, taken at position 0

        Staging(FileChannel channel) {
            this.channel = channel;
        }

        void put(MemorySegment src, long length) throws IOException {
            long done = 0;
            while (done < length) {
                if (!buffer.hasRemaining()) {
                    flush();
                }
                int n = (int) Math.min(buffer.remaining(), length - done);
                MemorySegment.copy(src, done, segment, buffer.position(), n);
                buffer.position(buffer.position() + n);
                done += n;
            }
        }

        void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            buffer.clear();
        }
    }
}
