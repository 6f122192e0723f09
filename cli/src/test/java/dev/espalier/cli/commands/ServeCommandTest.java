package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeOptions;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ServeCommandTest {

    @Test
    void parsesANodeConfiguration() {
        ServeCommand serve = parse(ServeCommand.class, "serve", "--home", "/data/espalier", "--port", "0", "--slots", "2",
                "--queue", "8", "--bind", "0.0.0.0", "--verbose");
        assertEquals(Path.of("/data/espalier"), serve.home);
        assertEquals(0, serve.port);
        assertEquals(2, serve.slots);
        assertEquals(8, serve.queue);
        assertEquals("0.0.0.0", serve.bind);
        assertTrue(serve.verbose);
    }

    @Test
    void defaultsAreTheNodesDefaults() {
        ServeCommand serve = parse(ServeCommand.class, "serve");
        assertNull(serve.home);
        assertEquals(NodeOptions.DEFAULT_PORT, serve.port);
        assertEquals(NodeOptions.DEFAULT_BIND, serve.bind);
        assertEquals(NodeOptions.DEFAULT_SLOTS, serve.slots);
        assertEquals(NodeOptions.DEFAULT_QUEUE_CAPACITY, serve.queue);
        assertFalse(serve.verbose);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("serve", "  ./espalier serve --home /data/espalier --port 0 --slots 2 --devices cpu:2");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused("--port", "serve", "--port", "seventy");
        refused("--slots", "serve", "--slots", "two");
        refused("--queue", "serve", "--queue");
    }
}
