package dev.espalier.cli;

import dev.espalier.cli.commands.BenchCommand;
import dev.espalier.cli.commands.CancelCommand;
import dev.espalier.cli.commands.CliVersion;
import dev.espalier.cli.commands.CompareCommand;
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
@Command(
        name = "espalier",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Prunes LLaMA-family language models with forward passes only.",
        subcommands = {
            InspectCommand.class,
            EvalCommand.class,
            GenerateCommand.class,
            PruneCommand.class,
            ResumeCommand.class,
            ServeCommand.class,
            SubmitCommand.class,
            StatusCommand.class,
            WatchCommand.class,
            CancelCommand.class,
            BenchCommand.class,
            PlotWidthsCommand.class,
            CompareCommand.class,
            CommandLine.HelpCommand.class
        },
        footer = {
            "",
            "Examples:",
            "  ./espalier inspect ../shared/models/stories260K-hf",
            "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin \\",
            "      --data ../shared/data/tinystories/tinystories_val_sample.txt --protocol stream --max-tokens 20480",
            "  ./espalier generate --model ../shared/models/stories260K-hf --steps 200 --temperature 0",
            "  ./espalier prune --model ../shared/models/stories260K/stories260K.bin --method wanda --sparsity 0.5 \\",
            "      --calib ../shared/data/c4/c4_validation_2k.jsonl --out out/stories-wanda50",
            "  ./espalier serve --slots 1",
            "  ./espalier watch 20261122-163827-3fa9",
            "  ./espalier bench",
            "  ./espalier prune --help    # every verb: its flags, then complete examples"
        })
public final class EspalierCli implements Runnable {

    /** Columns of every verb's help; the longest example line is shorter. */
    public static final int HELP_WIDTH = 120;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of main). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /**
     * The whole command tree as {@link #main} runs it: errors reported in one line, enum values case-insensitive,
     * help {@value #HELP_WIDTH} columns wide so that no example command is wrapped mid-word.
     */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new EspalierCli());
        cli.setExecutionExceptionHandler(new ErrorReporter());
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setUsageHelpWidth(HELP_WIDTH);
        return cli;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
