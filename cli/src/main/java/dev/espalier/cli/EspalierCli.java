package dev.espalier.cli;

import dev.espalier.cli.commands.BenchCommand;
import dev.espalier.cli.commands.CancelCommand;
import dev.espalier.cli.commands.EvalCommand;
import dev.espalier.cli.commands.GenerateCommand;
import dev.espalier.cli.commands.InspectCommand;
import dev.espalier.cli.commands.PlotWidthsCommand;
import dev.espalier.cli.commands.PruneCommand;
import dev.espalier.cli.commands.ResumeCommand;
import dev.espalier.cli.commands.ServeCommand;
import dev.espalier.cli.commands.StatusCommand;
import dev.espalier.cli.commands.SubmitCommand;
import dev.espalier.cli.commands.WatchCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code espalier} command. Exit codes: 0 success, 1 failure of the work, 2 bad usage or bad input. */
@Command(name = "espalier",
        mixinStandardHelpOptions = true,
        version = "espalier 0.1.0",
        description = "Prunes LLaMA-family language models with forward passes only.",
        subcommands = {InspectCommand.class, EvalCommand.class, GenerateCommand.class, PruneCommand.class, ResumeCommand.class,
                ServeCommand.class, SubmitCommand.class, StatusCommand.class, WatchCommand.class, CancelCommand.class,
                BenchCommand.class, PlotWidthsCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Examples:",
                "  ./espalier inspect ../shared/models/stories260K-hf",
                "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin \\",
                "      --data ../shared/data/tinystories/tinystories_val_sample.txt --protocol stream --max-tokens 20480",
                "  ./espalier generate --model ../shared/models/stories260K-hf --steps 200 --temperature 0",
                "  ./espalier prune --model ../shared/models/stories260K/stories260K.bin --method wanda --sparsity 0.5 \\",
                "      --calib ../shared/data/c4/c4_validation_2k.jsonl --out out/stories-wanda50",
                "  ./espalier bench"})
public final class EspalierCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of main). */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new EspalierCli());
        cli.setExecutionExceptionHandler(new ErrorReporter());
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        return cli.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
