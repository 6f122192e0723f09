package dev.espalier.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense row-major tensor over a {@link MemorySegment}. A tensor is either contiguous, or a 2-D view
 * whose rows are {@code rowStride} elements apart (a column block of a wider matrix); no other strides exist.
 * Element access goes through the dtype, so F16/BF16 views of a checkpoint are read without copying.
 */
public final class Tensor {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final MemorySegment data; // the elements, starting at the first one of this tensor
    private final DType dtype;
    private final int[] shape; // e.g. (rows, cols) for a matrix
    private final long rowStride; // elements between consecutive rows of a 2-D tensor; cols when contiguous

    private Tensor(MemorySegment data, DType dtype, int[] shape, long rowStride) {
        this.data = data;
        this.dtype = dtype;
        this.shape = shape;
        this.rowStride = rowStride;
    }

    /** Wraps contiguous data; the segment must hold at least numel(shape) elements. */
    public static Tensor of(MemorySegment data, DType dtype, int... shape) {
        int[] s = shape.clone();
        long n = numel(s);
        if (data.byteSize() < n * dtype.byteSize()) {
            throw new IllegalArgumentException(
                    "segment of " + data.byteSize() + " bytes cannot hold " + Arrays.toString(s) + " " + dtype);
        }
        return new Tensor(data, dtype, s, s.length == 2 ? s[1] : 0);
    }

    /** A zero-filled contiguous tensor owned by {@code arena}, 64-byte aligned. */
    public static Tensor allocate(Arena arena, DType dtype, int... shape) {
        long bytes = Math.max(1, numel(shape) * dtype.byteSize());
        return of(HugePageMemory.allocate(arena, bytes), dtype, shape);
    }

    /** An F32 tensor holding a copy of {@code values}. */
    public static Tensor ofFloats(Arena arena, float[] values, int... shape) {
        Tensor t = allocate(arena, DType.F32, shape);
        if (values.length != t.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        }
        MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
        return t;
    }

    /** An F64 tensor holding a copy of {@code values}. */
    public static Tensor ofDoubles(Arena arena, double[] values, int... shape) {
        Tensor t = allocate(arena, DType.F64, shape);
        if (values.length != t.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        }
        MemorySegment.copy(values, 0, t.data, F64, 0, values.length);
        return t;
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        return n;
    }

    public MemorySegment data() {
        return data;
    }

    public DType dtype() {
        return dtype;
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i];
    }

    public int[] shape() {
        return shape.clone();
    }

    public long numel() {
        return numel(shape);
    }

    public int rows() {
        requireRank(2);
        return shape[0];
    }

    public int cols() {
        requireRank(2);
        return shape[1];
    }

    /** Elements between the starts of consecutive rows (the leading dimension of BLAS). */
    public long rowStride() {
        requireRank(2);
        return rowStride;
    }

    public boolean isContiguous() {
        return shape.length != 2 || rowStride == shape[1] || shape[0] <= 1; // one row of a view is contiguous
    }

    /** Same elements, another shape of equal size; only for contiguous tensors. */
    public Tensor reshape(int... newShape) {
        requireContiguous();
        if (numel(newShape) != numel()) {
            throw new IllegalArgumentException(
                    "cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return of(data, dtype, newShape);
    }

    /** Rows [from, to) of a 2-D tensor: a view. */
    public Tensor rowSlice(int from, int to) {
        requireRank(2);
        if (from < 0 || to > shape[0] || from > to) {
            throw new IndexOutOfBoundsException("rows [" + from + ", " + to + ") of " + Arrays.toString(shape));
        }
        long start = from * rowStride * dtype.byteSize();
        long length = to == from ? 0 : ((to - from - 1) * rowStride + shape[1]) * dtype.byteSize();
        return new Tensor(data.asSlice(start, length), dtype, new int[] {to - from, shape[1]}, rowStride);
    }

    /** Columns [from, to) of a 2-D tensor: a strided view sharing memory. */
    public Tensor columnSlice(int from, int to) {
        requireRank(2);
        if (from < 0 || to > shape[1] || from > to) {
            throw new IndexOutOfBoundsException("columns [" + from + ", " + to + ") of " + Arrays.toString(shape));
        }
        long start = (long) from * dtype.byteSize();
        long length = shape[0] == 0 || to == from ? 0 : ((shape[0] - 1) * rowStride + (to - from)) * dtype.byteSize();
        return new Tensor(data.asSlice(start, length), dtype, new int[] {shape[0], to - from}, rowStride);
    }

    /** Element i of a contiguous tensor (row-major flat index), widened to float. */
    public float getFlat(long i) {
        long off = i * dtype.byteSize();
        return switch (dtype) {
            case F32 -> data.get(F32, off);
            case F64 -> (float) data.get(F64, off);
            case BF16 -> DType.bf16ToFloat(data.get(I16, off));
            case F16 -> Float.float16ToFloat(data.get(I16, off));
        };
    }

    /** Element i of a contiguous tensor as double. */
    public double getFlatDouble(long i) {
        return dtype == DType.F64 ? data.get(F64, i * 8) : getFlat(i);
    }

    /** Sets element i of a contiguous tensor, narrowing to the dtype. */
    public void setFlat(long i, double value) {
        long off = i * dtype.byteSize();
        switch (dtype) {
            case F32 -> data.set(F32, off, (float) value);
            case F64 -> data.set(F64, off, value);
            case BF16 -> data.set(I16, off, DType.floatToBf16((float) value));
            case F16 -> data.set(I16, off, Float.floatToFloat16((float) value));
        }
    }

    /** Element (r, c) of a 2-D tensor (honours the row stride). */
    public float get(int r, int c) {
        return getFlat(r * rowStride + c);
    }

    public double getDouble(int r, int c) {
        return getFlatDouble(r * rowStride + c);
    }

    public void set(int r, int c, double value) {
        setFlat(r * rowStride + c, value);
    }

    /** A contiguous copy in {@code target} dtype, owned by {@code arena}. */
    public Tensor copyAs(Arena arena, DType target) {
        Tensor out = allocate(arena, target, shape);
        copyInto(out);
        return out;
    }

    /** Copies (and converts) every element into {@code dst}, which must have the same shape. */
    public void copyInto(Tensor dst) {
        if (!Arrays.equals(shape, dst.shape)) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " into " + Arrays.toString(dst.shape));
        }
        if (shape.length == 2 && (!isContiguous() || !dst.isContiguous())) {
            for (int r = 0; r < shape[0]; r++) {
                rowSlice(r, r + 1)
                        .reshape(shape[1])
                        .copyInto(dst.rowSlice(r, r + 1).reshape(shape[1]));
            }
            return;
        }
        long n = numel();
        if (dtype == dst.dtype) {
            MemorySegment.copy(data, 0, dst.data, 0, n * dtype.byteSize());
        } else if (dtype == DType.BF16 && dst.dtype == DType.F32) {
            for (long i = 0; i < n; i++) {
                dst.data.set(F32, i * 4, DType.bf16ToFloat(data.get(I16, i * 2)));
            }
        } else {
            for (long i = 0; i < n; i++) {
                dst.setFlat(i, getFlatDouble(i));
            }
        }
    }

    /** All elements of a contiguous F32-readable tensor as a new float array (tests and small tensors). */
    public float[] toFloatArray() {
        if (numel() > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor too large for an array: " + Arrays.toString(shape));
        }
        float[] out = new float[(int) numel()];
        if (shape.length == 2 && !isContiguous()) {
            for (int r = 0; r < shape[0]; r++) {
                for (int c = 0; c < shape[1]; c++) {
                    out[r * shape[1] + c] = get(r, c);
                }
            }
        } else if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFlat(i);
            }
        }
        return out;
    }

    /** All elements as doubles (tests and small tensors). */
    public double[] toDoubleArray() {
        double[] out = new double[(int) numel()];
        if (shape.length == 2 && !isContiguous()) {
            for (int r = 0; r < shape[0]; r++) {
                for (int c = 0; c < shape[1]; c++) {
                    out[r * shape[1] + c] = getDouble(r, c);
                }
            }
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFlatDouble(i);
            }
        }
        return out;
    }

    /**
     * Rounds every element of this F32 tensor (contiguous, or a strided 2-D view), in place, to the nearest value {@code target} holds (ties to
     * even), so that storing it as {@code target} is exact. F32 and F64 targets leave it as it is.
     *
     * @return how many finite elements became infinite (beyond F16's ±65504); the caller decides whether that is an error
     */
    public long roundTo(DType target) {
        requireDType(DType.F32);
        if (target == DType.F32 || target == DType.F64) {
            return 0;
        }
        long overflows = 0;
        if (shape.length == 2 && !isContiguous()) {
            for (int r = 0; r < shape[0]; r++) {
                overflows += rowSlice(r, r + 1).reshape(shape[1]).roundTo(target);
            }
            return overflows;
        }
        for (long i = 0, n = numel(); i < n; i++) {
            float v = data.get(F32, i * 4);
            float r = target == DType.BF16
                    ? DType.bf16ToFloat(DType.floatToBf16(v))
                    : Float.float16ToFloat(Float.floatToFloat16(v));
            if (Float.isInfinite(r) && !Float.isInfinite(v)) {
                overflows++;
            }
            data.set(F32, i * 4, r);
        }
        return overflows;
    }

    /**
     * When this tensor is a view of a memory-mapped file, drops its pages from this process's resident memory (they
     * are read again from the file, or the page cache, on the next access); otherwise does nothing.
     */
    public void unloadIfMapped() {
        if (data.isMapped() && data.byteSize() > 0) {
            data.unload();
        }
    }

    /**
     * When this tensor is a view of a memory-mapped file, reads its pages into memory now (from the disk if they are not
     * in the page cache), so that the next access does not wait for them; otherwise does nothing.
     */
    public void loadIfMapped() {
        if (data.isMapped() && data.byteSize() > 0) {
            data.load();
        }
    }

    /** Sets every element to zero. */
    public void zero() {
        if (shape.length == 2 && !isContiguous()) {
            for (int r = 0; r < shape[0]; r++) {
                rowSlice(r, r + 1).reshape(shape[1]).zero();
            }
        } else {
            data.asSlice(0, numel() * dtype.byteSize()).fill((byte) 0);
        }
    }

    public void requireRank(int rank) {
        if (shape.length != rank) {
            throw new IllegalArgumentException(
                    "expected a rank-" + rank + " tensor, got shape " + Arrays.toString(shape));
        }
    }

    public void requireDType(DType expected) {
        if (dtype != expected) {
            throw new IllegalArgumentException(
                    "expected " + expected + ", got " + dtype + " tensor " + Arrays.toString(shape));
        }
    }

    public void requireContiguous() {
        if (!isContiguous()) {
            throw new IllegalArgumentException(
                    "expected a contiguous tensor, got a strided view " + Arrays.toString(shape));
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + (isContiguous() ? "" : " rowStride=" + rowStride);
    }
}
