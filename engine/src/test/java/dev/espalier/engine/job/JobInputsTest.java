package dev.espalier.engine.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.data.TextRange;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.protocol.v1.JobSpec;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class JobInputsTest {
    private static final Path TINY = SharedFiles.path("data/tinystories/tinystories_val_sample.txt");
    private static final Tokenizer TOKENIZER = TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.bin"));

    private static JobSpec.Builder spec() {
        return JobSpec.newBuilder()
                .setCalibration(TINY.toString())
                .setCalibrationSamples(64)
                .setSeed(5);
    }

    /** How many of the samples, decoded after their BOS, are not text of {@code part}. */
    private static long outside(int[][] samples, String part) {
        return Arrays.stream(samples)
                .map(s -> TOKENIZER.decode(Arrays.copyOfRange(s, 1, s.length)).strip())
                .filter(text -> !part.contains(text))
                .count();
    }

    @Test
    void aPlainTextFileCalibratesAsJsonLinesDo() {
        int[][] samples = JobInputs.sampleCalibration(spec().build(), TOKENIZER, 64);
        assertEquals(64, samples.length);
        for (int[] s : samples) {
            assertEquals(64, s.length);
            assertEquals(TOKENIZER.bosId(), s[0]);
        }
        assertEquals(0, outside(samples, TextCorpus.read(TINY)), "every sample is text of the file");
    }

    @Test
    void aCalibrationFromTheFirstHalfNeverHoldsTextOfTheSecond() {
        String firstHalf = TextCorpus.read(TINY, TextRange.parse("--calib-range", "0:0.5"));
        int[][] ranged =
                JobInputs.sampleCalibration(spec().setCalibrationRange("0:0.5").build(), TOKENIZER, 64);
        assertEquals(0, outside(ranged, firstHalf));
        // the same draw over the whole file lands in the second half, so the check above can fail
        int[][] whole = JobInputs.sampleCalibration(spec().build(), TOKENIZER, 64);
        assertTrue(outside(whole, firstHalf) > 10, "samples of the whole file outside the first half");
    }

    @Test
    void anEvalRangeStreamIsTheStreamOfItsBytesAlone() {
        String secondHalf = TextCorpus.read(TINY, TextRange.parse("--eval-range", "0.5:1"));
        assertArrayEquals(
                TOKENIZER.encode(secondHalf, true),
                JobInputs.stream(
                        TINY.toString(),
                        JobInputs.evalRange(spec().setEvalRange("0.5:1").build()),
                        TOKENIZER));
        assertNull(JobInputs.evalRange(spec().build()));
        assertNull(JobInputs.calibrationRange(spec().build()));
    }
}
