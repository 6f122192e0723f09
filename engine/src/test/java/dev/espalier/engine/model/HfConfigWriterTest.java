package dev.espalier.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.kernels.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfConfigWriterTest {
    private static final Path SOURCE = Path.of("written/config.json");

    @Test
    void writesAUniformConfigWithoutExtensionsAndReadsItBack(@TempDir Path tmp) {
        Path file = tmp.resolve("config.json");
        HfConfigWriter.write(HfConfigReaderTest.STORIES, file);
        assertEquals(HfConfigReaderTest.STORIES, HfConfigReader.read(file));
        ObjectNode json = HfConfigWriter.toJson(HfConfigReaderTest.STORIES);
        List<String> keys = new ArrayList<>();
        json.fieldNames().forEachRemaining(keys::add);
        assertFalse(keys.stream().anyMatch(k -> k.startsWith("espalier_")), keys::toString);
        assertEquals(keys.stream().sorted().toList(), keys, "keys sorted as Hugging Face writes them");
        assertEquals("LlamaForCausalLM", json.get("architectures").get(0).textValue());
        assertEquals(1e-5, json.get("rms_norm_eps").doubleValue());
    }

    @Test
    void emitsPerLayerArraysOnlyForDimensionsThatDiffer() {
        LlamaConfig pruned = new LlamaConfig(
                "llama",
                64,
                512,
                8,
                List.of(
                        new LlamaConfig.LayerDims(8, 4, 172),
                        new LlamaConfig.LayerDims(4, 4, 90),
                        new LlamaConfig.LayerDims(8, 4, 3)),
                512,
                1e-5f,
                10000.0,
                new LlamaConfig.RopeScaling(8, 1, 4, 128),
                false,
                false,
                true,
                true,
                0,
                -1,
                2,
                DType.BF16);
        ObjectNode json = HfConfigWriter.toJson(pruned);
        assertTrue(json.has("espalier_num_attention_heads"));
        assertFalse(json.has("espalier_num_key_value_heads"));
        assertTrue(json.has("espalier_intermediate_sizes"));
        assertEquals(8, json.get("num_attention_heads").intValue());
        assertEquals(172, json.get("intermediate_size").intValue());
        assertTrue(json.get("bos_token_id").isNull());
        assertEquals(pruned, reparse(json));
    }

    @Test
    void roundTripsBiasesAndWindowsEachModelTypeCannotSayByItself() {
        List<LlamaConfig> configs = List.of(
                new LlamaConfig(
                        "qwen2",
                        896,
                        1000,
                        64,
                        List.of(new LlamaConfig.LayerDims(14, 2, 4864)),
                        32768,
                        1e-6f,
                        1e6,
                        null,
                        true,
                        true,
                        true,
                        true,
                        0,
                        -1,
                        -1,
                        DType.BF16),
                new LlamaConfig(
                        "qwen2",
                        896,
                        1000,
                        64,
                        List.of(new LlamaConfig.LayerDims(14, 2, 4864)),
                        32768,
                        1e-6f,
                        1e6,
                        null,
                        true,
                        false,
                        false,
                        false,
                        4096,
                        1,
                        2,
                        DType.F32),
                new LlamaConfig(
                        "mistral",
                        128,
                        1000,
                        32,
                        List.of(new LlamaConfig.LayerDims(4, 1, 300)),
                        4096,
                        1e-5f,
                        1e6,
                        null,
                        false,
                        false,
                        false,
                        true,
                        4096,
                        1,
                        2,
                        DType.F16),
                new LlamaConfig(
                        "mistral",
                        128,
                        1000,
                        32,
                        List.of(new LlamaConfig.LayerDims(4, 1, 300)),
                        4096,
                        1e-5f,
                        1e6,
                        null,
                        false,
                        true,
                        false,
                        false,
                        0,
                        1,
                        2,
                        DType.F32),
                new LlamaConfig(
                        "llama",
                        128,
                        1000,
                        32,
                        List.of(new LlamaConfig.LayerDims(4, 1, 300)),
                        4096,
                        1e-5f,
                        1e4,
                        null,
                        false,
                        false,
                        true,
                        false,
                        0,
                        1,
                        2,
                        DType.F32));
        for (LlamaConfig c : configs) {
            assertEquals(c, reparse(HfConfigWriter.toJson(c)), c::toString);
        }
        ObjectNode qwen = HfConfigWriter.toJson(configs.get(0));
        assertEquals(true, qwen.get(HfArchitectures.ATTENTION_OUTPUT_BIAS).booleanValue());
        assertFalse(qwen.has(HfArchitectures.ATTENTION_BIAS), "qwen2 implies q/k/v biases");
    }

    private static LlamaConfig reparse(ObjectNode json) {
        return HfConfigReader.parse(ModelJson.parseObject(SOURCE, ModelJson.toPrettyBytes(json), "config"), SOURCE);
    }
}
