package dev.espalier.cli.commands;

import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.protocol.v1.JobSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What a job reads and where it runs, whatever its method: the model, calibration, devices, evaluation data and
 * zero-shot tasks, as {@code prune}, {@code submit} and {@code compare} take them; the start of a {@link JobSpec}.
 */
public final class JobInputOptions {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "<dir|file>",
            description = "A Hugging Face folder (config.json + safetensors) or a llama2.c .bin file.")
    Path model;

    @Option(
            names = "--tokenizer",
            paramLabel = "<file>",
            description = "Tokenizer file (default: found next to the model).")
    Path tokenizer;

    @Option(
            names = "--calib",
            paramLabel = "<file|self>",
            description = "Calibration text, or `self` for text the model generates (default: none).")
    String calibration;

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
            names = "--eval-protocol",
            defaultValue = "stream",
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}, as `espalier eval --protocol`).")
    PerplexityProtocol evalProtocol;

    @Option(
            names = "--eval-max-tokens",
            defaultValue = "0",
            paramLabel = "N",
            description = "Score only the first N tokens of each file (default: all).")
    long evalMaxTokens;

    @Mixin
    TaskOptions tasks;

    /** A spec with these inputs, paths made absolute (the method, sparsity and output are the caller's to set). */
    JobSpec.Builder toSpec() {
        JobSpec.Builder spec = JobSpec.newBuilder()
                .setModel(absolute(model))
                .setCalibrationSamples(calibrationSamples)
                .setCalibrationSeqlen(calibrationSeqlen)
                .setSeed(seed)
                .addAllDevices(JobSpecs.devicesOf(devices))
                .setEvalMaxTokens(evalMaxTokens)
                .setEvalProtocol(dev.espalier.protocol.v1.PerplexityProtocol.valueOf(
                        "PERPLEXITY_PROTOCOL_" + evalProtocol.name()));
        if (tokenizer != null) {
            spec.setTokenizer(absolute(tokenizer));
        }
        if (calibration != null) {
            spec.setCalibration(
                    calibration.equals(JobSpecs.SELF_CALIBRATION) ? calibration : absolute(Path.of(calibration)));
        }
        evalData.forEach(file -> spec.addEvalData(absolute(file)));
        if (tasks.any()) {
            spec.setZeroShot(tasks.toSettings());
        }
        return spec;
    }

    private static String absolute(Path path) {
        return path.toAbsolutePath().normalize().toString();
    }
}
