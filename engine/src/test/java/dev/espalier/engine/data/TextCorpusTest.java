package dev.espalier.engine.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextCorpusTest {
    @TempDir
    Path tmp;

    @Test
    void joinsTheTextFieldsOfJsonLines() throws Exception {
        Path f = Files.writeString(
                tmp.resolve("c4.jsonl"), "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"url\": \"u\"}\n");
        assertEquals("one\n\ntwo", TextCorpus.read(f));
    }

    @Test
    void refusesTrailingContentAfterALinesJsonInsteadOfDroppingIt() throws Exception { // found by TextCorpusFuzzTest
        Path f = Files.writeString(tmp.resolve("c4.jsonl"), "{\"text\": \"a\"} trailing\n");
        assertEquals(
                f + ": line 1 is not valid JSON",
                assertThrows(DataFormatException.class, () -> TextCorpus.read(f))
                        .getMessage());
    }

    @Test
    void refusesADuplicateTextKey() throws Exception { // found by TextCorpusFuzzTest: the last one silently won
        Path f = Files.writeString(tmp.resolve("c4.jsonl"), "{\"text\": \"a\", \"text\": \"b\"}\n");
        assertEquals(
                f + ": line 1 is not valid JSON",
                assertThrows(DataFormatException.class, () -> TextCorpus.read(f))
                        .getMessage());
    }
}
