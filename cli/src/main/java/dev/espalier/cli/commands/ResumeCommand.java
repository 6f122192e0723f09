package dev.espalier.cli.commands;

import dev.espalier.engine.runtime.store.RunDirectory;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code espalier resume <run-dir>}: finishes an interrupted run; layers already checkpointed are not pruned again. */
@Command(
        name = "resume",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Finish an interrupted run from its run directory (same result as an uninterrupted run).",
        footer = {
            "",
            "Examples:",
            "  ./espalier resume out/stories-wanda50.run",
            "  ./espalier resume out/stories-wanda50.run --quiet    # no progress bar"
        })
public final class ResumeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<run-dir>", description = "The run directory of the interrupted job.")
    Path runDir;

    @Mixin
    MemoryBudgetOptions memory;

    @Mixin
    RunOutputOptions output;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!RunDirectory.isRunDirectory(runDir)) {
            throw new IllegalArgumentException(
                    runDir + ": not a run directory (expected spec.pb and manifest.pb, as `espalier prune` writes)");
        }
        try (RunDirectory run = RunDirectory.open(runDir)) {
            return LocalJobRunner.run(
                    run, spec.commandLine().getOut(), spec.commandLine().getErr(), !output.quiet, memory.bytes());
        }
    }
}
