package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.espalier.engine.SharedFiles;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cImporterTest {
    @TempDir
    Path tmp;

    /** The HF folder was converted from the same .bin independently (numpy, same permutation): every tensor must match bit for bit. */
    @Test
    void importsStories260KExactlyAsTheIndependentHuggingFaceConversion() {
        try (Arena a = Arena.ofConfined()) {
            LlamaModel imported = Llama2cImporter.load(SharedFiles.storiesBin(), a);
            assertEquals(HfConfigReader.read(SharedFiles.storiesHf().resolve("config.json")), imported.config());
            assertSame(imported.embedTokens(), imported.lmHead());
            assertEquals(SharedFiles.storiesBin(), imported.source());

            SafetensorsFile hf = SafetensorsFile.open(SharedFiles.storiesHf().resolve("model.safetensors"), a);
            SequencedMap<String, Tensor> ours = HfTensorLayout.tensorsOf(imported, a);
            assertEquals(List.copyOf(hf.entries().keySet()), List.copyOf(ours.keySet()));
            ours.forEach((name, t) -> {
                assertArrayEquals(hf.entry(name).shape(), t.shape(), name);
                assertArrayEquals(hf.tensor(name).toFloatArray(), t.toFloatArray(), name);
            });
        }
    }

    @Test
    void permutesRowsFromInterleavedPairsToRotateHalfPerHead() {
        try (Arena a = Arena.ofConfined()) {
            float[] rows = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; // (2 heads * head_dim 6, 1 column)
            Tensor out = Llama2cImporter.interleavedToRotateHalf(Tensor.ofFloats(a, rows, 12, 1), 2, 6, a);
            // per head: even positions (first of each pair) first, then odd ones
            assertArrayEquals(new float[] {0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11}, out.toFloatArray());
        }
    }

    @Test
    void readsAnUnsharedClassifierAfterTheRopeTables() {
        int dim = 8, hidden = 12, layers = 2, heads = 2, kvHeads = 1, vocab = 16, seqLen = 4;
        int headDim = dim / heads, kvDim = kvHeads * headDim;
        int floats = vocab * dim
                + layers * (2 * dim + 2 * dim * dim + 2 * dim * kvDim + 3 * dim * hidden)
                + dim
                + seqLen * headDim
                + vocab * dim;
        float[] values = new float[floats];
        Random random = new Random(42);
        for (int i = 0; i < floats; i++) {
            values[i] = (float) random.nextGaussian();
        }
        Path bin = writeBin(
                tmp.resolve("unshared.bin"), new int[] {dim, hidden, layers, heads, kvHeads, -vocab, seqLen}, values);
        try (Arena a = Arena.ofConfined()) {
            LlamaModel m = Llama2cImporter.load(bin, a);
            LlamaConfig c = m.config();
            assertFalse(c.tieWordEmbeddings());
            assertEquals(vocab, c.vocabSize());
            assertEquals(
                    List.of(
                            new LlamaConfig.LayerDims(heads, kvHeads, hidden),
                            new LlamaConfig.LayerDims(heads, kvHeads, hidden)),
                    c.layers());
            assertEquals(seqLen, c.maxPositionEmbeddings());
            assertNotSame(m.embedTokens(), m.lmHead());
            assertArrayEquals(
                    Arrays.copyOfRange(values, floats - vocab * dim, floats),
                    m.lmHead().toFloatArray());
            assertArrayEquals(
                    Arrays.copyOfRange(values, 0, vocab * dim), m.embedTokens().toFloatArray());
            // layer 1's wq starts after the embedding, rms_att (L, dim) and layer 0's wq; row r of head h moves as
            // permuted
            int wq1 = vocab * dim + layers * dim + dim * dim;
            Tensor q = m.layer(1).q();
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < headDim / 2; i++) {
                    for (int j = 0; j < 2; j++) {
                        int from = wq1 + (h * headDim + 2 * i + j) * dim;
                        assertArrayEquals(
                                Arrays.copyOfRange(values, from, from + dim),
                                q.rowSlice(h * headDim + j * headDim / 2 + i, h * headDim + j * headDim / 2 + i + 1)
                                        .toFloatArray());
                    }
                }
            }
            assertEquals(DType.F32, m.layer(1).gate().dtype());
        }
    }

    @Test
    void refusesATruncatedFileNamingBothSizes() {
        Path cut = BrokenFiles.truncate(SharedFiles.storiesBin(), tmp.resolve("cut.bin"), 1_056_540 - 4);
        assertModelError(
                cut,
                () -> load(cut),
                "file is 1056536 bytes, but its header (dim=64 hidden_dim=172 n_layers=5 n_heads=8"
                        + " n_kv_heads=4 vocab_size=512 seq_len=512) implies 1056540 bytes");
        Path tiny = BrokenFiles.truncate(SharedFiles.storiesBin(), tmp.resolve("tiny.bin"), 20);
        assertModelError(tiny, () -> load(tiny), "file of 20 bytes is shorter than the 28-byte llama2.c header");
    }

    @Test
    void refusesInvalidHeadersAndVersionedExports() {
        Path zeroHeads = writeBin(tmp.resolve("zero.bin"), new int[] {64, 172, 5, 0, 4, 512, 512}, new float[0]);
        assertModelError(
                zeroHeads,
                () -> load(zeroHeads),
                "has a dimension that is not positive",
                "n_heads is 0, expected an integer >= 1");
        Path huge = writeBin(
                tmp.resolve("huge.bin"),
                new int[] {1 << 30, Integer.MAX_VALUE, Integer.MAX_VALUE, 2, 2, Integer.MAX_VALUE, Integer.MAX_VALUE},
                new float[0]);
        assertModelError(
                huge, () -> load(huge), "file is 28 bytes, but its header", "implies " + Long.MAX_VALUE + " bytes");
        Path odd = writeBin(tmp.resolve("odd.bin"), new int[] {64, 172, 5, 6, 3, 512, 512}, new float[0]);
        assertModelError(odd, () -> load(odd), "needs dim divisible by n_heads");
        Path v1 = writeBin(tmp.resolve("v1.bin"), new int[] {0x616b3432, 1, 64, 172, 5, 8, 4}, new float[0]);
        assertModelError(v1, () -> load(v1), "versioned llama2.c export", "version 1");
    }

    private static void load(Path bin) {
        try (Arena arena = Arena.ofConfined()) {
            Llama2cImporter.load(bin, arena);
        }
    }

    private static Path writeBin(Path file, int[] header, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * (header.length + values.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : header) {
            b.putInt(v);
        }
        for (float v : values) {
            b.putFloat(v);
        }
        return BrokenFiles.write(file, b.array());
    }
}
