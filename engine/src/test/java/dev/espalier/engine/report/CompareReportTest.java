package dev.espalier.engine.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RunReport;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareReportTest {
    @TempDir
    Path tmp;

    private static final List<CompareReport.Cell> GRID = List.of(
            cell("magnitude", 0.5, Reports.run("m50", PruneMethod.PRUNE_METHOD_MAGNITUDE, 0.5, 9.5, 0.52)),
            cell("magnitude", 0.7, Reports.run("m70", PruneMethod.PRUNE_METHOD_MAGNITUDE, 0.7, 80.25, 0.49)),
            cell("wanda", 0.5, Reports.run("w50", PruneMethod.PRUNE_METHOD_WANDA, 0.5, 6.125, 0.52)),
            cell("wanda", 0.7, Reports.run("w70", PruneMethod.PRUNE_METHOD_WANDA, 0.7, 20.0, 0.51)));

    private static CompareReport.Cell cell(String method, double sparsity, RunReport report) {
        return new CompareReport.Cell(method, "unstructured", sparsity, report);
    }

    @Test
    void theTableHasTheDenseRowFirstAndTheBestPrunedValueOfEachColumnInBold() {
        String md = CompareReport.markdown(GRID);
        List<String> rows = md.lines().filter(l -> l.startsWith("| ")).toList();
        assertEquals(
                "| method | sparsity | achieved | tinystories_val_sample.txt ppl | piqa (acc_norm) | mean acc |",
                rows.get(0));
        assertEquals("| dense | 0 % | 0 % | 4.0000 | 51.0 | 51.0 |", rows.get(1));
        assertEquals("| magnitude | 50 % | 50.0 % | 9.5000 | **53.0** | **53.0** |", rows.get(2));
        assertEquals("| magnitude | 70 % | 70.0 % | 80.2500 | 50.0 | 50.0 |", rows.get(3));
        assertEquals("| wanda | 50 % | 50.0 % | **6.1250** | **53.0** | **53.0** |", rows.get(4), "ties are all bold");
        assertEquals("| wanda | 70 % | 70.0 % | 20.0000 | 52.0 | 52.0 |", rows.get(5));
        assertEquals(6, rows.size());
        assertTrue(md.contains("piqa: acc_norm in % over 100 items (chance 50.0)"), md);
        assertTrue(md.contains("stream protocol, windows of 512 tokens, 2047 tokens scored"), md);
    }

    @Test
    void aCellWithoutAMeasurementShowsADash() {
        RunReport noTasks = Reports.run("w70", PruneMethod.PRUNE_METHOD_WANDA, 0.7, 20.0, 0.51).toBuilder()
                .clearTasksAfter()
                .build();
        String md = CompareReport.markdown(List.of(GRID.get(0), cell("wanda", 0.7, noTasks)));
        assertTrue(md.contains("| wanda | 70 % | 70.0 % | 20.0000 | - | - |"), md);
    }

    @Test
    void cellsThatDisagreeOnTheDenseModelAreRefusedByName() {
        RunReport other = Reports.run("w90", PruneMethod.PRUNE_METHOD_WANDA, 0.9, 50, 0.5).toBuilder()
                .setPerplexitiesBefore(0, Reports.ppl(4.5))
                .build();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> CompareReport.markdown(List.of(GRID.get(0), cell("wanda", 0.9, other))));
        assertTrue(
                e.getMessage().contains("run m50") && e.getMessage().contains("run w90 (wanda 90 %)"), e.getMessage());
    }

    @Test
    void theJsonHoldsEveryCellWithUnmeasuredValuesAsNull() {
        RunReport nan = Reports.run("w70", PruneMethod.PRUNE_METHOD_WANDA, 0.7, Double.NaN, 0.51);
        String json = CompareReport.json(List.of(GRID.get(0), cell("wanda", 0.7, nan)));
        assertTrue(json.startsWith("{\"datasets\":[{\"name\":\"tinystories_val_sample.txt\""), json);
        assertTrue(json.contains("\"dense\":{\"perplexity\":{\"tinystories_val_sample.txt\":4}"), json);
        assertTrue(json.contains("\"method\":\"wanda\",\"pattern\":\"unstructured\",\"sparsity\":0.7"), json);
        assertTrue(json.contains("\"perplexity\":{\"tinystories_val_sample.txt\":null}"), json);
        assertTrue(json.contains("\"piqa\":{\"acc\":0.52,\"acc_stderr\":0.05,\"acc_norm\":0.53"), json);
        assertEquals(count(json, '{'), count(json, '}'));
        assertEquals(count(json, '['), count(json, ']'));
    }

    @Test
    void plotsAPerplexityCurveOnALogScaleAndAnAccuracyCurvePerTask() throws Exception {
        List<String> files = CompareReport.writePlots(tmp, GRID);
        assertEquals(List.of("perplexity-tinystories_val_sample.png", "accuracy-piqa.png"), files);
        for (String f : files) {
            BufferedImage image = ImageIO.read(tmp.resolve(f).toFile());
            assertEquals(WidthPlot.WIDTH, image.getWidth(), f);
        }
        try (var listing = Files.list(tmp)) {
            assertEquals(2, listing.count(), "no temporary file is left behind");
        }
    }

    @Test
    void nothingToCompareIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> CompareReport.markdown(List.of()));
    }

    private static long count(String s, char c) {
        return s.chars().filter(ch -> ch == c).count();
    }
}
