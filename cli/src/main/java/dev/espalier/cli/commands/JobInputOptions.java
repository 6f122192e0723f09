package dev.espalier.cli.commands;

import dev.espalier.engine.data.TextRange;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.protocol.v1.ExportDType;
import dev.espalier.protocol.v1.JobSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What a job reads, where it runs and how it writes its model, whatever its method: the model, calibration, devices,
 * evaluation data, zero-shot tasks and the export's dtype and shard size, as {@code prune}, {@code submit} and
 * {@code compare} take them; the start of a {@link JobSpec}.
 */
public final class JobInputOptions {

    @Mixin
    ModelOptions modelOptions;

    @Option(
            names = "--calib",
            paramLabel = "<file|self>",
            description = "Calibration text, or `self` for text the model generates (default: none).")
    String calibration;

    @Option(
            names = "--calib-range",
            paramLabel = "START:END",
            converter = CalibrationRangeConverter.class,
            description = "Draw calibration only from this part of the --calib file: each side a fraction with a"
                    + " decimal point (0:0.5) or a byte offset (0:400KB, KB/MB powers of 1000, KiB/MiB of 1024); an"
                    + " empty side, 0 or 1 is the file's start or end (:0.5, 0.5:1; byte 1 is 1B). Both ends move forward to the next line"
                    + " start (the start unless it is 0 or already one; the end to the end of its line), so no"
                    + " line is split and 0:0.5 and 0.5:1 share no line; for JSON lines, whole records"
                    + " (default: the whole file).")
    TextRange calibrationRange;

    @Option(
            names = "--calib-samples",
            defaultValue = "128",
            paramLabel = "N",
            description = "Calibration sequences (default: ${DEFAULT-VALUE}).")
    int calibrationSamples;

    @Option(
            names = "--calib-seqlen",
            defaultValue = "0",
            paramLabel = "N",
            description = "Tokens per calibration sequence (default: the model's context length).")
    int calibrationSeqlen;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--devices",
            defaultValue = "cpu",
            description = "Devices, e.g. cpu, cpu:2, cuda:0,cuda:1 (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(
            names = "--eval-data",
            split = ",",
            paramLabel = "<file>",
            description = "Text files whose perplexity is measured before and after pruning (repeatable).")
    List<Path> evalData = new ArrayList<>();

    @Option(
            names = "--eval-range",
            paramLabel = "START:END",
            converter = EvalRangeConverter.class,
            description = "Score only this part of each --eval-data file, as --calib-range (e.g. 0.5:1 to evaluate on"
                    + " the half a --calib-range 0:0.5 left out; default: the whole file).")
    TextRange evalRange;

    @Option(
            names = "--eval-protocol",
            defaultValue = "stream",
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}, as `espalier eval --protocol`).")
    PerplexityProtocol evalProtocol;

    @Option(
            names = "--eval-seqlen",
            defaultValue = "0",
            paramLabel = "N",
            description = "Windows of N tokens for the stream and full protocols, e.g. 2048 or 4096 as the papers"
                    + " (default: the model's context; a Mistral model attends within its sliding window).")
    int evalSeqlen;

    @Option(
            names = "--eval-max-tokens",
            defaultValue = "0",
            paramLabel = "N",
            description = "Score only the first N tokens of each file (default: all).")
    long evalMaxTokens;

    @Mixin
    TaskOptions tasks;

    @Option(
            names = "--export-dtype",
            defaultValue = "auto",
            paramLabel = "auto|bf16|f16|f32",
            converter = ExportDtypeConverter.class,
            description =
                    "dtype of the exported weights (default: auto, the input checkpoint's; f32 for a llama2.c file).")
    ExportDType exportDtype;

    @Option(
            names = "--max-shard-size",
            defaultValue = "5GB",
            paramLabel = "<size>",
            converter = ByteSizeConverter.class,
            description = "Split the export into shards of at most this size with model.safetensors.index.json, as"
                    + " save_pretrained does (e.g. 5GB, 500MB, 2GiB; default: ${DEFAULT-VALUE}).")
    long maxShardBytes;

    /** Reads "bf16" as {@link ExportDType#EXPORT_D_TYPE_BF16}. */
    static final class ExportDtypeConverter implements ITypeConverter<ExportDType> {
        @Override
        public ExportDType convert(String value) {
            try {
                return JobSpecs.exportDtypeOf(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("--export-dtype: " + e.getMessage());
            }
        }
    }

    /** Reads --calib-range START:END ({@link TextRange}). */
    static final class CalibrationRangeConverter implements ITypeConverter<TextRange> {
        @Override
        public TextRange convert(String value) {
            return rangeOf("--calib-range", value);
        }
    }

    /** Reads --eval-range START:END ({@link TextRange}). */
    static final class EvalRangeConverter implements ITypeConverter<TextRange> {
        @Override
        public TextRange convert(String value) {
            return rangeOf("--eval-range", value);
        }
    }

    /** {@code value} as a range of {@code option}; picocli reports a refusal as a usage error naming both. */
    static TextRange rangeOf(String option, String value) {
        try {
            return TextRange.parse(option, value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }

    /** A spec with these inputs, paths made absolute (the method, sparsity and output are the caller's to set). */
    JobSpec.Builder toSpec() {
        JobSpec.Builder spec = JobSpec.newBuilder()
                .setModel(absolute(modelOptions.model))
                .setCalibrationSamples(calibrationSamples)
                .setCalibrationSeqlen(calibrationSeqlen)
                .setSeed(seed)
                .addAllDevices(JobSpecs.devicesOf(devices))
                .setEvalMaxTokens(evalMaxTokens)
                .setEvalSeqlen(evalSeqlen)
                .setEvalProtocol(dev.espalier.protocol.v1.PerplexityProtocol.valueOf(
                        "PERPLEXITY_PROTOCOL_" + evalProtocol.name()));
        if (modelOptions.tokenizer != null) {
            spec.setTokenizer(absolute(modelOptions.tokenizer));
        }
        if (calibration != null) {
            spec.setCalibration(
                    calibration.equals(JobSpecs.SELF_CALIBRATION) ? calibration : absolute(Path.of(calibration)));
        }
        if (calibrationRange != null) {
            spec.setCalibrationRange(calibrationRange.text());
        }
        evalData.forEach(file -> spec.addEvalData(absolute(file)));
        if (evalRange != null) {
            spec.setEvalRange(evalRange.text());
        }
        if (tasks.any()) {
            spec.setZeroShot(tasks.toSettings());
        }
        spec.setExportDtype(exportDtype);
        if (maxShardBytes != ModelExporter.DEFAULT_MAX_SHARD_BYTES) {
            spec.setMaxShardBytes(maxShardBytes);
        }
        return spec;
    }

    private static String absolute(Path path) {
        return path.toAbsolutePath().normalize().toString();
    }
}
