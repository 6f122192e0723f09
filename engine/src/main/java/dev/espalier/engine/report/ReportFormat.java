package dev.espalier.engine.report;

import dev.espalier.protocol.v1.PerplexityProtocol;
import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.TaskAccuracy;
import java.nio.file.Path;
import java.util.Locale;

/** How the reports write numbers and names: one spelling for report.md and compare.md. */
public final class ReportFormat {
    static final String NONE = "-";

    private ReportFormat() {}

    /** The file name of a dataset path ("wiki.test.raw" for ".../wikitext-2/wiki.test.raw"). */
    static String datasetName(PerplexityResult p) {
        Path name = Path.of(p.getDataset()).getFileName();
        return name == null ? p.getDataset() : name.toString();
    }

    /** The dataset's file name and, when only part of it was scored, its range: "tiny.txt [0.5:1]". */
    static String datasetLabel(PerplexityResult p) {
        return datasetName(p) + (p.getRange().isEmpty() ? "" : " [" + p.getRange() + "]");
    }

    /** "stream" for PERPLEXITY_PROTOCOL_STREAM. */
    static String protocol(PerplexityProtocol protocol) {
        return protocol.name().replace("PERPLEXITY_PROTOCOL_", "").toLowerCase(Locale.ROOT);
    }

    /** Four significant decimals, as the README's reference perplexities; "-" when not finite. */
    static String perplexity(double ppl) {
        return Double.isFinite(ppl) ? String.format(Locale.ROOT, "%.4f", ppl) : NONE;
    }

    /** 0.5 → "50 %", 0.625 → "62.5 %". */
    static String percent(double fraction) {
        double p = Math.round(fraction * 1000) / 10.0;
        return (p == Math.rint(p) ? Long.toString((long) p) : String.format(Locale.ROOT, "%.1f", p)) + " %";
    }

    /** An accuracy in percent with one decimal ("52.3"); "-" when NaN. */
    static String accuracy(double acc) {
        return Double.isFinite(acc) ? String.format(Locale.ROOT, "%.1f", 100 * acc) : NONE;
    }

    /** "52.3 ± 3.1" (percent), the error left out when not finite. */
    static String accuracy(double acc, double stderr) {
        return Double.isFinite(stderr) ? accuracy(acc) + " ± " + accuracy(stderr) : accuracy(acc);
    }

    /**
     * The metric a task is usually reported by: acc_norm where the harness's task lists it as the headline metric and
     * it was measured (PIQA, ARC, HellaSwag, OpenBookQA), acc otherwise.
     */
    static boolean headlineIsNorm(TaskAccuracy t) {
        return t.getPapersReportAccNorm() && t.hasAccNorm();
    }

    static double headline(TaskAccuracy t) {
        return headlineIsNorm(t) ? t.getAccNorm() : t.getAcc();
    }

    /** "12.3 s", "4.5 min" or "1.2 h"; "-" when 0 (not measured). */
    public static String seconds(double s) {
        if (!(s > 0)) {
            return NONE;
        }
        if (s < 120) {
            return String.format(Locale.ROOT, "%.1f s", s);
        }
        return s < 7200
                ? String.format(Locale.ROOT, "%.1f min", s / 60)
                : String.format(Locale.ROOT, "%.2f h", s / 3600);
    }

    /** "812 MiB" or "3.2 GiB"; "-" when 0 (not measured). */
    public static String bytes(long b) {
        if (b <= 0) {
            return NONE;
        }
        double mib = b / (1024.0 * 1024.0);
        return mib < 1024
                ? String.format(Locale.ROOT, "%.0f MiB", mib)
                : String.format(Locale.ROOT, "%.1f GiB", mib / 1024);
    }
}
