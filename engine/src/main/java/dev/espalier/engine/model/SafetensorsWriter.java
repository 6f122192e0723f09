package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
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
        try {
            AtomicFiles.write(file, ch -> writeTo(ch, tensors, metadata));
        } catch (UncheckedIOException e) {
            throw IoFailures.of(file, "write", e.getCause());
        }
    }

    /** Writes the file's bytes to {@code channel} at its current position (callers own atomicity and fsync). */
    public static void writeTo(FileChannel channel, SequencedMap<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        SafetensorsFile.requireLittleEndianPlatform();
        byte[] header = header(tensors, metadata);
        Staging staging = new Staging(channel);
        staging.buffer.putLong(header.length);
        staging.put(MemorySegment.ofArray(header), header.length);
        for (Tensor t : tensors.values()) {
            if (t.rank() == 2 && !t.isContiguous()) {
                for (int r = 0; r < t.rows(); r++) {
                    staging.put(
                            t.rowSlice(r, r + 1).data(),
                            (long) t.cols() * t.dtype().byteSize());
                }
            } else {
                staging.put(t.data(), t.numel() * t.dtype().byteSize());
            }
        }
        staging.flush();
    }

    /** The padded header JSON (without the 8-byte length) for these tensors. */
    static byte[] header(SequencedMap<String, Tensor> tensors, Map<String, String> metadata) {
        ObjectNode root = ModelJson.newObject();
        if (metadata != null) {
            ObjectNode m = root.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals(SafetensorsFile.METADATA_KEY)) {
                throw new IllegalArgumentException("a tensor cannot be named " + SafetensorsFile.METADATA_KEY);
            }
            Tensor t = e.getValue();
            long bytes = t.numel() * t.dtype().byteSize();
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
