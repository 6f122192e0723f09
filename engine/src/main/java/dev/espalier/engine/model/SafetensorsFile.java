package dev.espalier.engine.model;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A safetensors file mapped read-only into memory. Layout: an unsigned 64-bit little-endian header length N, N bytes
 * of UTF-8 JSON ({@code {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}}),
 * then the data section; offsets are relative to its start at byte 8 + N. Tensors are views of the mapping (no copy),
 * which lives as long as the arena given to {@link #open}. Offsets are longs throughout (no 2 GB limit).
 */
public final class SafetensorsFile {
    /** Largest header accepted, as in the reference implementation (100 MB). */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One tensor of the header.
     *
     * @param dtypeName the safetensors dtype ("F32", "BF16", "I64", ...)
     * @param begin     first byte, relative to the data section
     * @param end       one past the last byte, relative to the data section
     */
    public record Entry(String name, String dtypeName, int[] shape, long begin, long end) {
        public Entry {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        /** The floating-point dtype, or null for integer and other dtypes. */
        public DType dtype() {
            return DType.fromSafetensorsName(dtypeName);
        }

        public long byteLength() {
            return end - begin;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e
                    && name.equals(e.name)
                    && dtypeName.equals(e.dtypeName)
                    && Arrays.equals(shape, e.shape)
                    && begin == e.begin
                    && end == e.end;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + dtypeName + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
        }
    }

    private final Path file;
    private final MemorySegment mapping; // the whole file
    private final long dataStart; // 8 + header length
    private final Map<String, String> metadata;
    private final SequencedMap<String, Entry> entries; // in header order

    private SafetensorsFile(
            Path file,
            MemorySegment mapping,
            long dataStart,
            Map<String, String> metadata,
            SequencedMap<String, Entry> entries) {
        this.file = file;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.metadata = metadata;
        this.entries = entries;
    }

    /**
     * Maps {@code file} read-only into {@code arena} and validates its header: length within the file, valid JSON,
     * every tensor with dtype, shape and data_offsets, 0 &lt;= begin &lt;= end &lt;= data size,
     * end - begin = numel(shape) x dtype size, and no two tensors overlapping.
     *
     * @throws ModelFormatException (one line, naming the file) on any violation
     */
    public static SafetensorsFile open(Path file, Arena arena) {
        requireLittleEndianPlatform();
        MemorySegment mapping;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new ModelFormatException(
                        file, "file of " + size + " bytes is shorter than the 8-byte safetensors header length");
            }
            mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw IoFailures.of(file, "read", e);
        }
        long size = mapping.byteSize();
        long headerLength = mapping.get(U64_LE, 0);
        if (headerLength < 0 || headerLength > size - 8) {
            throw new ModelFormatException(
                    file,
                    "header length " + Long.toUnsignedString(headerLength) + " is larger than the " + (size - 8)
                            + " bytes that follow it");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw new ModelFormatException(
                    file, "header length " + headerLength + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
        }
        byte[] headerBytes = mapping.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        long dataStart = 8 + headerLength;
        SafetensorsHeader header = SafetensorsHeader.parse(file, headerBytes, size - dataStart);
        return new SafetensorsFile(file, mapping, dataStart, header.metadata(), header.entries());
    }

    public Path file() {
        return file;
    }

    /** The {@code __metadata__} string map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** All tensors, float or not, in header order. */
    public SequencedMap<String, Entry> entries() {
        return entries;
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** Offset of the data section in the file (8 + header length). */
    public long dataStart() {
        return dataStart;
    }

    /** The header entry of {@code name}; throws naming the file when there is none. */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFormatException(file, "has no tensor named '" + name + "'");
        }
        return e;
    }

    /** The raw bytes of any tensor, whatever its dtype (a view of the mapping). */
    public MemorySegment bytes(String name) {
        Entry e = entry(name);
        return mapping.asSlice(dataStart + e.begin(), e.byteLength());
    }

    /**
     * A zero-copy view of a floating-point tensor (F32, F16, BF16, F64) with the header's shape.
     *
     * @throws ModelFormatException when the tensor is missing or has another dtype (I64, U8, ...)
     */
    public Tensor tensor(String name) {
        Entry e = entry(name);
        DType dtype = e.dtype();
        if (dtype == null) {
            throw new ModelFormatException(
                    file,
                    "tensor '" + name + "' has dtype " + e.dtypeName()
                            + ", expected a floating-point dtype (F32, F16, BF16 or F64)");
        }
        return Tensor.of(bytes(name), dtype, e.shape());
    }

    static void requireLittleEndianPlatform() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException(
                    "safetensors data is little-endian; this platform is " + ByteOrder.nativeOrder());
        }
    }
}
