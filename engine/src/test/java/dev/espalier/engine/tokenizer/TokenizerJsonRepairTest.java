package dev.espalier.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.model.ModelFormatException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class TokenizerJsonRepairTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path FILE = Path.of("tokenizer.json");

    private static ObjectNode tree(String json) throws Exception {
        return (ObjectNode) JSON.readTree(json.replace('\'', '"'));
    }

    @Test
    void wellFormedFilesAreLeftAlone() throws Exception {
        ObjectNode t = tree("{'model': {'type': 'BPE', 'vocab': {'a': 0, 'b': 1, 'ab': 2}, 'merges': ['a b']}}");
        String before = t.toString();
        assertEquals(List.of(), TokenizerJsonRepair.repair(FILE, t));
        assertEquals(before, t.toString());
    }

    @Test
    void missingTypeIsInferredAsTheLibrariesDo() throws Exception {
        assertEquals("Unigram", inferred("{'model': {'vocab': [['a', -1.0]]}}"));
        assertEquals("WordPiece", inferred("{'model': {'vocab': {'a': 0}, 'max_input_chars_per_word': 100}}"));
        assertEquals("WordLevel", inferred("{'model': {'vocab': {'a': 0}}}"));
        assertEquals("BPE", inferred("{'model': {'vocab': {'a': 0}, 'merges': []}}"));
    }

    private static String inferred(String json) throws Exception {
        ObjectNode t = tree(json);
        TokenizerJsonRepair.repair(FILE, t);
        return t.path("model").path("type").asText();
    }

    @Test
    void mergesAreResplitOrDroppedAndAllWrittenAsPairs() throws Exception {
        ObjectNode t = tree("{'model': {'type': 'BPE', 'vocab': {'a': 0, ' ': 1, 'a ': 2, 'b': 3, 'ab': 4},"
                + " 'merges': ['a b', 'a  ', 'b b']}}");
        assertEquals(
                List.of(
                        "merge 1 \"a  \" read as [\"a\", \" \"]",
                        "merge 2 \"b b\" dropped: \"bb\" or a half is not in the vocabulary"),
                TokenizerJsonRepair.repair(FILE, t));
        assertEquals(
                "[[\"a\",\"b\"],[\"a\",\" \"]]", t.path("model").path("merges").toString());
    }

    @Test
    void aMergeWithNoUniqueSplitIsAnError() throws Exception {
        ObjectNode t = tree("{'model': {'type': 'BPE', 'vocab': {' ': 0, '  ': 1, '   ': 2, '    ': 3},"
                + " 'merges': ['     ']}}"); // 1+3, 2+2 and 3+1 spaces all make "    "
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerJsonRepair.repair(FILE, t));
        assertEquals(
                FILE + ": merge 0 \"     \" does not split into two vocabulary tokens at exactly one space",
                e.getMessage());
    }
}
