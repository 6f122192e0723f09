package dev.espalier.cli.commands;

import picocli.CommandLine.Option;

/** Output options of the verbs that run a job in this process ({@code prune}, {@code resume}). */
public final class RunOutputOptions {

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;
}
