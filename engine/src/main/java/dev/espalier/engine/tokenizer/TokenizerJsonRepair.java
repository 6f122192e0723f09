package dev.espalier.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.model.ModelFormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Repairs of {@code tokenizer.json} files found in the wild that the Hugging Face JavaScript libraries accept but the
 * Rust library refuses to load. Each repair leaves the ids of every text that can produce valid ids unchanged:
 * <ul>
 *   <li>a {@code model} without {@code "type"} gets the type the libraries infer (BPE when it has merges, Unigram
 *       when its vocab is a list, WordPiece with {@code max_input_chars_per_word}, else WordLevel);</li>
 *   <li>a BPE merge string with more than one space (spaces that stood for U+00A0 in the original) is split at the
 *       one space where both halves and their concatenation are vocabulary tokens; when no unique such split exists
 *       the file is rejected;</li>
 *   <li>a BPE merge whose halves or result are not vocabulary tokens is dropped (it could only yield an id that does
 *       not exist); the remaining merges keep their order, so their priorities are unchanged.</li>
 * </ul>
 * When merges change, all of them are written as two-element arrays (the library takes one form or the other).
 */
final class TokenizerJsonRepair {
    private TokenizerJsonRepair() {}

    /** Repairs {@code tokenizer} in place and returns one line per repair (empty when none was needed). */
    static List<String> repair(Path file, ObjectNode tokenizer) {
        List<String> repairs = new ArrayList<>();
        JsonNode modelNode = tokenizer.get("model");
        if (!(modelNode instanceof ObjectNode model)) {
            throw new ModelFormatException(file, "no \"model\" object; expected a Hugging Face tokenizer.json");
        }
        if (!model.has("type")) {
            String type = model.has("merges")
                    ? "BPE"
                    : model.path("vocab").isArray()
                            ? "Unigram"
                            : model.has("max_input_chars_per_word") ? "WordPiece" : "WordLevel";
            model.put("type", type);
            repairs.add("model.type was missing; inferred " + type);
        }
        if (model.path("type").asText().equals("BPE") && model.path("merges").isArray()) {
            repairMerges(file, model, repairs);
        }
        return repairs;
    }

    private static void repairMerges(Path file, ObjectNode model, List<String> repairs) {
        JsonNode vocab = model.path("vocab");
        String prefix = model.path("continuing_subword_prefix").isTextual()
                ? model.path("continuing_subword_prefix").asText()
                : null;
        ArrayNode merges = (ArrayNode) model.get("merges");
        ArrayNode repaired = JsonNodeFactory.instance.arrayNode(merges.size());
        boolean changed = false;
        int index = 0;
        for (Iterator<JsonNode> it = merges.elements(); it.hasNext(); index++) {
            JsonNode merge = it.next();
            String[] pair = pair(merge);
            if (pair == null && merge.isTextual()) {
                pair = uniqueSplit(merge.asText(), vocab, prefix);
                if (pair == null) {
                    throw new ModelFormatException(
                            file,
                            "merge " + index + " \"" + merge.asText()
                                    + "\" does not split into two vocabulary tokens at exactly one space");
                }
                repairs.add("merge " + index + " \"" + merge.asText() + "\" read as [\"" + pair[0] + "\", \"" + pair[1]
                        + "\"]");
                repaired.add(JsonNodeFactory.instance.arrayNode().add(pair[0]).add(pair[1]));
                changed = true;
                continue;
            }
            if (pair == null) {
                throw new ModelFormatException(
                        file, "merge " + index + " is " + merge + "; expected \"a b\" or [\"a\", \"b\"]");
            }
            if (!valid(pair[0], pair[1], vocab, prefix)) {
                repairs.add("merge " + index + " " + merge + " dropped: \"" + merged(pair[0], pair[1], prefix)
                        + "\" or a half is not in the vocabulary");
                changed = true;
                continue;
            }
            repaired.add(JsonNodeFactory.instance.arrayNode().add(pair[0]).add(pair[1]));
        }
        if (changed) {
            model.set("merges", repaired);
        }
    }

    /** The two halves of a well-formed merge ("a b" with one space, or a two-string array), else null. */
    private static String[] pair(JsonNode merge) {
        if (merge.isTextual()) {
            String[] parts = merge.asText().split(" ", -1);
            return parts.length == 2 ? parts : null;
        }
        if (merge.isArray()
                && merge.size() == 2
                && merge.get(0).isTextual()
                && merge.get(1).isTextual()) {
            return new String[] {merge.get(0).asText(), merge.get(1).asText()};
        }
        return null;
    }

    private static String[] uniqueSplit(String merge, JsonNode vocab, String prefix) {
        String[] found = null;
        for (int i = merge.indexOf(' '); i >= 0; i = merge.indexOf(' ', i + 1)) {
            String a = merge.substring(0, i);
            String b = merge.substring(i + 1);
            if (!a.isEmpty() && !b.isEmpty() && valid(a, b, vocab, prefix)) {
                if (found != null) {
                    return null;
                }
                found = new String[] {a, b};
            }
        }
        return found;
    }

    private static boolean valid(String a, String b, JsonNode vocab, String prefix) {
        return vocab.has(a) && vocab.has(b) && vocab.has(merged(a, b, prefix));
    }

    /** The token a merge makes: the Rust library strips the continuing-subword prefix from the right half. */
    private static String merged(String a, String b, String prefix) {
        return a + (prefix != null && !prefix.isEmpty() && b.startsWith(prefix) ? b.substring(prefix.length()) : b);
    }
}
