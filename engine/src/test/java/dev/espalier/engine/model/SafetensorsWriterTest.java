package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.espalier.engine.SharedFiles;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SafetensorsWriterTest {
    @TempDir
    Path tmp;

    static Stream<Path> sharedFiles() {
        return Stream.of(
                SharedFiles.storiesHf().resolve("model.safetensors"),
                SharedFiles.storiesHfBf16().resolve("model.safetensors"),
                SharedFiles.storiesHfSharded().resolve("model-00001-of-00002.safetensors"),
                SharedFiles.storiesHfSharded().resolve("model-00002-of-00002.safetensors"));
    }

    /**
     * The shared files were written with the same rules (compact JSON, __metadata__ first, tensors in order, spaces
     * padding 8 + header length to a multiple of 8), so rewriting all their tensors in order reproduces them byte for byte.
     */
    @ParameterizedTest
    @MethodSource("sharedFiles")
    void rewritingASharedFileReproducesItByteForByte(Path original) throws IOException {
        Path copy = tmp.resolve("copy.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(original, arena);
            SafetensorsWriter.write(copy, allTensors(f), f.metadata());
        }
        assertEquals(-1, Files.mismatch(original, copy));
    }

    @Test
    void writesStridedViewsContiguouslyAndPadsTheHeader() {
        Path file = tmp.resolve("small.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            float[] values = new float[4 * 6];
            for (int i = 0; i < values.length; i++) {
                values[i] = i * 0.5f - 3;
            }
            Tensor wide = Tensor.ofFloats(arena, values, 4, 6);
            Tensor block = wide.columnSlice(1, 4); // (4, 3), row stride 6
            Tensor half = wide.copyAs(arena, DType.BF16).reshape(24);
            SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("block", block);
            tensors.put("half", half);
            SafetensorsWriter.write(file, tensors, null);

            SafetensorsFile back = SafetensorsFile.open(file, arena);
            assertEquals(0, back.dataStart() % 8);
            assertEquals(Map.of(), back.metadata());
            assertFalse(BrokenFiles.header(file).contains(SafetensorsFile.METADATA_KEY));
            assertEquals(List.of("block", "half"), List.copyOf(back.entries().keySet()));
            assertEquals(new SafetensorsFile.Entry("block", "F32", new int[] {4, 3}, 0, 48), back.entry("block"));
            assertEquals(new SafetensorsFile.Entry("half", "BF16", new int[] {24}, 48, 96), back.entry("half"));
            assertArrayEquals(block.toFloatArray(), back.tensor("block").toFloatArray());
            assertArrayEquals(half.toFloatArray(), back.tensor("half").toFloatArray());
        }
    }

    @Test
    void replacesAnExistingFileAndLeavesNoTemporaryFiles() throws IOException {
        Path file = tmp.resolve("w.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(
                    file,
                    new LinkedHashMap<>(Map.of("a", Tensor.ofFloats(arena, new float[] {1, 2}, 2))),
                    Map.of("k", "v"));
            SafetensorsWriter.write(
                    file, new LinkedHashMap<>(Map.of("b", Tensor.ofFloats(arena, new float[] {3}, 1))), Map.of());
            SafetensorsFile back = SafetensorsFile.open(file, arena);
            assertEquals(List.of("b"), List.copyOf(back.entries().keySet()));
            assertArrayEquals(new float[] {3}, back.tensor("b").toFloatArray());
        }
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void namesTheFileItCannotWrite() throws IOException {
        Path notADirectory = Files.writeString(tmp.resolve("plain-file"), "x");
        Path file = notADirectory.resolve("w.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.ofFloats(arena, new float[] {1}, 1);
            assertModelError(
                    file,
                    () -> SafetensorsWriter.write(file, new LinkedHashMap<>(Map.of("a", t)), null),
                    "cannot write");
        }
    }

    static SequencedMap<String, Tensor> allTensors(SafetensorsFile f) {
        SequencedMap<String, Tensor> out = new LinkedHashMap<>();
        f.entries().keySet().forEach(name -> out.put(name, f.tensor(name)));
        return out;
    }
}
