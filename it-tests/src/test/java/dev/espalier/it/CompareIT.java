package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code espalier compare} end to end on stories260K: a 2 × 2 grid plus a 2:4 cell runs each cell as a job, writes
 * compare.md (dense row first), compare.json and plots; run again, it reuses every cell and writes the same table;
 * the cells' own run directories hold report.md; a cell of other settings is refused, not overwritten. With
 * {@code --node}, the cells are jobs of a real {@code espalier serve} in its own JVM; a comparison started again
 * follows the jobs it submitted before instead of submitting them twice, submits failed ones again, and ends with the
 * table a local comparison writes.
 */
class CompareIT {
    @TempDir
    Path tmp;

    private String[] compare(Path out, String tasks, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "compare",
                "--quiet",
                "--model",
                SharedData.model("stories260K/stories260K.bin").toString(),
                "--methods",
                "magnitude,wanda",
                "--sparsities",
                "0.3,0.5",
                "--patterns",
                "unstructured,2:4",
                "--calib",
                SharedData.data("tinystories/tinystories_val_sample.txt").toString(),
                "--calib-samples",
                "4",
                "--calib-seqlen",
                "64",
                "--eval-data",
                SharedData.data("tinystories/tinystories_val_sample.txt").toString(),
                "--eval-max-tokens",
                "2048",
                "--tasks",
                tasks,
                "--task-data",
                SharedData.data("zeroshot").toString(),
                "--task-limit",
                "16",
                "--devices",
                "cpu:2",
                "--out",
                out.toString()));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    @Test
    void aGridRunsOnceAndIsReusedAfterwards() throws Exception {
        Path out = tmp.resolve("cmp");
        CliRun first = CliRun.of(compare(out, "piqa,winogrande"));
        assertEquals(0, first.exitCode(), first.out() + first.err());
        String table = Files.readString(out.resolve("compare.md"));
        List<String> rows =
                table.lines().filter(l -> l.startsWith("| ")).skip(1).toList(); // the header
        assertTrue(rows.getFirst().startsWith("| dense"), table);
        assertEquals(1 + 6, rows.size(), table); // dense + magnitude/wanda × {30 %, 50 %, 2:4}
        assertTrue(table.contains("piqa") && table.contains("winogrande"), table);
        assertTrue(Files.readString(out.resolve("compare.json")).contains("\"cells\""));
        try (var pngs = Files.list(out)) {
            List<Path> plots = pngs.filter(p -> p.toString().endsWith(".png")).toList();
            assertTrue(plots.size() >= 2, plots.toString());
            for (Path png : plots) {
                assertTrue(ImageIO.read(png.toFile()) != null, png + " is not a PNG");
            }
        }
        assertTrue(Files.isRegularFile(out.resolve("cells/wanda-50/run/report.md")));
        assertTrue(Files.isRegularFile(out.resolve("cells/wanda-2of4/model/config.json")));

        CliRun again = CliRun.of(compare(out, "piqa,winogrande"));
        assertEquals(0, again.exitCode(), again.out() + again.err());
        assertEquals(6, again.out().lines().filter(l -> l.contains(": reused ")).count(), again.out());
        assertEquals(table, Files.readString(out.resolve("compare.md")));

        CliRun other = CliRun.of(compare(out, "piqa"));
        assertEquals(2, other.exitCode(), other.out() + other.err());
        assertTrue(other.err().contains("holds a run of other settings (zero_shot"), other.err());
    }

    @Test
    void onANodeTheCellsAreItsJobsFollowedAgainAfterARestartAndRetriedWhenTheyFailed() throws Exception {
        Path home = tmp.resolve("home");
        Path out = tmp.resolve("on-node");
        Process small = startNode(home, "cpu"); // one worker: the cells, which ask for two, fail
        CliRun failed;
        try {
            failed = CliRun.of(compare(out, "piqa", "--home", home.toString()));
        } finally {
            small.destroyForcibly().waitFor();
        }
        assertEquals(1, failed.exitCode(), failed.out() + failed.err());
        assertTrue(failed.out().contains("this process has 1"), failed.out());
        assertTrue(failed.err().contains("6 cell(s) did not finish"), failed.err());

        Process node = startNode(home, "cpu:2");
        try {
            CliRun first = CliRun.of(compare(out, "piqa", "--home", home.toString()));
            assertEquals(0, first.exitCode(), first.out() + first.err());
            assertEquals(
                    6,
                    first.out()
                            .lines()
                            .filter(l -> l.contains(" ended failed before; submitting it again"))
                            .count(),
                    first.out());
            assertEquals(
                    6,
                    first.out()
                            .lines()
                            .filter(l -> l.contains(": submitted as "))
                            .count(),
                    first.out());
            String table = Files.readString(out.resolve("compare.md"));

            Files.delete(out.resolve("cells/wanda-50/report.json")); // as if the comparison died before saving it
            CliRun again = CliRun.of(compare(out, "piqa", "--home", home.toString()));
            assertEquals(0, again.exitCode(), again.out() + again.err());
            assertEquals(
                    5, again.out().lines().filter(l -> l.contains(": reused ")).count(), again.out());
            assertTrue(again.out().contains("cell wanda-50: following "), again.out());
            assertEquals(table, Files.readString(out.resolve("compare.md")));

            Path local = tmp.resolve("here");
            CliRun here = CliRun.of(compare(local, "piqa"));
            assertEquals(0, here.exitCode(), here.out() + here.err());
            assertEquals(table, Files.readString(local.resolve("compare.md")), "the node's cells equal local ones");
        } finally {
            node.destroyForcibly();
        }
    }

    /** {@code espalier serve} in a JVM of its own with these device workers; returns once it wrote its node.port. */
    private Process startNode(Path home, String devices) throws Exception {
        Files.deleteIfExists(home.resolve(NodeAddress.PORT_FILE));
        Path log = tmp.resolve("node-" + devices.replace(':', '-') + ".log");
        Process node = new ProcessBuilder(CliProcess.command(
                        List.of(),
                        "serve",
                        "--home",
                        home.toString(),
                        "--port",
                        "0",
                        "--slots",
                        "2",
                        "--devices",
                        devices,
                        "--allow-out",
                        tmp.toString()))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        for (int i = 0; i < 600 && !Files.exists(home.resolve(NodeAddress.PORT_FILE)); i++) {
            assertTrue(node.isAlive(), () -> "the node exited: " + read(log));
            Thread.sleep(50);
        }
        assertTrue(Files.exists(home.resolve(NodeAddress.PORT_FILE)), () -> "no node.port after 30 s: " + read(log));
        return node;
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
