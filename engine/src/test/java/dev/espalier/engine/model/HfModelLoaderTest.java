package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfModelLoaderTest {
    @TempDir
    Path tmp;

    @Test
    void loadsTheF32FolderAsMappedViews() {
        try (LlamaModel m =
                HfModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared())) { // closing the model closes its arena
            assertEquals(HfConfigReaderTest.STORIES, m.config());
            assertEquals(SharedFiles.storiesHf(), m.source());
            assertSame(m.embedTokens(), m.lmHead(), "tied head reuses the embedding");
            assertTrue(m.layer(4).down().data().isMapped(), "F32 weights are zero-copy views");
            assertArrayEquals(new int[] {32, 64}, m.layer(0).k().shape());
            assertArrayEquals(new int[] {64, 172}, m.layer(0).down().shape());
            assertEquals(null, m.layer(0).qBias());
        }
    }

    @Test
    void theShardedFolderHasExactlyTheSameTensors() {
        try (Arena a = Arena.ofConfined();
                Arena b = Arena.ofConfined()) {
            SequencedMap<String, Tensor> single =
                    HfTensorLayout.tensorsOf(HfModelLoader.load(SharedFiles.storiesHf(), a), a);
            SequencedMap<String, Tensor> sharded =
                    HfTensorLayout.tensorsOf(HfModelLoader.load(SharedFiles.storiesHfSharded(), b), b);
            assertEquals(List.copyOf(single.keySet()), List.copyOf(sharded.keySet()));
            single.forEach((name, t) ->
                    assertArrayEquals(t.toFloatArray(), sharded.get(name).toFloatArray(), name));
        }
    }

    @Test
    void theBf16FolderIsTheF32WeightsRoundedToBf16AndStaysMappedInBf16() {
        try (Arena a = Arena.ofConfined();
                Arena b = Arena.ofConfined()) {
            LlamaModel f32 = HfModelLoader.load(SharedFiles.storiesHf(), a);
            LlamaModel bf16 = HfModelLoader.load(SharedFiles.storiesHfBf16(), b);
            assertEquals(DType.BF16, bf16.config().torchDtype());
            assertEquals(DType.BF16, bf16.layer(0).q().dtype());
            assertEquals(DType.BF16, bf16.embedTokens().dtype());
            assertTrue(bf16.layer(0).q().data().isMapped()); // read from the file when used, not copied at load
            SequencedMap<String, Tensor> expected = HfTensorLayout.tensorsOf(f32, a);
            SequencedMap<String, Tensor> actual = HfTensorLayout.tensorsOf(bf16, b);
            expected.forEach((name, t) -> {
                float[] want = t.toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    want[i] = DType.bf16ToFloat(
                            DType.floatToBf16(want[i])); // round-to-nearest-even, as the conversion did
                }
                assertArrayEquals(want, actual.get(name).toFloatArray(), name);
            });
        }
    }

    @Test
    void readsF16CheckpointsAsMappedF16() {
        Path folder = tmp.resolve("f16");
        try (Arena a = Arena.ofConfined()) {
            SafetensorsFile src = SafetensorsFile.open(SharedFiles.storiesHf().resolve("model.safetensors"), a);
            SequencedMap<String, Tensor> half = new LinkedHashMap<>();
            src.entries().keySet().forEach(n -> half.put(n, src.tensor(n).copyAs(a, DType.F16)));
            BrokenFiles.copyFolder(SharedFiles.storiesHf(), folder);
            BrokenFiles.delete(folder.resolve("model.safetensors"));
            SafetensorsWriter.write(folder.resolve("model.safetensors"), half, Map.of("format", "pt"));
            try (Arena b = Arena.ofConfined()) {
                LlamaModel m = HfModelLoader.load(folder, b);
                Tensor up = m.layer(3).up();
                assertEquals(DType.F16, up.dtype());
                assertTrue(up.data().isMapped());
                float[] want = src.tensor("model.layers.3.mlp.up_proj.weight").toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    want[i] = Float.float16ToFloat(Float.floatToFloat16(want[i]));
                }
                assertArrayEquals(want, up.toFloatArray());
            }
        }
    }

    @Test
    void namesAFolderWithoutConfigJson() {
        Path folder = tmp.resolve("no-config");
        BrokenFiles.copyFolder(SharedFiles.storiesHf(), folder);
        BrokenFiles.delete(folder.resolve("config.json"));
        assertModelError(folder, () -> load(folder), "has no config.json");
    }

    @Test
    void namesAFolderWithoutWeights() {
        Path folder = tmp.resolve("no-weights");
        BrokenFiles.copyFolder(SharedFiles.storiesHf(), folder);
        BrokenFiles.delete(folder.resolve("model.safetensors"));
        assertModelError(folder, () -> load(folder), "has neither model.safetensors nor model.safetensors.index.json");
    }

    @Test
    void refusesAShapeThatDisagreesWithTheConfig() {
        Path folder = BrokenFiles.copyFolder(SharedFiles.storiesHf(), tmp.resolve("shape"));
        BrokenFiles.editText(
                folder.resolve("config.json"),
                s -> s.replace("\"intermediate_size\": 172", "\"intermediate_size\": 180"));
        assertModelError(
                folder.resolve("model.safetensors"),
                () -> load(folder),
                "model.layers.0.mlp.gate_proj.weight has shape [172, 64], config expects [180, 64]");
    }

    @Test
    void refusesAnIntegerWeight() {
        Path folder = BrokenFiles.copyFolder(SharedFiles.storiesHf(), tmp.resolve("dtype"));
        Path st = folder.resolve("model.safetensors");
        BrokenFiles.rewriteHeader(
                SharedFiles.storiesHf().resolve("model.safetensors"),
                st,
                h -> h.replace(
                        "\"model.layers.2.mlp.up_proj.weight\":{\"dtype\":\"F32\"",
                        "\"model.layers.2.mlp.up_proj.weight\":{\"dtype\":\"I32\""));
        assertModelError(
                st, () -> load(folder), "model.layers.2.mlp.up_proj.weight has dtype I32, expected F32, F16 or BF16");
    }

    @Test
    void namesMissingAndUndeclaredTensors() {
        Path folder = BrokenFiles.copyFolder(SharedFiles.storiesHf(), tmp.resolve("missing"));
        Path st = folder.resolve("model.safetensors");
        BrokenFiles.rewriteHeader(
                SharedFiles.storiesHf().resolve("model.safetensors"),
                st,
                h -> h.replace("\"model.norm.weight\"", "\"model.final_norm.weight\""));
        assertModelError(st, () -> load(folder), "missing 1 tensor(s) that config.json implies: model.norm.weight");

        Path biased = BrokenFiles.copyFolder(SharedFiles.storiesHf(), tmp.resolve("undeclared"));
        try (Arena a = Arena.ofConfined()) {
            SafetensorsFile src = SafetensorsFile.open(SharedFiles.storiesHf().resolve("model.safetensors"), a);
            SequencedMap<String, Tensor> tensors = SafetensorsWriterTest.allTensors(src);
            tensors.put("model.layers.0.self_attn.o_proj.bias", Tensor.allocate(a, DType.F32, 64));
            tensors.put(
                    "model.rotary_emb.inv_freq",
                    Tensor.allocate(a, DType.F32, 4)); // old checkpoints carry these; ignored
            BrokenFiles.delete(biased.resolve("model.safetensors"));
            SafetensorsWriter.write(biased.resolve("model.safetensors"), tensors, null);
        }
        assertModelError(
                biased.resolve("model.safetensors"),
                () -> load(biased),
                "1 tensor(s) that config.json does not declare: model.layers.0.self_attn.o_proj.bias");
    }

    @Test
    void refusesAnUnknownModelType() {
        Path folder = BrokenFiles.copyFolder(SharedFiles.storiesHf(), tmp.resolve("type"));
        BrokenFiles.editText(
                folder.resolve("config.json"),
                s -> s.replace("\"model_type\": \"llama\"", "\"model_type\": \"falcon\""));
        assertModelError(
                folder.resolve("config.json"),
                () -> load(folder),
                "unsupported model_type 'falcon' (supported: llama, mistral, qwen2)");
    }

    @Test
    void refusesAnIndexThatPointsAtTheWrongShard() {
        Path folder = BrokenFiles.copyFolder(SharedFiles.storiesHfSharded(), tmp.resolve("index"));
        BrokenFiles.editText(
                folder.resolve("model.safetensors.index.json"),
                s -> s.replace(
                        "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
                        "\"model.norm.weight\": \"model-00001-of-00002.safetensors\""));
        assertModelError(
                folder.resolve("model-00001-of-00002.safetensors"),
                () -> load(folder),
                "has no tensor 'model.norm.weight', which model.safetensors.index.json places there");
        BrokenFiles.editText(
                folder.resolve("model.safetensors.index.json"),
                s -> s.replace(
                        "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"",
                        "\"model.norm.weight\": \"../elsewhere.safetensors\""));
        assertModelError(
                folder.resolve("model.safetensors.index.json"), () -> load(folder), "points outside the folder");
    }

    private static void load(Path folder) {
        try (Arena arena = Arena.ofConfined()) {
            HfModelLoader.load(folder, arena);
        }
    }
}
