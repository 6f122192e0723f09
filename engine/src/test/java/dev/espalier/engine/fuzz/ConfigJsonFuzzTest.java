package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutated config.json files (wrong types, missing keys, zero/negative/huge values, wrong nesting) beside the real weights. */
class ConfigJsonFuzzTest {
    private static final int CASES = 150;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> EXTRA_KEYS = List.of(
            "head_dim",
            "rope_scaling",
            "rope_parameters",
            "sliding_window",
            "espalier_num_attention_heads",
            "espalier_num_key_value_heads",
            "espalier_intermediate_sizes",
            "espalier_attention_bias",
            "use_sliding_window",
            "max_window_layers",
            "dtype");

    @TempDir
    Path tmp;

    @Test
    void everyMutatedConfigLoadsOrIsRefusedNamingIt() throws Exception {
        Path folder = SharedFiles.storiesHf();
        byte[] original = Mutate.read(folder.resolve("config.json"));
        ObjectNode config = (ObjectNode) JSON.readTree(original);
        FuzzTally tally = new FuzzTally("config.json");
        assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () -> {
                    for (int i = 0; i < CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 1000 + i;
                        Path dir = tmp.resolve("case" + i);
                        Path file =
                                Mutate.write(dir.resolve("config.json"), mutate(new Random(seed), config, original));
                        Files.createSymbolicLink(
                                dir.resolve("model.safetensors"),
                                folder.resolve("model.safetensors").toAbsolutePath());
                        tally.run(seed, dir, () -> {
                            try (Arena arena = Arena.ofConfined()) { // closing the model would close the arena twice
                                LlamaModel model = ModelLoader.load(dir, arena);
                                assertTrue(model.config().parameterCount() > 0);
                            }
                        });
                        FuzzFiles.deleteTree(dir);
                    }
                },
                () -> "config.json fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CASES);
    }

    private static byte[] mutate(Random r, ObjectNode original, byte[] text) throws Exception {
        if (r.nextInt(10) == 0) {
            return Mutate.bytes(r, text);
        }
        ObjectNode c = original.deepCopy();
        int edits = 1 + r.nextInt(3);
        for (int e = 0; e < edits; e++) {
            List<String> keys = new ArrayList<>(Mutate.names(c));
            keys.addAll(EXTRA_KEYS);
            String key = Mutate.pick(r, keys);
            switch (r.nextInt(4)) {
                case 0 -> c.remove(key);
                case 1 -> c.set(key, Mutate.value(r, 0));
                case 2 -> c.put(key, Mutate.interestingInt(r));
                default -> c.set(Mutate.pick(r, List.of("rope_scaling", "rope_parameters")), ropeScaling(r));
            }
        }
        return JSON.writeValueAsBytes(c);
    }

    private static ObjectNode ropeScaling(Random r) {
        ObjectNode o = JSON.createObjectNode();
        o.put(r.nextBoolean() ? "rope_type" : "type", Mutate.pick(r, List.of("llama3", "default", "linear", "")));
        for (String k : List.of(
                "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings", "rope_theta")) {
            if (r.nextInt(5) > 0) {
                o.set(
                        k,
                        r.nextBoolean()
                                ? Mutate.value(r, 2)
                                : JSON.getNodeFactory().numberNode(r.nextInt(10)));
            }
        }
        return o;
    }
}
