package dev.espalier.engine.job;

import dev.espalier.engine.data.CalibrationSampler;
import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.data.TextRange;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.protocol.v1.ExportForm;
import dev.espalier.protocol.v1.JobSpec;
import java.nio.file.Path;
import java.util.Map;

/** What every job reads from a {@link JobSpec} the same way: the tokenizer, calibration sequences, text streams, settings. */
final class JobInputs {
    private JobInputs() {}

    /** The spec's tokenizer, or the one found next to the model. */
    static Tokenizer tokenizer(JobSpec spec) {
        return spec.getTokenizer().isEmpty()
                ? TokenizerLoader.forModel(Path.of(spec.getModel()))
                : TokenizerLoader.load(Path.of(spec.getTokenizer()));
    }

    /** The tokenizer files to copy next to the exported model (source → name), so that it loads on its own. */
    static Map<Path, String> tokenizerFiles(JobSpec spec) {
        return TokenizerLoader.exportFiles(
                spec.getTokenizer().isEmpty()
                        ? TokenizerLoader.locate(Path.of(spec.getModel()))
                        : Path.of(spec.getTokenizer()));
    }

    /** Tokens per calibration sequence: the spec's, or the model's context capped at {@code cap}. */
    static int seqlen(JobSpec spec, LlamaConfig config, int cap) {
        return spec.getCalibrationSeqlen() > 0
                ? spec.getCalibrationSeqlen()
                : Math.min(config.maxPositionEmbeddings(), cap);
    }

    /** Whether the spec asks for data-free calibration on text the model writes. */
    static boolean selfCalibration(JobSpec spec) {
        return spec.getCalibration().equals(JobSpecs.SELF_CALIBRATION);
    }

    /** The spec's calibration sequences drawn from its calibration text (seeded), within its calibration range. */
    static int[][] sampleCalibration(JobSpec spec, Tokenizer tokenizer, int seqlen) {
        return CalibrationSampler.sample(
                stream(spec.getCalibration(), calibrationRange(spec), tokenizer),
                spec.getCalibrationSamples(),
                seqlen,
                spec.getSeed(),
                tokenizer.bosId());
    }

    /** The lines of a text file that {@code range} selects (null: all) as one token stream starting at BOS. */
    static int[] stream(String file, TextRange range, Tokenizer tokenizer) {
        return tokenizer.encode(TextCorpus.read(Path.of(file), range), true);
    }

    /** The spec's calibration range (--calib-range), or null for the whole file. */
    static TextRange calibrationRange(JobSpec spec) {
        return range(CALIBRATION_RANGE_OPTION, spec.getCalibrationRange());
    }

    /** The spec's evaluation range (--eval-range), or null for the whole of each file. */
    static TextRange evalRange(JobSpec spec) {
        return range(EVAL_RANGE_OPTION, spec.getEvalRange());
    }

    /** The flag names of the two ranges, for messages. */
    static final String CALIBRATION_RANGE_OPTION = "--calib-range";

    static final String EVAL_RANGE_OPTION = "--eval-range";

    private static TextRange range(String option, String value) {
        return value.isEmpty() ? null : TextRange.parse(option, value);
    }

    /** The devices the spec asks for among the process's. */
    static DeviceSpec devices(JobSpec spec) {
        return DeviceSpec.of(spec.getDevicesList());
    }

    /** Structured methods: whether the export is the masked-dense form (dense shapes, zeros) instead of the compact one. */
    static boolean maskedDense(JobSpec spec) {
        return spec.getStructured().getExport() == ExportForm.EXPORT_FORM_MASKED_DENSE;
    }

    /** Batches of demand a stage grants at once (default 4). */
    static int window(JobSpec spec) {
        return spec.getRuntime().hasWindow() ? spec.getRuntime().getWindow() : 4;
    }

    /** Nodes of a cluster the job's layer pipeline spans (default 1: the job's own node only). */
    static int pipelineNodes(JobSpec spec) {
        return spec.getRuntime().hasPipelineNodes() ? spec.getRuntime().getPipelineNodes() : 1;
    }

    /** Pipeline restarts from the last checkpoint allowed after device failures (default 2). */
    static int maxRestarts(JobSpec spec) {
        return spec.getRuntime().hasMaxRestarts() ? spec.getRuntime().getMaxRestarts() : 2;
    }
}
