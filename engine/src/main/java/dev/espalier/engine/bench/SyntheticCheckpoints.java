package dev.espalier.engine.bench;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Writes synthetic Hugging Face checkpoints of real shapes ({@link RealShape}), sharded as {@code save_pretrained}
 * shards them, one tensor in memory at a time: a 13B-shaped model is written on a machine with less memory than the
 * model. Weights are uniform in ±1/sqrt(fan_in) (embedding and head: ±1/sqrt(hidden)), norms 1, biases uniform in
 * ±0.01; every row has its own seeded generator, so the bytes depend on the seed only (not on threads).
 */
public final class SyntheticCheckpoints {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private SyntheticCheckpoints() {}

    /**
     * Writes a model of {@code config} (its torch_dtype for every tensor) as the folder {@code output}, with the
     * tokenizer files {@code tokenizerFiles}; {@code output} must be new, or an earlier Espalier output with
     * {@code overwrite}.
     */
    public static void write(
            LlamaConfig config,
            Path output,
            Map<Path, String> tokenizerFiles,
            long maxShardBytes,
            long seed,
            boolean overwrite) {
        ModelExporter.exportProduced(
                config,
                output,
                tokenizerFiles,
                "bench-synthetic",
                overwrite,
                maxShardBytes,
                (name, layout, arena) -> tensor(name, layout.shape(), layout.dtype(), seed, arena));
    }

    /** Bytes of weights a model of {@code config} holds in its torch_dtype. */
    public static long bytes(LlamaConfig config) {
        return ModelExporter.weightBytes(config);
    }

    /** The tensor {@code name}: ones for norms, small values for biases, uniform ±1/sqrt(cols) for matrices. */
    static Tensor tensor(String name, int[] shape, DType dtype, long seed, Arena arena) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        int rows = shape.length == 2 ? shape[0] : 1;
        int cols = shape.length == 2 ? shape[1] : shape[0];
        boolean norm = name.endsWith("norm.weight");
        double bound = name.endsWith(".bias") ? 0.01 : 1.0 / Math.sqrt(cols);
        long base = seed * 0x9E3779B97F4A7C15L ^ name.hashCode();
        MemorySegment data = t.data();
        IntStream.range(0, rows).parallel().forEach(r -> {
            SplittableRandom random = new SplittableRandom(base + 31L * r);
            long row = (long) r * cols;
            for (int c = 0; c < cols; c++) {
                float v = norm ? 1f : (float) ((random.nextDouble() * 2 - 1) * bound);
                long i = row + c;
                switch (dtype) {
                    case F32 -> data.set(F32, 4 * i, v);
                    case BF16 -> data.set(I16, 2 * i, DType.floatToBf16(v));
                    case F16 -> data.set(I16, 2 * i, Float.floatToFloat16(v));
                    case F64 -> throw new IllegalArgumentException("synthetic checkpoints are F32, BF16 or F16");
                }
            }
        });
        return t;
    }
}
