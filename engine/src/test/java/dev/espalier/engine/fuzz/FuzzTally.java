package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.espalier.engine.data.DataFormatException;
import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Runs fuzz cases of one format and counts how each ended: a result, or one of the documented refusals
 * (ModelFormatException, DataFormatException, IllegalArgumentException) whose message is one line and names the file.
 * Anything else fails the test with the case's seed, so that one case can be replayed.
 */
final class FuzzTally {
    /** One fuzz case; returns normally when the input was accepted. */
    interface Case {
        void run() throws Exception;
    }

    private final String format;
    private final Map<String, Integer> outcomes = new TreeMap<>();
    private final Set<Path> workingDirectory = listing(); // a case that writes beside the module shows up here
    private int cases;

    FuzzTally(String format) {
        this.format = format;
    }

    /** Runs {@code action} on a case derived from {@code seed}; {@code named} must appear in a refusal (null: no file). */
    void run(long seed, Path named, Case action) {
        cases++;
        try {
            action.run();
            count("ok");
        } catch (ModelFormatException | DataFormatException | IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage());
            if (m.indexOf('\n') >= 0 || m.indexOf('\r') >= 0) {
                fail(format + " case seed " + seed + ": message is not one line: " + m);
            }
            if (named != null && !m.contains(named.toString())) {
                fail(format + " case seed " + seed + ": message does not name " + named + ": " + m);
            }
            count("refused " + e.getClass().getSimpleName());
        } catch (Throwable t) {
            throw new AssertionError(format + " case seed " + seed + " ended in " + t, t);
        }
    }

    int cases() {
        return cases;
    }

    /** "safetensors: 150 cases: ok 12, refused ModelFormatException 138"; fails when a case wrote into the working directory. */
    String summary() {
        assertEquals(workingDirectory, listing(), format + ": a case wrote into the working directory");
        StringJoiner j = new StringJoiner(", ", format + ": " + cases + " cases: ", "");
        outcomes.forEach((k, v) -> j.add(k + " " + v));
        return j.toString();
    }

    private static Set<Path> listing() {
        try (Stream<Path> files = Files.list(Path.of(""))) {
            return files.collect(Collectors.toSet());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void count(String outcome) {
        outcomes.merge(outcome, 1, Integer::sum);
    }
}
