package dev.espalier.cli.commands;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.cli.EspalierCli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/** Runs and parses command lines through the whole {@code espalier} tree, as {@link EspalierCli#main} does, capturing output. */
final class CliHarness {
    private CliHarness() {}

    /** Exit code and what a command printed to its out and err writers. */
    record Run(int exit, String out, String err) {}

    /** An example line (or the continuation of one) of a help footer: {@code ./espalier …}, {@code id=$(./espalier …}. */
    private static final Pattern EXAMPLE = Pattern.compile("  (\\w+=\\$\\()?\\./espalier( .*)?|      \\S.*");

    /** Executes {@code args} ({@code verb flags…}) and returns its exit code and output. */
    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli =
                EspalierCli.commandLine().setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /** Parses {@code verb flags…} without running anything and returns the verb's command object, its fields set. */
    static <T> T parse(Class<T> verb, String... args) {
        ParseResult parsed = EspalierCli.commandLine().parseArgs(args);
        assertTrue(parsed.hasSubcommand(), "no verb in " + List.of(args));
        return verb.cast(parsed.subcommand().commandSpec().userObject());
    }

    /** Asserts that parsing {@code args} is refused, with a message naming {@code flag}; returns the message. */
    static String refused(String flag, String... args) {
        ParameterException e = assertThrows(
                ParameterException.class, () -> EspalierCli.commandLine().parseArgs(args));
        assertTrue(e.getMessage().contains(flag), "message should name " + flag + ": " + e.getMessage());
        Run run = run(args);
        assertEquals(2, run.exit(), "exit code of a refused command line");
        assertTrue(run.err().contains(flag), "stderr should name " + flag + ": " + run.err());
        return e.getMessage();
    }

    /**
     * Runs {@code espalier VERB --help} and checks that it exits 0 without picocli warnings, prints the verb's usage,
     * and ends with its examples: after the last "Example(s):" heading, only lines of complete {@code ./espalier}
     * commands (with their continuation lines), none wrapped; {@code expectedExample} is one of them, verbatim.
     * Returns the help text.
     */
    static String assertHelp(String verb, String expectedExample) {
        Run help;
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        PrintStream original = System.err;
        synchronized (CliHarness.class) {
            System.setErr(
                    new PrintStream(stderr, true, StandardCharsets.UTF_8)); // picocli's own warnings go to System.err
            try {
                help = verb.isEmpty() ? run("--help") : run(verb, "--help");
            } finally {
                System.setErr(original);
            }
        }
        assertEquals(0, help.exit(), help.err());
        assertEquals("", help.err());
        assertFalse(
                stderr.toString(StandardCharsets.UTF_8).contains("picocli WARN"),
                stderr.toString(StandardCharsets.UTF_8));
        assertTrue(help.out().startsWith("Usage: espalier" + (verb.isEmpty() ? "" : " " + verb) + " "), help.out());
        assertTrue(help.out().contains("  -h, --help "), help.out());
        List<String> lines = help.out().lines().toList();
        int heading = Math.max(lines.lastIndexOf("Examples:"), lines.lastIndexOf("Example:"));
        assertTrue(heading > 0, "no Examples: heading in\n" + help.out());
        List<String> examples = lines.subList(heading + 1, lines.size());
        assertFalse(examples.isEmpty(), "no examples after the heading");
        for (String line : examples) {
            assertTrue(EXAMPLE.matcher(line).matches(), "not an example command line: '" + line + "'");
            assertTrue(line.length() <= EspalierCli.HELP_WIDTH, "too long: " + line);
        }
        assertTrue(
                EXAMPLE.matcher(examples.getFirst()).matches()
                        && examples.getFirst().contains("./espalier"),
                examples.getFirst());
        assertFalse(examples.getLast().endsWith("\\"), "the last example is cut: " + examples.getLast());
        assertTrue(
                examples.contains(expectedExample),
                "missing example '" + expectedExample + "' in\n" + String.join("\n", examples));
        return help.out();
    }

    /** The shared models and data from the module folder: ../../shared in a worktree, else ../shared. */
    static String shared(String relative) {
        Path root = java.nio.file.Files.isDirectory(Path.of("../../shared/models"))
                ? Path.of("../../shared")
                : Path.of("../shared");
        return root.resolve(relative).toString();
    }
}
