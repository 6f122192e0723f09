package dev.espalier.engine.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WidthPlotTest {
    private static final int FIRST_SERIES = 0x1f77b4;
    private static final int SECOND_SERIES = 0xff7f0e;

    @TempDir
    Path tmp;

    @Test
    void writesATwoPanelWidthChartThatImageIoReadsBack() throws IOException {
        Path png = tmp.resolve("widths.png");
        WidthPlot.LayerWidths dense =
                new WidthPlot.LayerWidths("dense", new int[] {8, 8, 8, 8, 8}, new int[] {172, 172, 172, 172, 172});
        WidthPlot.writeWidths(
                png,
                "stories260K, 30 % removed",
                dense,
                List.of(
                        new WidthPlot.LayerWidths("FLAP", new int[] {8, 6, 4, 0, 8}, new int[] {172, 120, 0, 60, 100}),
                        new WidthPlot.LayerWidths(
                                "uniform", new int[] {6, 6, 6, 6, 6}, new int[] {120, 120, 120, 120, 120})));
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(WidthPlot.WIDTH, image.getWidth());
        assertEquals(WidthPlot.HEIGHT, image.getHeight());
        assertTrue(count(image, FIRST_SERIES) > 2000, "FLAP's bars are drawn");
        assertTrue(count(image, SECOND_SERIES) > 2000, "the uniform bars are drawn");
        assertTrue(nonWhite(image) > 20000);
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(png), files.toList(), "no temporary file is left behind");
        }
    }

    @Test
    void writesALinePlotWithSeveralSeries() throws IOException {
        Path png = tmp.resolve("loss.png");
        double[] x = {0, 1, 2, 3, 4, 5, 6, 7};
        WidthPlot.writeLines(
                png,
                "reconstruction loss",
                "step",
                "loss",
                x,
                List.of(
                        new WidthPlot.Series("train", new double[] {2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.82, 0.8}),
                        new WidthPlot.Series(
                                "validation", new double[] {2.1, 1.7, 1.4, Double.NaN, 1.2, 1.15, 1.1, 1.1})));
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(WidthPlot.WIDTH, image.getWidth());
        assertEquals(WidthPlot.HEIGHT, image.getHeight());
        assertTrue(count(image, FIRST_SERIES) > 300, "the first series is drawn");
        assertTrue(count(image, SECOND_SERIES) > 300, "the second series is drawn");
        assertThrows(
                IllegalArgumentException.class,
                () -> WidthPlot.renderLines(
                        "t", "x", "y", x, List.of(new WidthPlot.Series("short", new double[] {1, 2}))));
    }

    @Test
    void aLogScaleLinePlotDrawsPositiveValuesAndSkipsTheOthers() throws IOException {
        Path png = tmp.resolve("ppl.png");
        double[] x = {0, 50, 60, 70};
        WidthPlot.writeLogLines(
                png,
                "perplexity",
                "sparsity (%)",
                "perplexity",
                x,
                List.of(
                        new WidthPlot.Series("wanda", new double[] {4.07, 5.1, 7.9, 30.2}),
                        new WidthPlot.Series("magnitude", new double[] {4.07, 0, 250, 4000})));
        BufferedImage image = ImageIO.read(png.toFile());
        assertTrue(count(image, FIRST_SERIES) > 300, "the first series is drawn");
        assertTrue(count(image, SECOND_SERIES) > 300, "the second series is drawn");
        BufferedImage linear = WidthPlot.renderLines(
                "perplexity", "sparsity (%)", "perplexity", x, List.of(new WidthPlot.Series("wanda", new double[] {
                    4.07, 5.1, 7.9, 30.2
                })));
        BufferedImage log = WidthPlot.renderLines(
                "perplexity",
                "sparsity (%)",
                "perplexity",
                x,
                List.of(new WidthPlot.Series("wanda", new double[] {4.07, 5.1, 7.9, 30.2})),
                true);
        assertTrue(differ(linear, log), "the log scale places the points elsewhere");
    }

    private static boolean differ(BufferedImage a, BufferedImage b) {
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                if (a.getRGB(x, y) != b.getRGB(x, y)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static int count(BufferedImage image, int rgb) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                n += (image.getRGB(x, y) & 0xffffff) == rgb ? 1 : 0;
            }
        }
        return n;
    }

    private static int nonWhite(BufferedImage image) {
        return image.getWidth() * image.getHeight() - count(image, 0xffffff);
    }
}
