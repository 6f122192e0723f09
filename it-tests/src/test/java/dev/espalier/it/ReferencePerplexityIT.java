package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** `espalier eval` reproduces the reference perplexities of ../shared/models/README.md and README-hf.md (stream protocol, 20,480 tokens). */
class ReferencePerplexityIT {
    private static final Pattern SUMMARY = Pattern.compile("ppl=([0-9.]+) nll=([0-9.]+) tokens=(\\d+) protocol=stream");

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({
        "stories260K/stories260K.bin, tinystories/tinystories_val_sample.txt, 4.0677, 1.403074",
        "stories260K/stories260K.bin, wikitext-2/test.txt, 245.3753, 5.502789",
        "stories260K/stories260K.bin, ptb/ptb.test.txt, 146.2620, 4.985400",
        "stories260K-hf, tinystories/tinystories_val_sample.txt, 4.0677, 1.403074",
        "stories260K-hf-sharded, tinystories/tinystories_val_sample.txt, 4.0677, 1.403074",
        "stories260K-hf-bf16, tinystories/tinystories_val_sample.txt, 4.0692, 1.403450",
    })
    void matchesReference(String model, String data, double referencePpl, double referenceNll) {
        CliRun run = CliRun.of(
                "eval",
                "--quiet",
                "--model",
                SharedData.model(model).toString(),
                "--tokenizer",
                SharedData.model("stories260K/tok512.bin").toString(),
                "--data",
                SharedData.data(data).toString(),
                "--protocol",
                "stream",
                "--max-tokens",
                "20480");
        assertEquals(0, run.exitCode(), run.err());
        Matcher m = SUMMARY.matcher(run.lastLine());
        assertEquals(true, m.matches(), "last line: " + run.lastLine());
        double ppl = Double.parseDouble(m.group(1));
        assertEquals(
                String.format(Locale.ROOT, "%.4g", referencePpl),
                String.format(Locale.ROOT, "%.4g", ppl),
                "perplexity to 4 significant digits");
        assertEquals(referenceNll, Double.parseDouble(m.group(2)), 2e-5, "mean NLL");
        assertEquals(20440, Integer.parseInt(m.group(3)), "tokens scored");
    }
}
