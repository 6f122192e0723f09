package dev.espalier.engine.eval.zeroshot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.espalier.engine.data.DataFormatException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/** Reads a JSON-lines task file, one object a line (blank lines skipped); every error names the file and the line. */
final class JsonLinesReader {
    /** Trailing content on a line and duplicate keys are errors, not silently dropped. */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private JsonLinesReader() {}

    /** Parses every line of {@code file} with {@code parser}; a file without any item is an error. */
    static <T> List<T> read(Path file, Function<JsonLine, T> parser) {
        List<T> items = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String text;
            int line = 0;
            while ((text = reader.readLine()) != null) {
                line++;
                if (!text.isBlank()) {
                    items.add(parser.apply(new JsonLine(file, line, parse(file, line, text))));
                }
            }
        } catch (NoSuchFileException e) {
            throw new DataFormatException(file, "no such file");
        } catch (MalformedInputException e) {
            throw new DataFormatException(file, "is not UTF-8 text");
        } catch (IOException | UncheckedIOException e) {
            throw new DataFormatException(file, "cannot be read (" + e.getMessage() + ")");
        }
        if (items.isEmpty()) {
            throw new DataFormatException(file, "contains no items (expected one JSON object a line)");
        }
        return items;
    }

    /** The first object of {@code file}, to tell its format. */
    static JsonLine first(Path file) {
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String text;
            int line = 0;
            while ((text = reader.readLine()) != null) {
                line++;
                if (!text.isBlank()) {
                    return new JsonLine(file, line, parse(file, line, text));
                }
            }
        } catch (NoSuchFileException e) {
            throw new DataFormatException(file, "no such file");
        } catch (MalformedInputException e) {
            throw new DataFormatException(file, "is not UTF-8 text");
        } catch (IOException e) {
            throw new DataFormatException(file, "cannot be read (" + e.getMessage() + ")");
        }
        throw new DataFormatException(file, "contains no items (expected one JSON object a line)");
    }

    private static JsonNode parse(Path file, int line, String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new DataFormatException(file, "line " + line + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (!node.isObject()) {
            throw new DataFormatException(
                    file,
                    "line " + line + ": expected a JSON object, got "
                            + node.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        return node;
    }
}
