package dev.espalier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EspalierCliTest {

    private static final Set<String> VERBS = Set.of(
            "inspect",
            "eval",
            "generate",
            "prune",
            "resume",
            "serve",
            "submit",
            "status",
            "watch",
            "cancel",
            "bench",
            "plot-widths",
            "compare",
            "help");

    @Test
    void theVerbsAreTheOnesWithATestEach() {
        assertEquals(
                new TreeSet<>(VERBS),
                new TreeSet<>(EspalierCli.commandLine().getSubcommands().keySet()));
    }

    @Test
    void everyVerbTakesHelpAndVersionAndExitsZero() {
        for (Map.Entry<String, CommandLine> verb :
                EspalierCli.commandLine().getSubcommands().entrySet()) {
            for (String flag : new String[] {"--help", "-h", "--version"}) {
                if (verb.getKey().equals("help") && flag.equals("--version")) {
                    continue; // picocli's own help verb takes no --version
                }
                StringWriter out = new StringWriter();
                StringWriter err = new StringWriter();
                int exit = EspalierCli.commandLine()
                        .setOut(new PrintWriter(out, true))
                        .setErr(new PrintWriter(err, true))
                        .execute(verb.getKey(), flag);
                assertEquals(0, exit, verb.getKey() + " " + flag + ": " + err);
                assertEquals("", err.toString(), verb.getKey() + " " + flag);
                if (flag.equals("--version")) {
                    assertEquals("espalier 0.1.0", out.toString().strip(), verb.getKey());
                }
            }
        }
    }

    @Test
    void topLevelHelpEndsWithExamples() {
        StringWriter out = new StringWriter();
        int exit = EspalierCli.commandLine().setOut(new PrintWriter(out, true)).execute("--help");
        assertEquals(0, exit);
        assertTrue(
                out.toString()
                        .strip()
                        .endsWith("./espalier prune --help    # every verb: its flags, then complete examples"),
                out.toString());
        assertTrue(
                out.toString().contains("\nExamples:\n  ./espalier inspect ../shared/models/stories260K-hf\n"),
                out.toString());
    }
}
