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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Imports a llama2.c legacy (version 0) checkpoint: a header of 7 little-endian int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an unshared classifier follows) and then
 * float32 arrays: token embedding (vocab, dim), rms_att (L, dim), wq (L, dim, dim), wk (L, kv_dim, dim),
 * wv (L, kv_dim, dim), wo (L, dim, dim), rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden),
 * w3 (L, hidden, dim), rms_final (dim), two RoPE tables (seq_len, head_size / 2) each, [wcls (vocab, dim)].
 *
 * <p>The result is a llama {@link LlamaModel} in Hugging Face conventions (rope_theta 10000, eps 1e-5,
 * max positions = seq_len, bos 1, eos 2). llama2.c rotates interleaved pairs (2i, 2i+1) of each head while Hugging
 * Face rotates halves (i, i + head_dim/2), so the rows of wq and wk are permuted per head as Hugging Face's
 * convert_llama_weights_to_hf does: view (n_heads, head_dim/2, 2, dim), swap axes 1 and 2, reshape back. Those two
 * are copied into the arena; every other weight is a zero-copy view of the mapped file.
 */
public final class Llama2cImporter {
    private static final int HEADER_BYTES = 7 * 4;
    private static final int VERSIONED_MAGIC = 0x616b3432; // "ak42": llama2.c export versions 1 and 2
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Llama2cImporter() {}

    /**
     * Maps {@code bin} into {@code arena} and builds the model.
     *
     * @throws ModelFormatException naming the file when the header is invalid or the size differs from the one it implies
     */
    public static LlamaModel load(Path bin, Arena arena) {
        SafetensorsFile.requireLittleEndianPlatform();
        MemorySegment file;
        try (FileChannel ch = FileChannel.open(bin, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER_BYTES) {
                throw new ModelFormatException(
                        bin, "file of " + size + " bytes is shorter than the 28-byte llama2.c header");
            }
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw IoFailures.of(bin, "read", e);
        }
        if (file.get(I32_LE, 0) == VERSIONED_MAGIC) {
            throw new ModelFormatException(
                    bin,
                    "is a versioned llama2.c export (magic \"ak42\", version " + file.get(I32_LE, 4)
                            + "); only the legacy version-0 format is supported");
        }
        Header h = Header.read(bin, file);
        long expected = h.expectedBytes();
        if (file.byteSize() != expected) {
            throw new ModelFormatException(
                    bin,
                    "file is " + file.byteSize() + " bytes, but its header (" + h + ") implies " + expected + " bytes");
        }

        Cursor at = new Cursor(file, HEADER_BYTES);
        int dim = h.dim();
        int kvDim = h.kvHeads() * h.headDim();
        Tensor embed = at.next(h.vocab(), dim);
        List<Tensor> rmsAtt = at.stack(h.layers(), dim);
        List<Tensor> wq = at.stack(h.layers(), dim, dim);
        List<Tensor> wk = at.stack(h.layers(), kvDim, dim);
        List<Tensor> wv = at.stack(h.layers(), kvDim, dim);
        List<Tensor> wo = at.stack(h.layers(), dim, dim);
        List<Tensor> rmsFfn = at.stack(h.layers(), dim);
        List<Tensor> w1 = at.stack(h.layers(), h.hidden(), dim);
        List<Tensor> w2 = at.stack(h.layers(), dim, h.hidden());
        List<Tensor> w3 = at.stack(h.layers(), h.hidden(), dim);
        Tensor finalNorm = at.next(dim);
        at.skip(2L * h.seqLen() * (h.headDim() / 2)); // legacy RoPE tables, unused
        Tensor head = h.sharedClassifier() ? embed : at.next(h.vocab(), dim);

        List<DecoderLayerWeights> layers = new ArrayList<>(h.layers());
        for (int l = 0; l < h.layers(); l++) {
            layers.add(new DecoderLayerWeights(
                    rmsAtt.get(l),
                    interleavedToRotateHalf(wq.get(l), h.heads(), h.headDim(), arena),
                    interleavedToRotateHalf(wk.get(l), h.kvHeads(), h.headDim(), arena),
                    wv.get(l),
                    wo.get(l),
                    null,
                    null,
                    null,
                    null,
                    rmsFfn.get(l),
                    w1.get(l),
                    w3.get(l),
                    w2.get(l),
                    null,
                    null,
                    null));
        }
        LlamaConfig config = new LlamaConfig(
                "llama",
                dim,
                h.vocab(),
                h.headDim(),
                Collections.nCopies(h.layers(), new LlamaConfig.LayerDims(h.heads(), h.kvHeads(), h.hidden())),
                h.seqLen(),
                1e-5f,
                10000.0,
                null,
                h.sharedClassifier(),
                false,
                false,
                false,
                0,
                1,
                2,
                DType.F32);
        return new LlamaModel(config, embed, layers, finalNorm, head, bin, arena);
    }

    /**
     * Row permutation of a (nHeads * headDim, cols) projection from interleaved-pair RoPE to rotate-half RoPE:
     * out[h*headDim + j*(headDim/2) + i] = in[h*headDim + 2*i + j] for i &lt; headDim/2, j in {0, 1}.
     */
    static Tensor interleavedToRotateHalf(Tensor w, int nHeads, int headDim, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, w.rows(), w.cols());
        long rowBytes = (long) w.cols() * Float.BYTES;
        int half = headDim / 2;
        for (int h = 0; h < nHeads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    long from = (long) h * headDim + 2L * i + j;
                    long to = (long) h * headDim + (long) j * half + i;
                    MemorySegment.copy(w.data(), from * rowBytes, out.data(), to * rowBytes, rowBytes);
                }
            }
        }
        return out;
    }

    /** The seven header ints, validated. */
    private record Header(
            int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, boolean sharedClassifier) {
        static Header read(Path bin, MemorySegment file) {
            int[] v = new int[7];
            for (int i = 0; i < 7; i++) {
                v[i] = file.get(I32_LE, 4L * i);
            }
            Header h = new Header(v[0], v[1], v[2], v[3], v[4], Math.abs(v[5]), v[6], v[5] > 0);
            String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
            for (int i = 0; i < 7; i++) {
                boolean ok = i == 2 ? v[i] >= 0 : i == 5 ? v[i] != 0 && v[i] != Integer.MIN_VALUE : v[i] > 0;
                if (!ok) {
                    throw new ModelFormatException(
                            bin,
                            "header (" + h + ") has a dimension that is not positive: " + names[i] + " is " + v[i]
                                    + ", expected "
                                    + (i == 2
                                            ? "an integer >= 0"
                                            : i == 5
                                                    ? "a non-zero integer (negative: unshared classifier)"
                                                    : "an integer >= 1"));
                }
            }
            if (h.dim % h.heads != 0 || h.heads % h.kvHeads != 0 || (h.dim / h.heads) % 2 != 0) {
                throw new ModelFormatException(
                        bin,
                        "header (" + h + ") needs dim divisible by n_heads into an even head size"
                                + " and n_heads divisible by n_kv_heads");
            }
            return h;
        }

        int headDim() {
            return dim / heads;
        }

        /** The file size the header implies; Long.MAX_VALUE when it does not fit a long (no file is that large). */
        long expectedBytes() {
            try {
                long d = dim;
                long kvDim = (long) kvHeads * headDim();
                long perLayer = sum(
                        2 * d,
                        Math.multiplyExact(2 * d, d),
                        Math.multiplyExact(2 * d, kvDim),
                        Math.multiplyExact(3 * d, (long) hidden));
                long floats = sum(
                        (long) vocab * d,
                        Math.multiplyExact((long) layers, perLayer),
                        d,
                        (long) seqLen * headDim(),
                        sharedClassifier ? 0 : (long) vocab * d);
                return Math.addExact(HEADER_BYTES, Math.multiplyExact(4L, floats));
            } catch (ArithmeticException overflow) {
                return Long.MAX_VALUE;
            }
        }

        private static long sum(long... terms) {
            long total = 0;
            for (long t : terms) {
                total = Math.addExact(total, t);
            }
            return total;
        }

        @Override
        public String toString() {
            return "dim=" + dim + " hidden_dim=" + hidden + " n_layers=" + layers + " n_heads=" + heads + " n_kv_heads="
                    + kvHeads + " vocab_size=" + (sharedClassifier ? vocab : -vocab) + " seq_len=" + seqLen;
        }
    }

    /** Walks the float32 arrays of the file, handing out zero-copy views. */
    private static final class Cursor {
        private final MemorySegment file;
        private long offset;

        Cursor(MemorySegment file, long offset) {
            this.file = file;
            this.offset = offset;
        }

        Tensor next(int... shape) {
            long bytes = Tensor.numel(shape) * Float.BYTES;
            Tensor t = Tensor.of(file.asSlice(offset, bytes), DType.F32, shape);
            offset += bytes;
            return t;
        }

        List<Tensor> stack(int count, int... shape) {
            List<Tensor> out = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                out.add(next(shape));
            }
            return out;
        }

        void skip(long floats) {
            offset += floats * Float.BYTES;
        }
    }
}
