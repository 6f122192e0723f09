package dev.espalier.engine.report;

import dev.espalier.engine.io.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Small PNG charts drawn with java.awt in headless mode: the per-layer widths of structurally pruned models (kept heads
 * and kept FFN channels per layer, one bar per method, the dense widths as a dashed line) and a generic line plot (a
 * loss curve). Files are written atomically ({@link AtomicFiles}); the {@code render*} methods return the image itself.
 */
public final class WidthPlot {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** One series of a line plot: a label for the legend and one y value per x (NaN: no point; the line goes on). */
    public record Series(String label, double[] y) {
        public Series {
            y = y.clone();
        }
    }

    /** The per-layer widths of one model (one method's result, or the dense model). */
    public record LayerWidths(String label, int[] keptHeads, int[] keptChannels) {
        public LayerWidths {
            keptHeads = keptHeads.clone();
            keptChannels = keptChannels.clone();
            if (keptHeads.length != keptChannels.length) {
                throw new IllegalArgumentException(label + ": " + keptHeads.length + " head counts but "
                        + keptChannels.length + " channel counts");
            }
        }

        public int layers() {
            return keptHeads.length;
        }
    }

    public static final int WIDTH = 900;
    public static final int HEIGHT = 700;
    private static final Color[] PALETTE = {
        new Color(0x1f77b4),
        new Color(0xff7f0e),
        new Color(0x2ca02c),
        new Color(0xd62728),
        new Color(0x9467bd),
        new Color(0x8c564b),
        new Color(0xe377c2),
        new Color(0x7f7f7f),
        new Color(0xbcbd22),
        new Color(0x17becf)
    };
    private static final Font TEXT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 15);
    private static final Stroke DASHED =
            new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f);

    private WidthPlot() {}

    /**
     * Writes the two-panel width chart (kept heads per layer above, kept channels per layer below) to {@code png}.
     *
     * @param dense   the unpruned widths, drawn as a dashed line in both panels
     * @param methods one or more pruned models, one bar colour each, named in the legend
     */
    public static void writeWidths(Path png, String title, LayerWidths dense, List<LayerWidths> methods) {
        write(png, renderWidths(title, dense, methods));
    }

    /** Writes a line plot of {@code series} over {@code x} to {@code png}. */
    public static void writeLines(
            Path png, String title, String xLabel, String yLabel, double[] x, List<Series> series) {
        write(png, renderLines(title, xLabel, yLabel, x, series));
    }

    /** Writes a line plot of {@code series} over {@code x} with a logarithmic y axis (values ≤ 0 are not drawn). */
    public static void writeLogLines(
            Path png, String title, String xLabel, String yLabel, double[] x, List<Series> series) {
        write(png, renderLines(title, xLabel, yLabel, x, series, true));
    }

    /** The width chart as an image of {@link #WIDTH} × {@link #HEIGHT} pixels. */
    public static BufferedImage renderWidths(String title, LayerWidths dense, List<LayerWidths> methods) {
        if (methods.isEmpty()) {
            throw new IllegalArgumentException("no method to plot");
        }
        for (LayerWidths m : methods) {
            if (m.layers() != dense.layers()) {
                throw new IllegalArgumentException(
                        m.label() + " has " + m.layers() + " layers, the dense model " + dense.layers());
            }
        }
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(image);
        drawTitle(g, title);
        int panelHeight = (HEIGHT - 50) / 2;
        barPanel(g, new Frame(80, 50, WIDTH - 110, panelHeight - 60), "kept attention heads", dense, methods, true);
        barPanel(
                g,
                new Frame(80, 50 + panelHeight, WIDTH - 110, panelHeight - 60),
                "kept FFN channels",
                dense,
                methods,
                false);
        g.dispose();
        return image;
    }

    /** The line plot as an image of {@link #WIDTH} × {@link #HEIGHT} pixels; every series has one value per x. */
    public static BufferedImage renderLines(
            String title, String xLabel, String yLabel, double[] x, List<Series> series) {
        return renderLines(title, xLabel, yLabel, x, series, false);
    }

    /** As {@link #renderLines(String, String, String, double[], List)}, the y axis logarithmic when {@code logY}. */
    public static BufferedImage renderLines(
            String title, String xLabel, String yLabel, double[] x, List<Series> series, boolean logY) {
        if (x.length == 0 || series.isEmpty()) {
            throw new IllegalArgumentException(
                    "nothing to plot: " + x.length + " x values, " + series.size() + " series");
        }
        double yMin = Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            if (s.y().length != x.length) {
                throw new IllegalArgumentException(
                        s.label() + " has " + s.y().length + " values for " + x.length + " x values");
            }
            for (double v : s.y()) {
                if (drawable(v, logY)) {
                    yMin = Math.min(yMin, v);
                    yMax = Math.max(yMax, v);
                }
            }
        }
        if (yMin > yMax) {
            yMin = logY ? 1 : 0;
            yMax = logY ? 10 : 1;
        }
        double xMin = min(x);
        double xMax = max(x);
        if (xMin > xMax) {
            throw new IllegalArgumentException("no finite x value to plot");
        }
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(image);
        drawTitle(g, title);
        Frame f = new Frame(90, 50, WIDTH - 130, HEIGHT - 120);
        Scale xs = Axis.of(xMin, xMax);
        Scale ys = logY ? LogAxis.of(yMin, yMax) : Axis.of(yMin, yMax);
        axes(g, f, xs, ys, xLabel, yLabel);
        List<String> labels = new ArrayList<>();
        List<int[]> points = new ArrayList<>();
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            g.setColor(PALETTE[i % PALETTE.length]);
            g.setStroke(new BasicStroke(2f));
            List<int[]> line = new ArrayList<>();
            for (int j = 0; j < x.length; j++) {
                if (drawable(s.y()[j], logY) && Double.isFinite(x[j])) {
                    line.add(new int[] {f.x(xs.fraction(x[j])), f.y(ys.fraction(s.y()[j]))});
                }
            }
            for (int j = 1; j < line.size(); j++) { // missing values are bridged
                g.drawLine(line.get(j - 1)[0], line.get(j - 1)[1], line.get(j)[0], line.get(j)[1]);
            }
            int r = line.size() == 1 ? 5 : 2; // a lone point is drawn large enough to be seen
            if (x.length <= 60 || line.size() == 1) {
                line.forEach(p -> g.fillOval(p[0] - r, p[1] - r, 2 * r + 1, 2 * r + 1));
            }
            points.addAll(line);
            labels.add(s.label());
        }
        legend(g, f, labels, -1, points);
        g.dispose();
        return image;
    }

    /** The plotting area in pixels. */
    private record Frame(int left, int top, int width, int height) {
        int x(double fraction) {
            return left + (int) Math.round(fraction * width);
        }

        int y(double fraction) {
            return top + height - (int) Math.round(fraction * height);
        }

        int bottom() {
            return top + height;
        }
    }

    private static boolean drawable(double v, boolean logY) {
        return Double.isFinite(v) && (!logY || v > 0);
    }

    /** Where values fall on an axis, and its ticks with their labels. */
    private sealed interface Scale permits Axis, LogAxis {
        double fraction(double v);

        List<Double> ticks();

        String label(double tick);
    }

    /** A linear axis from {@code lo} to {@code hi} with ticks every {@code step}. */
    private record Axis(double lo, double hi, double step) implements Scale {
        static Axis of(double min, double max) {
            if (min == max) {
                double pad = min == 0 ? 1 : Math.abs(min) * 0.1;
                min -= pad;
                max += pad;
            }
            double step = niceStep((max - min) / 6);
            return new Axis(Math.floor(min / step) * step, Math.ceil(max / step) * step, step);
        }

        static Axis fromZero(double max) {
            double step = niceStep(Math.max(max, 1) / 5);
            return new Axis(0, Math.ceil(Math.max(max, 1) / step) * step, step);
        }

        @Override
        public double fraction(double v) {
            return (v - lo) / (hi - lo);
        }

        @Override
        public List<Double> ticks() {
            List<Double> ticks = new ArrayList<>();
            for (double v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
                ticks.add(v);
            }
            return ticks;
        }

        @Override
        public String label(double tick) {
            return format(tick, step);
        }
    }

    /**
     * A logarithmic axis over [{@code lo}, {@code hi}] (both &gt; 0), ticks at 1, 2 and 5 times powers of ten, or at
     * every integer multiple of a power of ten when the range spans too little for three of those.
     */
    private record LogAxis(double lo, double hi) implements Scale {
        static LogAxis of(double min, double max) {
            double pad = Math.max(Math.log10(max / min) * 0.05, 0.02);
            return new LogAxis(Math.pow(10, Math.log10(min) - pad), Math.pow(10, Math.log10(max) + pad));
        }

        @Override
        public double fraction(double v) {
            return Math.log10(v / lo) / Math.log10(hi / lo);
        }

        @Override
        public List<Double> ticks() {
            List<Double> ticks = ticks(new double[] {1, 2, 5});
            return ticks.size() >= 3 ? ticks : ticks(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        }

        private List<Double> ticks(double[] mantissas) {
            List<Double> ticks = new ArrayList<>();
            for (int k = (int) Math.floor(Math.log10(lo)); k <= (int) Math.ceil(Math.log10(hi)); k++) {
                for (double m : mantissas) {
                    double v = m * Math.pow(10, k);
                    if (v >= lo && v <= hi) {
                        ticks.add(v);
                    }
                }
            }
            return ticks;
        }

        @Override
        public String label(double tick) {
            return format(tick, Math.pow(10, Math.floor(Math.log10(tick) + 1e-9)));
        }
    }

    private static double niceStep(double raw) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double r = raw / magnitude;
        double nice = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10;
        return nice * magnitude;
    }

    private static void barPanel(
            Graphics2D g, Frame f, String yLabel, LayerWidths dense, List<LayerWidths> methods, boolean heads) {
        int layers = dense.layers();
        int max = 0;
        for (int l = 0; l < layers; l++) {
            max = Math.max(max, value(dense, l, heads));
            for (LayerWidths m : methods) {
                max = Math.max(max, value(m, l, heads));
            }
        }
        Axis ys = Axis.fromZero(max);
        Axis xs = new Axis(-0.5, layers - 0.5, Math.max(1, Math.ceil(layers / 16.0)));
        axes(g, f, xs, ys, "layer", yLabel);
        double slot = (double) f.width() / Math.max(layers, 1);
        double barWidth = slot * 0.8 / methods.size();
        for (int l = 0; l < layers; l++) {
            double left = f.left() + l * slot + slot * 0.1;
            for (int i = 0; i < methods.size(); i++) {
                int v = value(methods.get(i), l, heads);
                int top = f.y(ys.fraction(v));
                g.setColor(PALETTE[i % PALETTE.length]);
                g.fillRect(
                        (int) Math.round(left + i * barWidth),
                        top,
                        Math.max(1, (int) Math.round(barWidth)),
                        f.bottom() - top);
            }
        }
        g.setColor(Color.BLACK);
        g.setStroke(DASHED);
        for (int l = 0; l < layers; l++) {
            int y = f.y(ys.fraction(value(dense, l, heads)));
            g.drawLine((int) Math.round(f.left() + l * slot), y, (int) Math.round(f.left() + (l + 1) * slot), y);
        }
        List<String> labels = new ArrayList<>();
        methods.forEach(m -> labels.add(m.label()));
        labels.add(dense.label());
        legend(g, f, labels, labels.size() - 1, List.of());
    }

    private static int value(LayerWidths w, int layer, boolean heads) {
        return heads ? w.keptHeads()[layer] : w.keptChannels()[layer];
    }

    private static void axes(Graphics2D g, Frame f, Scale xs, Scale ys, String xLabel, String yLabel) {
        g.setStroke(new BasicStroke(1f));
        g.setFont(TEXT);
        FontMetrics fm = g.getFontMetrics();
        for (double v : ys.ticks()) {
            int y = f.y(ys.fraction(v));
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(f.left(), y, f.left() + f.width(), y);
            g.setColor(Color.BLACK);
            String s = ys.label(v);
            g.drawString(s, f.left() - 6 - fm.stringWidth(s), y + fm.getAscent() / 2 - 1);
        }
        for (double v : xs.ticks()) {
            int x = f.x(xs.fraction(v));
            g.setColor(Color.BLACK);
            g.drawLine(x, f.bottom(), x, f.bottom() + 4);
            String s = xs.label(v);
            g.drawString(s, x - fm.stringWidth(s) / 2, f.bottom() + 6 + fm.getAscent());
        }
        g.setColor(Color.BLACK);
        g.drawRect(f.left(), f.top(), f.width(), f.height());
        g.drawString(xLabel, f.left() + (f.width() - fm.stringWidth(xLabel)) / 2, f.bottom() + 10 + 2 * fm.getHeight());
        AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(f.top() + (f.height() + fm.stringWidth(yLabel)) / 2), f.left() - 62 + fm.getAscent());
        g.setTransform(saved);
    }

    /**
     * A legend box in the top-right corner of {@code f}, or the top-left one when fewer of the plotted {@code points}
     * (pixel x, y) fall under it there; entry {@code dashedEntry} (or none, -1) is a dashed black line.
     */
    private static void legend(Graphics2D g, Frame f, List<String> labels, int dashedEntry, List<int[]> points) {
        g.setFont(TEXT);
        FontMetrics fm = g.getFontMetrics();
        int textWidth = labels.stream().mapToInt(fm::stringWidth).max().orElse(0);
        int rowHeight = fm.getHeight() + 2;
        int w = textWidth + 44;
        int h = labels.size() * rowHeight + 8;
        int right = f.left() + f.width() - w - 8;
        int left = f.left() + 8;
        int y = f.top() + 8;
        int x = covered(points, left, y, w, h) < covered(points, right, y, w, h) ? left : right;
        g.setColor(new Color(255, 255, 255, 230));
        g.fillRect(x, y, w, h);
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(x, y, w, h);
        for (int i = 0; i < labels.size(); i++) {
            int cy = y + 4 + i * rowHeight + rowHeight / 2;
            if (i == dashedEntry) {
                g.setColor(Color.BLACK);
                g.setStroke(DASHED);
                g.drawLine(x + 8, cy, x + 30, cy);
                g.setStroke(new BasicStroke(1f));
            } else {
                g.setColor(PALETTE[i % PALETTE.length]);
                g.fillRect(x + 8, cy - 5, 22, 10);
            }
            g.setColor(Color.BLACK);
            g.drawString(labels.get(i), x + 36, cy + fm.getAscent() / 2 - 1);
        }
    }

    private static long covered(List<int[]> points, int x, int y, int w, int h) {
        return points.stream()
                .filter(p -> p[0] >= x - 6 && p[0] <= x + w + 6 && p[1] >= y - 6 && p[1] <= y + h + 6)
                .count();
    }

    private static Graphics2D canvas(BufferedImage image) {
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        return g;
    }

    private static void drawTitle(Graphics2D g, String title) {
        g.setColor(Color.BLACK);
        g.setFont(TITLE);
        FontMetrics fm = g.getFontMetrics();
        g.drawString(title, (WIDTH - fm.stringWidth(title)) / 2, 28);
    }

    /** {@code v} with as many decimals as the tick step needs (steps are 1, 2, 2.5 or 5 times a power of ten). */
    private static String format(double v, double step) {
        int k = (int) Math.floor(Math.log10(step) + 1e-9);
        boolean half = Math.abs(step / Math.pow(10, k) - 2.5) < 1e-9;
        int decimals = Math.min(6, Math.max(0, -k + (half ? 1 : 0)));
        return String.format(Locale.ROOT, "%." + decimals + "f", v + 0.0); // + 0.0 turns -0.0 into 0.0
    }

    private static double min(double[] a) {
        double m = Double.POSITIVE_INFINITY;
        for (double v : a) {
            m = Double.isFinite(v) ? Math.min(m, v) : m;
        }
        return m;
    }

    private static double max(double[] a) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : a) {
            m = Double.isFinite(v) ? Math.max(m, v) : m;
        }
        return m;
    }

    /** {@code image} encoded as PNG (for callers that commit it through a run directory). */
    public static byte[] png(BufferedImage image) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(image, "png", bytes)) {
                throw new IllegalStateException("no PNG writer in this JDK");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode a PNG", e);
        }
        return bytes.toByteArray();
    }

    private static void write(Path png, BufferedImage image) {
        AtomicFiles.write(png, png(image));
    }
}
