package dev.espalier.cli;

import dev.espalier.cli.commands.CommonOptions;
import picocli.CommandLine;

/**
 * Turns an exception from a command into one line on stderr and a non-zero exit code; the stack trace is printed
 * only with {@code --verbose}. Bad input (files, formats, arguments) exits 2, any other failure 1.
 */
final class ErrorReporter implements CommandLine.IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        boolean verbose = parsed.subcommands().stream().anyMatch(sub -> sub.hasMatchedOption("--verbose"))
                || parsed.hasMatchedOption("--verbose");
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        cmd.getErr().println("espalier " + cmd.getCommandName() + ": error: " + message);
        if (verbose) {
            e.printStackTrace(cmd.getErr());
        } else {
            cmd.getErr().println("(run with --verbose for the stack trace)");
        }
        return CommonOptions.isBadInput(e) ? 2 : 1;
    }
}
