package dev.espalier.cli.commands;

import dev.espalier.engine.io.OutputFolder;
import dev.espalier.engine.job.JobExecutors;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobSpec;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code espalier prune}: prunes a model in this process, durably (resumable with {@code espalier resume}). */
@Command(
        name = "prune",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Prune a model in this process; the run directory makes it resumable.",
        footer = {
            "",
            "Examples:",
            "  ./espalier prune --model ../shared/models/stories260K/stories260K.bin --method wanda --sparsity 0.5 \\",
            "      --calib ../shared/data/c4/c4_validation_2k.jsonl --out out/stories-wanda50 \\",
            "      --eval-data ../shared/data/tinystories/tinystories_val_sample.txt --eval-protocol stream --eval-max-tokens 20480",
            "  ./espalier prune --model ../shared/models/stories260K-hf --method magnitude --pattern 2:4 \\",
            "      --calib ../shared/data/tinystories/tinystories_val_sample.txt --out out/stories-2of4 --devices cpu:2",
            "  ./espalier prune --model ../shared/models/stories260K/stories260K.bin --method policy-gradient --sparsity 0.3 \\",
            "      --init wanda-sp --steps 1000 --rollouts-in-flight 2 --devices cpu:2 --calib-samples 64 --calib-seqlen 128 \\",
            "      --calib ../shared/data/tinystories/tinystories_val_sample.txt --out out/stories-pg30",
            "  ./espalier prune --model ../shared/models/stories260K/stories260K.bin --method wanda-sp --sparsity 0.3 \\",
            "      --calib ../shared/data/tinystories/tinystories_val_sample.txt --calib-range 0:0.5 \\",
            "      --eval-data ../shared/data/tinystories/tinystories_val_sample.txt --eval-range 0.5:1 \\",
            "      --out out/stories-wsp30-halves    # calibrate on one half of the file, evaluate on the other",
            "  ./espalier prune --model ../shared/models/stories260K/stories260K.bin --recipe goa:0.2,alps:2:4 \\",
            "      --calib ../shared/data/c4/c4_validation_2k.jsonl --out out/stories-goa20-alps24    # two stages",
            "  ./espalier resume out/stories-wanda50.run    # after an interruption",
            "  ./espalier prune --model out/llama2-7b-bf16 --method sparsegpt --sparsity 0.5 --calib-samples 16 \\",
            "      --calib ../shared/data/c4/c4_validation_2k.jsonl --out out/l7b-sgpt50 --plan    # what it will cost"
        })
public final class PruneCommand implements Callable<Integer> {

    @Mixin
    MemoryBudgetOptions memory;

    @Mixin
    JobSpecOptions job;

    @Option(
            names = "--run-dir",
            paramLabel = "<dir>",
            description = "Run directory (default: <out>.run beside the output).")
    Path runDir;

    @Mixin
    RunOutputOptions output;

    @Option(
            names = "--plan",
            description =
                    "Print what the run will cost (work in FLOPs and the least time at this machine's measured GEMM"
                            + " rate, peak memory, disk for checkpoints, export and spills) and exit without running it.")
    boolean plan;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        JobSpec jobSpec = job.toJobSpec();
        JobSpecOptions.checkInputsExist(jobSpec);
        JobExecutors.validate(jobSpec);
        DeviceSpec.of(jobSpec.getDevicesList()); // the devices are on this host: checked before anything is written
        if (plan && jobSpec.getNextStagesCount() > 0) {
            throw new IllegalArgumentException(
                    "--plan covers one-method runs; for a recipe, plan its first stage with --method (the later"
                            + " stages' models do not exist yet)");
        }
        if (plan) {
            return RunPlanPrinter.print(
                    jobSpec, memory.bytes(), spec.commandLine().getOut());
        }
        Path dir = runDir != null ? runDir : Path.of(jobSpec.getOutput() + ".run");
        String jobId = RunDirectory.jobIdOf(dir).orElse("prune-" + UUID.randomUUID());
        OutputFolder.checkReplaceable(
                Path.of(jobSpec.getOutput()), jobId, jobSpec.getOverwriteOutput()); // before the run directory
        try (RunDirectory run = RunDirectory.openOrCreate(dir, jobId, jobSpec)) {
            return LocalJobRunner.run(
                    run, spec.commandLine().getOut(), spec.commandLine().getErr(), !output.quiet, memory.bytes());
        }
    }
}
