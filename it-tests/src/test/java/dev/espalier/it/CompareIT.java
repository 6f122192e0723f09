package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code espalier compare} end to end on stories260K: a 2 × 2 grid plus a 2:4 cell runs each cell as a job, writes
 * compare.md (dense row first), compare.json and plots; run again, it reuses every cell and writes the same table;
 * the cells' own run directories hold report.md; a cell of other settings is refused, not overwritten.
 */
class CompareIT {
    @TempDir
    Path tmp;

    private String[] compare(Path out, String tasks) {
        return new String[] {
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
            out.toString()
        };
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
}
