package dev.espalier.kernels;

/** Element types of tensors: the storage dtypes of checkpoints (F32, F16, BF16) and F64 for accurate linear algebra. */
public enum DType {
    F32(4),
    F16(2),
    BF16(2),
    F64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype named in safetensors headers ("F32", "F16", "BF16", "F64"); null when the name is unknown. */
    public static DType fromSafetensorsName(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            case "F64" -> F64;
            default -> null;
        };
    }

    /** BF16 bits (upper half of an f32) to f32. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** f32 to BF16 bits, rounding to nearest even (NaN stays NaN). */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
