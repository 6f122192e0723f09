package dev.espalier.engine.data;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads evaluation and calibration text: a plain UTF-8 text file as one string (e.g. the TinyStories sample; calibration
 * sequences are then drawn from its token stream as from any other text), or JSON lines (".jsonl", ".json") whose
 * "text" fields are joined with blank lines (the C4 sample's format). With a {@link TextRange}, only the lines it
 * selects are read (for JSON lines: those records), cut at line starts so that no line is split.
 */
public final class TextCorpus {
    /** One JSON value per line: trailing content ({"text": "a"} b) and duplicate keys are errors, not silently dropped. */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private TextCorpus() {}

    /**
     * The text of the lines of {@code file} that {@code range} selects ({@link TextRange}); the whole file when
     * {@code range} is null (exactly {@link #read(Path)}). Throws {@link DataFormatException} naming the file and the
     * range when it is missing, malformed, when the range does not fit it or when the selected lines hold no text.
     */
    public static String read(Path file, TextRange range) {
        if (range == null) {
            return read(file);
        }
        String text;
        try {
            byte[] content = Files.readAllBytes(file);
            TextRange.Span span = range.select(content);
            String selected = StandardCharsets.UTF_8
                    .newDecoder()
                    .decode(ByteBuffer.wrap(content, (int) span.from(), (int) (span.to() - span.from())))
                    .toString();
            text = isJsonLines(file) ? readJsonLines(file, new BufferedReader(new StringReader(selected))) : selected;
        } catch (IllegalArgumentException e) {
            throw new DataFormatException(file, e.getMessage());
        } catch (NoSuchFileException e) {
            throw new DataFormatException(file, "no such file");
        } catch (CharacterCodingException e) {
            throw new DataFormatException(file, "is not UTF-8 text");
        } catch (IOException e) {
            throw new DataFormatException(file, "cannot be read (" + e.getMessage() + ")");
        }
        if (text.isBlank()) {
            throw new DataFormatException(file, range.option() + " '" + range.text() + "' selects no text");
        }
        return text;
    }

    /** The text of {@code file}; throws {@link DataFormatException} naming the file when it is missing, malformed or empty. */
    public static String read(Path file) {
        String text;
        try {
            text = isJsonLines(file) ? readJsonLines(file) : Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new DataFormatException(file, "no such file");
        } catch (MalformedInputException e) {
            throw new DataFormatException(file, "is not UTF-8 text");
        } catch (IOException e) {
            throw new DataFormatException(file, "cannot be read (" + e.getMessage() + ")");
        }
        if (text.isBlank()) {
            throw new DataFormatException(file, "contains no text");
        }
        return text;
    }

    private static boolean isJsonLines(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".jsonl") || name.endsWith(".json");
    }

    private static String readJsonLines(Path file) throws IOException {
        return readJsonLines(file, Files.newBufferedReader(file, StandardCharsets.UTF_8));
    }

    /** The "text" fields of the lines of {@code lines} (closed here), line numbers counted from its first line. */
    private static String readJsonLines(Path file, BufferedReader lines) throws IOException {
        StringBuilder out = new StringBuilder();
        try (BufferedReader reader = lines) {
            String line;
            int lineNumber = 0;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (IOException e) {
                    throw new DataFormatException(file, "line " + lineNumber + " is not valid JSON");
                }
                JsonNode textNode = node.get("text");
                if (textNode == null || !textNode.isTextual()) {
                    throw new DataFormatException(file, "line " + lineNumber + " has no string field \"text\"");
                }
                if (!out.isEmpty()) {
                    out.append("\n\n");
                }
                out.append(textNode.asText());
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return out.toString();
    }
}
