package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.io.PathLock;
import dev.espalier.engine.runtime.store.RunDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `--out` never deletes or replaces what Espalier did not write: an existing file, a folder of the user's, and an
 * earlier Espalier output without --overwrite are refused with the path untouched (checksums before and after), and a
 * run directory or output another process holds is refused.
 */
class OutputSafetyIT {
    @TempDir
    Path tmp;

    private static String[] prune(Path out, String sparsity, String... extra) {
        String[] base = {
            "prune",
            "--quiet",
            "--model",
            SharedData.model("stories260K/stories260K.bin").toString(),
            "--method",
            "magnitude",
            "--sparsity",
            sparsity,
            "--calib",
            SharedData.data("tinystories/tinystories_val_sample.txt").toString(),
            "--calib-samples",
            "2",
            "--calib-seqlen",
            "32",
            "--out",
            out.toString()
        };
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return args;
    }

    /** Every file under {@code root} (a file or a folder) with its SHA-256. */
    private static Map<String, String> checksums(Path root) throws Exception {
        Map<String, String> sums = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                sums.put(
                        root.relativize(p).toString(),
                        HexFormat.of()
                                .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        }
        return sums;
    }

    private static void assertRefused(CliRun run, String... fragments) {
        assertTrue(run.exitCode() != 0, "must be refused: " + run.out() + run.err());
        String first = run.err().strip().split("\n")[0];
        for (String f : fragments) {
            assertTrue(first.contains(f), "error line should contain '" + f + "': " + first);
        }
        assertFalse(run.err().contains("\tat "), run.err());
    }

    @Test
    void anExistingFileIsRefusedAndUntouched() throws Exception {
        Path file = Files.writeString(tmp.resolve("eval.txt"), "the user's evaluation text\n");
        Map<String, String> before = checksums(file);
        assertRefused(CliRun.of(prune(file, "0.5")), file.toString(), "is a file");
        assertEquals(before, checksums(file));
        assertFalse(Files.exists(tmp.resolve("eval.txt.run")), "no run directory for a refused output");
    }

    @Test
    void aFolderOfTheUsersIsRefusedEvenWithOverwrite() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("project"));
        Files.writeString(home.resolve("notes.md"), "years of work");
        Files.createDirectories(home.resolve("src"));
        Files.writeString(home.resolve("src/Main.java"), "class Main {}");
        Map<String, String> before = checksums(home);
        assertRefused(CliRun.of(prune(home, "0.5", "--overwrite")), home.toString(), "not an Espalier output");
        assertEquals(before, checksums(home));
    }

    @Test
    void anEarlierOutputIsReplacedOnlyWithOverwrite() throws Exception {
        Path out = tmp.resolve("model");
        assertEquals(0, CliRun.of(prune(out, "0.5")).exitCode());
        assertTrue(Files.isRegularFile(out.resolve("espalier.json")));
        Map<String, String> before = checksums(out);
        assertRefused(
                CliRun.of(
                        prune(out, "0.3", "--run-dir", tmp.resolve("second.run").toString())),
                out.toString(),
                "--overwrite");
        assertEquals(before, checksums(out));
        CliRun again = CliRun.of(
                prune(out, "0.3", "--run-dir", tmp.resolve("third.run").toString(), "--overwrite"));
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(
                !before.get("model.safetensors").equals(checksums(out).get("model.safetensors")),
                "replaced by the 30 % model");
    }

    @Test
    void aRunDirectoryAnotherProcessHasOpenIsRefused() throws Exception {
        Path out = tmp.resolve("model");
        assertEquals(0, CliRun.of(prune(out, "0.5")).exitCode());
        try (RunDirectory held = RunDirectory.open(tmp.resolve("model.run"))) {
            CliProcess second = CliProcess.run(
                    tmp, java.util.List.of(), "resume", "--quiet", held.dir().toString());
            assertTrue(second.exitCode() != 0, second.out() + second.err());
            assertTrue(
                    second.err()
                            .contains("is in use by process "
                                    + ProcessHandle.current().pid()),
                    second.err());
        }
    }

    @Test
    void anOutputAnotherProcessIsWritingIsRefused() throws IOException, InterruptedException {
        Path out = tmp.resolve("model");
        try (PathLock held = PathLock.acquire(PathLock.siblingLockFile(out), "output " + out)) {
            CliProcess second = CliProcess.run(tmp, java.util.List.of(), prune(out, "0.5"));
            assertTrue(second.exitCode() != 0, second.out() + second.err());
            assertTrue(
                    second.err()
                            .contains("output " + out + " is in use by process "
                                    + ProcessHandle.current().pid()),
                    second.err());
            assertFalse(Files.exists(out));
        }
    }
}
