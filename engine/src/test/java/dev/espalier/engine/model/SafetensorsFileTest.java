package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    private static final Path F32_FILE = SharedFiles.storiesHf().resolve("model.safetensors");

    @TempDir
    Path tmp;

    @Test
    void readsTheHeaderOfStories260K() {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(F32_FILE, arena);
            assertEquals(47, f.entries().size());
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(8 + 4856, f.dataStart());
            assertEquals(
                    new SafetensorsFile.Entry("model.embed_tokens.weight", "F32", new int[] {512, 64}, 0, 131072),
                    f.entries().firstEntry().getValue());
            assertEquals(
                    new SafetensorsFile.Entry("model.norm.weight", "F32", new int[] {64}, 1039872, 1040128),
                    f.entries().lastEntry().getValue());
            assertEquals(
                    List.of("model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"),
                    f.entries().keySet().stream().skip(1).limit(2).toList());
        }
    }

    @Test
    void tensorsAreViewsOfTheMappedFileWithTheRightValues() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor embed = SafetensorsFile.open(F32_FILE, arena).tensor("model.embed_tokens.weight");
            assertTrue(embed.data().isMapped());
            assertEquals(DType.F32, embed.dtype());
            assertArrayEquals(new int[] {512, 64}, embed.shape());
            // the token embedding is not permuted by the conversion: it equals llama2.c's first array, after the
            // 28-byte header
            ByteBuffer bin =
                    ByteBuffer.wrap(BrokenFiles.read(SharedFiles.storiesBin())).order(ByteOrder.LITTLE_ENDIAN);
            float[] expected = new float[512 * 64];
            bin.position(28);
            bin.asFloatBuffer().get(expected);
            assertArrayEquals(expected, embed.toFloatArray());
        }
    }

    @Test
    void readsBf16TensorsWithoutConverting() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = SafetensorsFile.open(SharedFiles.storiesHfBf16().resolve("model.safetensors"), arena)
                    .tensor("model.norm.weight");
            assertEquals(DType.BF16, t.dtype());
            assertEquals(64 * 2, t.data().byteSize());
        }
    }

    @Test
    void listsIntegerTensorsButRefusesThemAsFloatTensors() {
        String header = "{\"ids\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 32).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length)
                .put(h)
                .putLong(7)
                .putLong(-1)
                .putLong(1L << 40)
                .putFloat(1.5f)
                .putFloat(-2f);
        Path file = BrokenFiles.write(tmp.resolve("mixed.safetensors"), b.array());
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(file, arena);
            assertEquals("I64", f.entry("ids").dtypeName());
            assertNull(f.entry("ids").dtype());
            MemorySegment ids = f.bytes("ids");
            assertEquals(1L << 40, ids.get(ValueLayout.JAVA_LONG_UNALIGNED, 16));
            assertArrayEquals(new float[] {1.5f, -2f}, f.tensor("w").toFloatArray());
            assertModelError(file, () -> f.tensor("ids"), "tensor 'ids' has dtype I64", "floating-point");
            assertModelError(file, () -> f.tensor("nope"), "no tensor named 'nope'");
        }
    }

    @Test
    void refusesAFileShorterThanEightBytes() {
        Path f = BrokenFiles.truncate(F32_FILE, tmp.resolve("short.safetensors"), 5);
        assertModelError(f, () -> open(f), "5 bytes is shorter than the 8-byte");
    }

    @Test
    void refusesAHeaderLengthLargerThanTheFile() {
        Path f = BrokenFiles.truncate(F32_FILE, tmp.resolve("truncated-header.safetensors"), 8 + 100);
        assertModelError(f, () -> open(f), "header length 4856 is larger than the 100 bytes");
    }

    @Test
    void refusesMalformedJson() {
        Path f = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("bad-json.safetensors"), h -> h.replaceFirst("\"dtype\":", "\"dtype\" "));
        assertModelError(f, () -> open(f), "safetensors header is not valid JSON", "line 1");
    }

    @Test
    void refusesEntriesWithoutDtypeShapeOrOffsets() {
        Path noDtype = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("no-dtype.safetensors"), h -> h.replaceFirst("\"dtype\":\"F32\",", ""));
        assertModelError(noDtype, () -> open(noDtype), "tensor 'model.embed_tokens.weight' has no dtype");
        Path noShape = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("no-shape.safetensors"), h -> h.replaceFirst("\"shape\":\\[512,64],", ""));
        assertModelError(noShape, () -> open(noShape), "tensor 'model.embed_tokens.weight' has no shape");
        Path noOffsets = BrokenFiles.rewriteHeader(
                F32_FILE,
                tmp.resolve("no-offsets.safetensors"),
                h -> h.replaceFirst(",\"data_offsets\":\\[0,131072]", ""));
        assertModelError(noOffsets, () -> open(noOffsets), "tensor 'model.embed_tokens.weight' has no data_offsets");
    }

    @Test
    void refusesOffsetsOutsideTheDataSection() {
        long size = BrokenFiles.read(F32_FILE).length;
        Path f = BrokenFiles.truncate(F32_FILE, tmp.resolve("cut.safetensors"), size - 4);
        assertModelError(
                f,
                () -> open(f),
                "tensor 'model.norm.weight' has data_offsets [1039872, 1040128] outside the data section of 1040124 bytes");
    }

    @Test
    void refusesBeginAfterEnd() {
        Path f = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("reversed.safetensors"), h -> h.replace("[0,131072]", "[131072,0]"));
        assertModelError(
                f, () -> open(f), "tensor 'model.embed_tokens.weight' has data_offsets [131072, 0] with begin > end");
    }

    @Test
    void refusesAByteLengthThatDisagreesWithTheShape() {
        Path f = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("bad-length.safetensors"), h -> h.replace("[512,64]", "[512,63]"));
        assertModelError(
                f,
                () -> open(f),
                "'model.embed_tokens.weight' spans 131072 bytes, but shape [512, 63] of F32 needs 129024");
    }

    @Test
    void refusesOverlappingTensors() {
        Path f = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("overlap.safetensors"), h -> h.replace("[131072,147456]", "[131068,147452]"));
        assertModelError(
                f,
                () -> open(f),
                "tensors 'model.embed_tokens.weight' [0, 131072) and 'model.layers.0.self_attn.q_proj.weight' [131068, 147452) overlap");
    }

    @Test
    void refusesDuplicateNamesAndUnknownDtypes() {
        Path dup = BrokenFiles.rewriteHeader(
                F32_FILE,
                tmp.resolve("dup.safetensors"),
                h -> h.replace(
                        "\"model.layers.0.self_attn.k_proj.weight\"", "\"model.layers.0.self_attn.q_proj.weight\""));
        assertModelError(
                dup, () -> open(dup), "not valid JSON", "Duplicate field 'model.layers.0.self_attn.q_proj.weight'");
        Path unknown = BrokenFiles.rewriteHeader(
                F32_FILE, tmp.resolve("unknown.safetensors"), h -> h.replaceFirst("\"F32\"", "\"F31\""));
        assertModelError(unknown, () -> open(unknown), "tensor 'model.embed_tokens.weight' has unknown dtype F31");
    }

    @Test
    void namesAMissingFile() {
        Path f = tmp.resolve("absent.safetensors");
        assertModelError(f, () -> open(f), "cannot read: no such file");
    }

    private static void open(Path f) {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile.open(f, arena);
        }
    }
}
