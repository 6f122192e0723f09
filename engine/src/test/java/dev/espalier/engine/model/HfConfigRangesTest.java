package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every config.json value outside its meaning is refused, naming the key, the value and the allowed range. */
class HfConfigRangesTest {
    private static final Path SOURCE = Path.of("/models/x/config.json");
    private static final String BASE =
            "\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                    + "\"num_attention_heads\":4,\"vocab_size\":10";

    @Test
    void refusesRmsNormEpsOutsideZeroOne() {
        assertModelError(
                SOURCE,
                () -> parse(",\"rms_norm_eps\":-1"),
                "rms_norm_eps is -1.0",
                "expected a finite number in (0, 1)");
        assertModelError(SOURCE, () -> parse(",\"rms_norm_eps\":0"), "rms_norm_eps is 0.0");
        assertModelError(SOURCE, () -> parse(",\"rms_norm_eps\":1e-60"), "rms_norm_eps is 1.0E-60"); // 0 as a float
        assertModelError(SOURCE, () -> parse(",\"rms_norm_eps\":1e400"), "rms_norm_eps is Infinity");
    }

    @Test
    void refusesRopeThetaThatIsNotFiniteAndPositive() {
        assertModelError(SOURCE, () -> parse(",\"rope_theta\":0"), "rope_theta is 0.0", "expected a finite number > 0");
        assertModelError(SOURCE, () -> parse(",\"rope_theta\":-10000"), "rope_theta is -10000.0");
        assertModelError(
                SOURCE,
                () -> parse(",\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":1e999}"),
                "rope_parameters.rope_theta is Infinity");
    }

    @Test
    void refusesHeadCountsThatDoNotDivide() {
        assertModelError(
                SOURCE,
                () -> parse(",\"num_key_value_heads\":3"),
                "num_attention_heads 4 is not divisible by num_key_value_heads 3");
        assertModelError(
                SOURCE,
                () -> parseWhole("{\"model_type\":\"llama\",\"hidden_size\":65,\"intermediate_size\":8,"
                        + "\"num_hidden_layers\":1,\"num_attention_heads\":4,\"vocab_size\":10}"),
                "hidden_size 65 is not divisible by num_attention_heads 4");
        assertModelError(SOURCE, () -> parse(",\"head_dim\":7"), "head_dim is 7, expected an even integer");
        assertModelError(
                SOURCE,
                () -> parse(",\"head_dim\":1073741824"),
                "num_attention_heads 4 x head_dim 1073741824 is too large");
    }

    @Test
    void refusesBadVocabAndTokenIds() {
        assertModelError(
                SOURCE,
                () -> parseWhole("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":8,"
                        + "\"num_hidden_layers\":1,\"num_attention_heads\":4,\"vocab_size\":0}"),
                "vocab_size is 0, expected a positive integer");
        assertModelError(
                SOURCE,
                () -> parse(",\"eos_token_id\":10"),
                "eos_token_id is 10, expected a token id in [0, vocab_size 10)");
        assertModelError(SOURCE, () -> parse(",\"bos_token_id\":-2"), "bos_token_id is -2");
    }

    @Test
    void refusesInvalidRopeScaling() {
        String llama3 = ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"original_max_position_embeddings\":64,";
        assertModelError(
                SOURCE,
                () -> parse(llama3 + "\"factor\":0.5,\"low_freq_factor\":1,\"high_freq_factor\":4}"),
                "rope_scaling.factor is 0.5, expected a finite number >= 1");
        assertModelError(
                SOURCE,
                () -> parse(llama3 + "\"factor\":8,\"low_freq_factor\":0,\"high_freq_factor\":4}"),
                "rope_scaling.low_freq_factor is 0.0, expected a finite number > 0");
        assertModelError(
                SOURCE,
                () -> parse(llama3 + "\"factor\":8,\"low_freq_factor\":4,\"high_freq_factor\":4}"),
                "rope_scaling.high_freq_factor is 4.0, expected a finite number > low_freq_factor 4.0");
        assertModelError(
                SOURCE,
                () -> parse(",\"rope_scaling\":{\"rope_type\":\"llama3\",\"original_max_position_embeddings\":0,"
                        + "\"factor\":8,\"low_freq_factor\":1,\"high_freq_factor\":4}"),
                "rope_scaling.original_max_position_embeddings is 0");
    }

    @Test
    void refusesASlidingWindowBelowOne() {
        String mistral =
                "{\"model_type\":\"mistral\",\"hidden_size\":64,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                        + "\"num_attention_heads\":4,\"vocab_size\":10,";
        assertModelError(
                SOURCE,
                () -> parseWhole(mistral + "\"sliding_window\":0}"),
                "sliding_window is 0, expected a positive integer");
        assertEquals(0, parseWhole(mistral + "\"sliding_window\":null}").slidingWindow());
        String qwen = "{\"model_type\":\"qwen2\",\"hidden_size\":64,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                + "\"num_attention_heads\":4,\"vocab_size\":10,\"use_sliding_window\":true,";
        assertModelError(
                SOURCE,
                () -> parseWhole(qwen + "\"sliding_window\":-5,\"max_window_layers\":0}"),
                "sliding_window is -5");
        assertModelError(
                SOURCE,
                () -> parseWhole(qwen + "\"sliding_window\":16,\"max_window_layers\":-1}"),
                "max_window_layers is -1");
    }

    @Test
    void reportsTheDefaultsItApplied() {
        List<String> defaults = new ArrayList<>();
        HfConfigReader.parse(
                ModelJson.parseObject(SOURCE, ("{" + BASE + ",\"rope_theta\":500000}").getBytes(), "config"),
                SOURCE,
                defaults);
        assertTrue(defaults.contains("rms_norm_eps=1.0E-6"), defaults::toString);
        assertTrue(
                defaults.stream().noneMatch(d -> d.startsWith("num_key_value_heads") || d.startsWith("head_dim")),
                defaults::toString);
        assertTrue(defaults.contains("bos_token_id=1"), defaults::toString);
        assertTrue(defaults.stream().noneMatch(d -> d.startsWith("rope_theta")), defaults::toString);
        List<String> none = new ArrayList<>();
        HfConfigReader.parse(
                ModelJson.parseObject(
                        SOURCE,
                        BrokenFiles.read(
                                dev.espalier.engine.SharedFiles.storiesHf().resolve("config.json")),
                        "config"),
                SOURCE,
                none);
        assertTrue(
                none.stream().noneMatch(d -> d.startsWith("rms_norm_eps") || d.startsWith("rope_theta")),
                none::toString);
    }

    private static LlamaConfig parse(String extra) {
        return parseWhole("{" + BASE + extra + "}");
    }

    private static LlamaConfig parseWhole(String json) {
        return HfConfigReader.parse(ModelJson.parseObject(SOURCE, json.getBytes(), "config"), SOURCE);
    }
}
