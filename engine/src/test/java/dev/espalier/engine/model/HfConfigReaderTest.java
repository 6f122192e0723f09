package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.kernels.DType;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfConfigReaderTest {
    private static final Path SOURCE = Path.of("/models/x/config.json");

    static final LlamaConfig STORIES = new LlamaConfig(
            "llama",
            64,
            512,
            8,
            Collections.nCopies(5, new LlamaConfig.LayerDims(8, 4, 172)),
            512,
            1e-5f,
            10000.0,
            null,
            true,
            false,
            false,
            false,
            0,
            1,
            2,
            DType.F32);

    @Test
    void readsTheStories260KConfig() {
        assertEquals(STORIES, HfConfigReader.read(SharedFiles.storiesHf().resolve("config.json")));
        LlamaConfig bf16 = HfConfigReader.read(SharedFiles.storiesHfBf16().resolve("config.json"));
        assertEquals(DType.BF16, bf16.torchDtype());
    }

    @Test
    void appliesHuggingFaceDefaultsForLlama() {
        LlamaConfig c = parse("{\"model_type\":\"llama\",\"hidden_size\":4096,\"intermediate_size\":11008,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":32,\"vocab_size\":32000}");
        assertEquals(
                new LlamaConfig(
                        "llama",
                        4096,
                        32000,
                        128,
                        Collections.nCopies(2, new LlamaConfig.LayerDims(32, 32, 11008)),
                        2048,
                        1e-6f,
                        10000.0,
                        null,
                        false,
                        false,
                        false,
                        false,
                        0,
                        1,
                        2,
                        DType.F32),
                c);
    }

    @Test
    void readsLlama3WithRopeScalingBiasesAndAnEosList() {
        LlamaConfig c = parse(
                "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":4096,"
                        + "\"intermediate_size\":14336,\"num_hidden_layers\":1,\"num_attention_heads\":32,\"num_key_value_heads\":8,"
                        + "\"head_dim\":128,\"vocab_size\":128256,\"max_position_embeddings\":131072,\"rms_norm_eps\":1e-05,"
                        + "\"rope_theta\":500000.0,\"rope_scaling\":{\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                        + "\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"},\"attention_bias\":true,\"mlp_bias\":true,"
                        + "\"tie_word_embeddings\":false,\"bos_token_id\":128000,\"eos_token_id\":[128001,128008,128009],\"torch_dtype\":\"bfloat16\"}");
        assertEquals(new LlamaConfig.RopeScaling(8.0, 1.0, 4.0, 8192), c.ropeScaling());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(List.of(new LlamaConfig.LayerDims(32, 8, 14336)), c.layers());
        assertTrue(c.attentionBias() && c.attentionOutputBias() && c.mlpBias());
        assertEquals(128000, c.bosTokenId());
        assertEquals(128001, c.eosTokenId());
        assertEquals(DType.BF16, c.torchDtype());
    }

    @Test
    void acceptsTheOlderTypeKeyAndTransformers5RopeParameters() {
        String dims = "\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                + "\"num_attention_heads\":4,\"vocab_size\":10,";
        LlamaConfig old = parse("{" + dims + "\"rope_scaling\":{\"type\":\"llama3\",\"factor\":2,\"low_freq_factor\":1,"
                + "\"high_freq_factor\":4,\"original_max_position_embeddings\":64}}");
        assertEquals(new LlamaConfig.RopeScaling(2, 1, 4, 64), old.ropeScaling());
        LlamaConfig v5 = parse("{" + dims
                + "\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":250000.0},\"dtype\":\"float16\"}");
        assertNull(v5.ropeScaling());
        assertEquals(250000.0, v5.ropeTheta());
        assertEquals(DType.F16, v5.torchDtype());
    }

    @Test
    void refusesOtherRopeTypesNamingThem() {
        assertModelError(
                SOURCE,
                () -> parse(
                        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":8,"
                                + "\"num_hidden_layers\":1,\"num_attention_heads\":4,\"vocab_size\":10,\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}"),
                "rope_scaling type 'yarn' is not supported");
    }

    @Test
    void readsMistralWithItsSlidingWindow() {
        String base =
                "\"architectures\":[\"MistralForCausalLM\"],\"model_type\":\"mistral\",\"hidden_size\":4096,\"intermediate_size\":14336,"
                        + "\"num_hidden_layers\":1,\"num_attention_heads\":32,\"num_key_value_heads\":8,\"vocab_size\":32000";
        LlamaConfig v01 = parse("{" + base + ",\"sliding_window\":4096,\"attention_bias\":true}");
        assertEquals(4096, v01.slidingWindow());
        assertEquals(131072, v01.maxPositionEmbeddings());
        assertTrue(
                !v01.attentionBias() && !v01.attentionOutputBias() && !v01.mlpBias(),
                "mistral has no biases whatever the config says");
        assertEquals(0, parse("{" + base + ",\"sliding_window\":null}").slidingWindow());
        assertEquals(4096, parse("{" + base + "}").slidingWindow(), "Hugging Face's MistralConfig default");
    }

    @Test
    void readsQwen2WithQkvBiasesOnly() {
        String base =
                "\"architectures\":[\"Qwen2ForCausalLM\"],\"model_type\":\"qwen2\",\"hidden_size\":896,\"intermediate_size\":4864,"
                        + "\"num_hidden_layers\":24,\"num_attention_heads\":14,\"num_key_value_heads\":2,\"vocab_size\":151936,"
                        + "\"max_position_embeddings\":32768,\"rope_theta\":1000000.0,\"tie_word_embeddings\":true,"
                        + "\"bos_token_id\":151643,\"eos_token_id\":151645";
        LlamaConfig c =
                parse("{" + base + ",\"sliding_window\":32768,\"max_window_layers\":21,\"use_sliding_window\":false}");
        assertTrue(c.attentionBias());
        assertTrue(!c.attentionOutputBias() && !c.mlpBias());
        assertEquals(0, c.slidingWindow());
        assertEquals(64, c.headDim());
        assertEquals(151645, c.eosTokenId());
        assertEquals(
                4096,
                parse("{" + base + ",\"use_sliding_window\":true,\"sliding_window\":4096,\"max_window_layers\":0}")
                        .slidingWindow());
        assertModelError(
                SOURCE,
                () -> parse("{" + base + ",\"use_sliding_window\":true,\"max_window_layers\":21}"),
                "max_window_layers 21 of 24 layers mixes sliding and full attention");
    }

    @Test
    void appliesThePerLayerExtensionArrays() {
        LlamaConfig c = parse(
                "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,\"num_hidden_layers\":3,"
                        + "\"num_attention_heads\":8,\"num_key_value_heads\":4,\"head_dim\":8,\"vocab_size\":512,"
                        + "\"espalier_num_attention_heads\":[8,4,0],\"espalier_num_key_value_heads\":[4,2,0],\"espalier_intermediate_sizes\":[172,100,3]}");
        assertEquals(
                List.of(
                        new LlamaConfig.LayerDims(8, 4, 172),
                        new LlamaConfig.LayerDims(4, 2, 100),
                        new LlamaConfig.LayerDims(0, 0, 3)),
                c.layers());
        assertModelError(
                SOURCE,
                () -> parse(
                        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,\"num_hidden_layers\":3,"
                                + "\"num_attention_heads\":8,\"vocab_size\":512,\"espalier_intermediate_sizes\":[1,2]}"),
                "espalier_intermediate_sizes must be an array of 3 integers (one per layer)");
        assertModelError(
                SOURCE,
                () -> parse(
                        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,\"num_hidden_layers\":2,"
                                + "\"num_attention_heads\":8,\"vocab_size\":512,\"espalier_num_key_value_heads\":[8,3]}"),
                "layer 1: 8 query heads cannot be shared by 3 key/value heads");
    }

    @Test
    void acceptsZeroHeadsInEveryLayerOnlyWithAnExplicitHeadDim() {
        String base = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,\"num_hidden_layers\":2,"
                + "\"num_attention_heads\":0,\"num_key_value_heads\":0,\"vocab_size\":512";
        assertEquals(
                Collections.nCopies(2, new LlamaConfig.LayerDims(0, 0, 172)),
                parse(base + ",\"head_dim\":8}").layers());
        assertModelError(SOURCE, () -> parse(base + "}"), "num_attention_heads is 0 and head_dim is missing");
    }

    @Test
    void refusesUnknownModelTypesAndArchitectures() {
        assertModelError(
                SOURCE,
                () -> parse("{\"model_type\":\"gpt2\",\"hidden_size\":64}"),
                "unsupported model_type 'gpt2' (supported: llama, mistral, qwen2)");
        assertModelError(
                SOURCE,
                () -> parse("{\"architectures\":[\"LlamaForSequenceClassification\"],\"model_type\":\"llama\"}"),
                "unsupported architecture \"LlamaForSequenceClassification\" (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
        assertModelError(SOURCE, () -> parse("{\"hidden_size\":64}"), "has no model_type");
    }

    @Test
    void refusesMissingOrMistypedFields() {
        assertModelError(
                SOURCE, () -> parse("{\"model_type\":\"llama\",\"hidden_size\":64}"), "num_attention_heads is missing");
        assertModelError(
                SOURCE,
                () -> parse("{\"model_type\":\"llama\",\"hidden_size\":\"64\"}"),
                "hidden_size is \"64\", expected an integer");
        assertModelError(
                SOURCE,
                () -> parse(
                        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                                + "\"num_attention_heads\":4,\"vocab_size\":10,\"hidden_act\":\"gelu\"}"),
                "hidden_act 'gelu' is not supported");
        assertModelError(
                SOURCE,
                () -> parse(
                        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                                + "\"num_attention_heads\":4,\"vocab_size\":10,\"torch_dtype\":\"int8\"}"),
                "torch_dtype 'int8' is not supported");
    }

    @Test
    void namesAConfigFileThatIsNotJson(@TempDir Path tmp) {
        Path f = BrokenFiles.write(tmp.resolve("config.json"), "{\"model_type\": llama}".getBytes());
        assertModelError(f, () -> HfConfigReader.read(f), "config is not valid JSON");
    }

    private static LlamaConfig parse(String json) {
        return HfConfigReader.parse(ModelJson.parseObject(SOURCE, json.getBytes(), "config"), SOURCE);
    }
}
