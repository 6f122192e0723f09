package dev.espalier.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.io.OutputFolder.OutputConflictException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputFolderTest {
    @TempDir
    Path tmp;

    /** Every file under {@code root} with its content: what "untouched" means. */
    private static Map<String, String> contents(Path root) throws IOException {
        Map<String, String> sums = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                sums.put(root.relativize(p).toString(), Files.readString(p));
            }
        }
        return sums;
    }

    private Path export(Path out, String job, boolean overwrite, String content) throws IOException {
        Path staging = OutputFolder.prepareStaging(out);
        Files.writeString(staging.resolve("model.safetensors"), content);
        Files.writeString(staging.resolve("config.json"), "{}");
        OutputFolder.commit(staging, out, job, overwrite);
        return out;
    }

    @Test
    void aNewPathIsWrittenWithAMarkerListingItsFiles() throws IOException {
        Path out = export(tmp.resolve("out"), "job-a", false, "weights");
        assertEquals(
                new OutputFolder.Marker("job-a", List.of("config.json", "model.safetensors")),
                OutputFolder.marker(out).orElseThrow());
        assertEquals("weights", Files.readString(out.resolve("model.safetensors")));
        try (Stream<Path> siblings = Files.list(tmp)) {
            assertEquals(
                    List.of("out"),
                    siblings.map(p -> p.getFileName().toString()).toList(),
                    "no staging left behind");
        }
    }

    @Test
    void anExistingFileIsRefusedAndUntouched() throws IOException {
        Path file = Files.writeString(tmp.resolve("eval.txt"), "the user's text");
        OutputConflictException e =
                assertThrows(OutputConflictException.class, () -> OutputFolder.checkReplaceable(file, "job-a", true));
        assertTrue(e.getMessage().contains("is a file") && e.getMessage().contains(file.toString()), e.getMessage());
        assertEquals("the user's text", Files.readString(file));
    }

    @Test
    void aFolderEspalierDidNotWriteIsRefusedEvenWithOverwrite() throws IOException {
        Path home = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(home.resolve("thesis.tex"), "years of work");
        Map<String, String> before = contents(home);
        OutputConflictException e =
                assertThrows(OutputConflictException.class, () -> OutputFolder.checkReplaceable(home, "job-a", true));
        assertTrue(e.getMessage().contains("not an Espalier output"), e.getMessage());
        Path staging = OutputFolder.prepareStaging(home);
        assertThrows(OutputConflictException.class, () -> OutputFolder.commit(staging, home, "job-a", true));
        assertEquals(before, contents(home));
    }

    @Test
    void anotherJobsOutputNeedsOverwriteAndTheSameJobsDoesNot() throws IOException {
        Path out = export(tmp.resolve("out"), "job-a", false, "first");
        Map<String, String> before = contents(out);
        OutputConflictException e =
                assertThrows(OutputConflictException.class, () -> export(out, "job-b", false, "second"));
        assertTrue(e.getMessage().contains("job job-a") && e.getMessage().contains("--overwrite"), e.getMessage());
        assertEquals(before, contents(out));
        export(out, "job-a", false, "again"); // a resumed run exporting once more
        assertEquals("again", Files.readString(out.resolve("model.safetensors")));
        export(out, "job-b", true, "second");
        assertEquals("second", Files.readString(out.resolve("model.safetensors")));
        assertEquals("job-b", OutputFolder.marker(out).orElseThrow().jobId());
    }

    @Test
    void anOutputHoldingTheUsersOwnFilesIsNotReplaced() throws IOException {
        Path out = export(tmp.resolve("out"), "job-a", false, "first");
        Files.writeString(out.resolve("notes.md"), "mine");
        Map<String, String> before = contents(out);
        OutputConflictException e =
                assertThrows(OutputConflictException.class, () -> export(out, "job-b", true, "second"));
        assertTrue(e.getMessage().contains("notes.md"), e.getMessage());
        assertEquals(before, contents(out));
    }

    @Test
    void aStagingFolderEspalierDidNotMakeIsRefusedAndItsOwnIsCleared() throws IOException {
        Path out = tmp.resolve("out");
        Path foreign = Files.createDirectories(tmp.resolve(".out.partial"));
        Files.writeString(foreign.resolve("x"), "someone's");
        assertThrows(OutputConflictException.class, () -> OutputFolder.prepareStaging(out));
        assertEquals("someone's", Files.readString(foreign.resolve("x")));
        Files.delete(foreign.resolve("x"));
        Path staging = OutputFolder.prepareStaging(out);
        Files.writeString(staging.resolve("half-written"), "…");
        Path again = OutputFolder.prepareStaging(out); // an interrupted export's staging is Espalier's: cleared
        assertFalse(Files.exists(again.resolve("half-written")));
    }
}
