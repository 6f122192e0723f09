package dev.espalier.engine.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a Hugging Face tokenizer's files say about its vocabulary and BOS/EOS, read from {@code tokenizer.json} and,
 * beside it, {@code tokenizer_config.json}, {@code special_tokens_map.json} and the model's {@code config.json}.
 *
 * @param vocabSize       1 + the largest id in {@code model.vocab} and {@code added_tokens}
 * @param bosId           BOS id: the {@code bos_token} of tokenizer_config.json, else of special_tokens_map.json,
 *                        looked up in added_tokens then model.vocab; else config.json's {@code bos_token_id}; else -1
 * @param eosId           EOS id, found the same way; -1 when none is named
 * @param addsBosByDefault {@code add_bos_token} of tokenizer_config.json when present; otherwise whether the
 *                        post-processor's single-sequence template starts with the BOS token (what
 *                        {@code add_special_tokens=true} would do)
 */
record HuggingFaceTokenizerConfig(int vocabSize, int bosId, int eosId, boolean addsBosByDefault) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads the configuration files beside {@code tokenizerJson}, whose parsed content is {@code tokenizer}. */
    static HuggingFaceTokenizerConfig of(Path tokenizerJson, JsonNode tokenizer) {
        Path dir = tokenizerJson.toAbsolutePath().getParent();
        JsonNode tokenizerConfig = readJson(dir.resolve("tokenizer_config.json"));
        JsonNode specialTokens = readJson(dir.resolve("special_tokens_map.json"));
        JsonNode modelConfig = readJson(dir.resolve("config.json"));

        String bos = tokenName(tokenizerConfig, specialTokens, "bos_token");
        String eos = tokenName(tokenizerConfig, specialTokens, "eos_token");
        int bosId = resolve(tokenizer, bos, modelConfig, "bos_token_id");
        int eosId = resolve(tokenizer, eos, modelConfig, "eos_token_id");
        boolean addsBos;
        JsonNode flag = tokenizerConfig == null ? null : tokenizerConfig.get("add_bos_token");
        if (flag != null && flag.isBoolean()) {
            addsBos = flag.asBoolean() && bosId >= 0;
        } else {
            addsBos = bosId >= 0 && templateStartsWith(tokenizer.path("post_processor"), bos, bosId);
        }
        return new HuggingFaceTokenizerConfig(vocabSize(tokenizer), bosId, eosId, addsBos);
    }

    private static int vocabSize(JsonNode tokenizer) {
        int max = -1;
        JsonNode vocab = tokenizer.path("model").path("vocab");
        if (vocab.isObject()) {
            for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
                max = Math.max(max, id.asInt());
            }
        } else if (vocab.isArray()) {
            max = vocab.size() - 1; // Unigram: [[piece, score], ...]
        }
        for (JsonNode added : tokenizer.path("added_tokens")) {
            max = Math.max(max, added.path("id").asInt(-1));
        }
        return max + 1;
    }

    /** The token's text from tokenizer_config.json, else special_tokens_map.json; a string or {"content": ...}. */
    private static String tokenName(JsonNode tokenizerConfig, JsonNode specialTokens, String key) {
        for (JsonNode source : new JsonNode[] {tokenizerConfig, specialTokens}) {
            JsonNode value = source == null ? null : source.get(key);
            if (value != null && value.isTextual()) {
                return value.asText();
            }
            if (value != null && value.path("content").isTextual()) {
                return value.path("content").asText();
            }
        }
        return null;
    }

    private static int resolve(JsonNode tokenizer, String token, JsonNode modelConfig, String idKey) {
        if (token != null) {
            for (JsonNode added : tokenizer.path("added_tokens")) {
                if (token.equals(added.path("content").asText(null))) {
                    return added.path("id").asInt();
                }
            }
            JsonNode id = tokenizer.path("model").path("vocab").get(token);
            if (id != null && id.canConvertToInt()) {
                return id.asInt();
            }
        }
        JsonNode id = modelConfig == null ? null : modelConfig.get(idKey);
        if (id != null && id.isArray() && !id.isEmpty()) {
            id = id.get(0);
        }
        return id != null && id.canConvertToInt() ? id.asInt() : -1;
    }

    /** Whether a TemplateProcessing (alone or inside a Sequence) puts the BOS token first in a single sequence. */
    private static boolean templateStartsWith(JsonNode processor, String bos, int bosId) {
        String type = processor.path("type").asText("");
        if (type.equals("Sequence")) {
            for (JsonNode p : processor.path("processors")) {
                if (templateStartsWith(p, bos, bosId)) {
                    return true;
                }
            }
            return false;
        }
        if (!type.equals("TemplateProcessing")) {
            return false;
        }
        JsonNode first = processor.path("single").path(0).path("SpecialToken");
        if (!first.isObject()) {
            return false;
        }
        String name = first.path("id").asText();
        if (name.equals(bos)) {
            return true;
        }
        JsonNode ids = processor.path("special_tokens").path(name).path("ids");
        return ids.size() == 1 && ids.get(0).asInt() == bosId;
    }

    /** The parsed file, or null when it does not exist; malformed JSON is an error naming the file. */
    static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null
                    ? ""
                    : " at line " + e.getLocation().getLineNr() + " column "
                            + e.getLocation().getColumnNr();
            throw new ModelFormatException(
                    file,
                    "not valid JSON" + where + ": "
                            + e.getOriginalMessage().lines().findFirst().orElse(""),
                    e);
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot read: " + e, e);
        }
    }
}
