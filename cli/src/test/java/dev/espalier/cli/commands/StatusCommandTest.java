package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeOptions;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class StatusCommandTest {

    @Test
    void parsesOneJobOrAll() {
        StatusCommand one =
                parse(StatusCommand.class, "status", "20261122-163827-3fa9", "--node", "127.0.0.1:7070", "--verbose");
        assertEquals("20261122-163827-3fa9", one.jobId);
        assertEquals("127.0.0.1:7070", one.node.node);
        assertTrue(one.node.verbose);

        StatusCommand all = parse(StatusCommand.class, "status", "--home", "/data/espalier");
        assertNull(all.jobId);
        assertNull(all.node.node);
        assertEquals(Path.of("/data/espalier"), all.node.home());
        assertFalse(all.node.verbose);
    }

    @Test
    void theDefaultHomeIsTheNodesDefault() {
        assertEquals(
                NodeOptions.defaultHome(),
                parse(StatusCommand.class, "status").node.home());
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("status", "  ./espalier status 20261122-163827-3fa9");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused("--node", "status", "--node");
        refused("--watch", "status", "--watch");
    }

    @Test
    void aMalformedNodeAddressIsBadInput() {
        CliHarness.Run run = run("status", "--node", "localhost");
        assertEquals(2, run.exit());
        assertTrue(
                run.err()
                        .startsWith(
                                "espalier status: error: node address 'localhost' must be host:port, e.g. 127.0.0.1:7070"),
                run.err());
    }
}
