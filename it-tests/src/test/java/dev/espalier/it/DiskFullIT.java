package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk that fills up while checkpointing or exporting: `espalier prune` stops at once with one line naming the file
 * and the cause (no restarts that cannot help, no stack trace), leaves nothing half-written that looks whole, and
 * `espalier resume` finishes once there is space, to the same model as an uninterrupted run. The small disk is a tmpfs
 * mounted in a mount namespace of the test's own ({@code unshare -rm}); where the kernel does not allow one the test
 * is skipped and says so.
 */
class DiskFullIT {
    @TempDir
    Path tmp;

    private static String[] prune(Path out) {
        return new String[] {
            "prune",
            "--quiet",
            "--model",
            SharedData.model("stories260K/stories260K.bin").toString(),
            "--method",
            "wanda",
            "--sparsity",
            "0.5",
            "--calib",
            SharedData.data("tinystories/tinystories_val_sample.txt").toString(),
            "--calib-samples",
            "2",
            "--calib-seqlen",
            "32",
            "--out",
            out.toString()
        };
    }

    private static String shell(List<String> command) {
        return command.stream()
                .map(word -> "'" + word.replace("'", "'\\''") + "'")
                .collect(Collectors.joining(" "));
    }

    private static boolean canMountTmpfs() throws Exception {
        try {
            Process p = new ProcessBuilder(
                            "unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs \"$d\"")
                    .redirectErrorStream(true)
                    .start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /**
     * In a fresh mount namespace: a tmpfs of {@code size} at mnt, prune onto it (fails), a listing of what it left,
     * then the tmpfs grown to 32 MB and resume; the output is copied out before the namespace goes.
     */
    private Path runOnSmallDisk(String size) throws Exception {
        Path mnt = Files.createDirectories(tmp.resolve(size + "/mnt"));
        Path results = mnt.getParent();
        Path out = mnt.resolve("model");
        String script = String.join(
                "\n",
                "set -u",
                "mount -t tmpfs -o size=" + size + " tmpfs " + mnt,
                shell(CliProcess.command(List.of(), prune(out))) + " > " + results.resolve("prune.out") + " 2> "
                        + results.resolve("prune.err"),
                "echo $? > " + results.resolve("prune.rc"),
                "(cd " + mnt + " && find . | sort) > " + results.resolve("left.txt"),
                "mount -o remount,size=32m " + mnt,
                shell(CliProcess.command(
                                List.of(),
                                "resume",
                                "--quiet",
                                mnt.resolve("model.run").toString())) + " > " + results.resolve("resume.out") + " 2> "
                        + results.resolve("resume.err"),
                "echo $? > " + results.resolve("resume.rc"),
                "cp -r " + out + " " + results.resolve("model"),
                "");
        Process p = new ProcessBuilder("unshare", "-rm", "sh", "-c", script)
                .directory(tmp.toFile())
                .redirectErrorStream(true)
                .start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the small-disk run did not finish in 300 s");
        return results;
    }

    private static String read(Path file) throws Exception {
        return Files.readString(file, StandardCharsets.UTF_8).strip();
    }

    @Test
    void aFullDiskStopsTheRunCleanlyAndResumeFinishesItOnceThereIsSpace() throws Exception {
        assumeTrue(canMountTmpfs(), "needs `unshare -rm` (user and mount namespaces) to mount a small tmpfs");
        Path reference = tmp.resolve("reference");
        CliProcess clean = CliProcess.run(tmp, List.of(), prune(reference));
        assertEquals(0, clean.exitCode(), clean.err());
        // 300 KiB: the first layer's checkpoint fits, the second does not. 1300 KiB: all checkpoints fit, the export
        // does not.
        for (String size : List.of("300k", "1300k")) {
            Path results = runOnSmallDisk(size);
            String err = read(results.resolve("prune.err"));
            assertFalse(read(results.resolve("prune.rc")).equals("0"), size + ": prune must fail on a full disk");
            String last = err.lines()
                    .filter(l -> l.startsWith("espalier prune: error:"))
                    .findFirst()
                    .orElse("(no error line) " + err);
            assertTrue(last.contains("No space left on device"), size + ": " + last);
            assertFalse(err.contains("\tat "), size + ": no stack trace without --verbose: " + err);
            assertFalse(err.contains("restart 1 of"), size + ": a full disk is not retried");
            String left = read(results.resolve("left.txt"));
            assertFalse(left.contains(".tmp-"), size + ": no temporary file left: " + left);
            assertFalse(
                    left.lines().anyMatch(l -> l.equals("./model") || l.startsWith("./model/")),
                    size + ": no output folder: " + left);
            assertEquals("0", read(results.resolve("resume.rc")), size + ": " + read(results.resolve("resume.err")));
            assertArrayEquals(
                    Files.readAllBytes(reference.resolve("model.safetensors")),
                    Files.readAllBytes(results.resolve("model/model.safetensors")),
                    size + ": resumed model equals the uninterrupted one");
        }
    }
}
