package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import dev.espalier.protocol.v1.RunReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every structured method's export, compact or masked-dense, reads back through {@code espalier eval} with the
 * perplexity the prune run measured on the pruned model in memory.
 */
class StructuredExportIT {
    private static final Pattern SUMMARY = Pattern.compile("ppl=([0-9.]+) nll=([0-9.]+) tokens=(\\d+) protocol=stream");

    @ParameterizedTest(name = "{0} --export {1}, calibration {2}")
    @CsvSource({"wanda-sp, compact, file", "flap, masked-dense, file", "goa, compact, self", "goa, masked-dense, file"})
    void exportedModelEvaluatesAsThePrunedOne(String method, String form, String calibration, @TempDir Path tmp)
            throws Exception {
        Path out = tmp.resolve("model");
        String data = SharedData.data("tinystories/tinystories_val_sample.txt").toString();
        String calib = calibration.equals("self") ? "self" : data;
        CliProcess prune = CliProcess.run(
                tmp,
                List.of(),
                "prune",
                "--quiet",
                "--model",
                SharedData.model("stories260K/stories260K.bin").toString(),
                "--method",
                method,
                "--sparsity",
                "0.3",
                "--calib",
                calib,
                "--calib-samples",
                "6",
                "--calib-seqlen",
                "96",
                "--devices",
                "cpu:2",
                "--export",
                form,
                "--eval-data",
                data,
                "--eval-protocol",
                "stream",
                "--eval-max-tokens",
                "4096",
                "--out",
                out.toString());
        assertEquals(0, prune.exitCode(), prune.err());
        RunReport.Builder report = RunReport.newBuilder();
        JsonFormat.parser().merge(Files.readString(tmp.resolve("model.run/report.json")), report);
        double pruned = report.getPerplexitiesAfter(0).getPerplexity();
        assertTrue(pruned > report.getPerplexitiesBefore(0).getPerplexity(), "pruning 30 % must cost perplexity");

        CliProcess eval = CliProcess.run(
                tmp,
                List.of(),
                "eval",
                "--quiet",
                "--model",
                out.toString(),
                "--data",
                data,
                "--protocol",
                "stream",
                "--max-tokens",
                "4096");
        assertEquals(0, eval.exitCode(), eval.err());
        String[] lines = eval.out().strip().split("\n");
        Matcher m = SUMMARY.matcher(lines[lines.length - 1]);
        assertTrue(m.matches(), eval.out());
        assertEquals(
                pruned, Double.parseDouble(m.group(1)), pruned * 1e-4, "perplexity of the exported " + form + " model");
        String config = Files.readString(out.resolve("config.json"));
        boolean denseShapes = config.contains("\"intermediate_size\" : 172") && !config.contains("espalier_");
        assertEquals(form.equals("masked-dense"), denseShapes, config);
    }
}
