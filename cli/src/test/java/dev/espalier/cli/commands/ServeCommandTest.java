package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServeCommandTest {

    @Test
    void parsesANodeConfiguration() {
        ServeCommand serve = parse(
                ServeCommand.class,
                "serve",
                "--home",
                "/data/espalier",
                "--port",
                "0",
                "--slots",
                "2",
                "--queue",
                "8",
                "--bind",
                "0.0.0.0",
                "--tls-cert",
                "node.crt",
                "--tls-key",
                "node.key",
                "--allow-out",
                "/data/runs",
                "--allow-out",
                "/scratch",
                "--verbose");
        assertEquals(Path.of("/data/espalier"), serve.home);
        assertEquals(0, serve.port);
        assertEquals(2, serve.slots);
        assertEquals(8, serve.queue);
        assertEquals("0.0.0.0", serve.bind);
        assertEquals(Path.of("node.crt"), serve.tlsCert);
        assertEquals(Path.of("node.key"), serve.tlsKey);
        assertEquals(List.of(Path.of("/data/runs"), Path.of("/scratch")), serve.allowOut);
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
        assertNull(serve.tlsCert);
        assertNull(serve.allowOut);
        assertFalse(serve.verbose);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        String help =
                assertHelp("serve", "  ./espalier serve --home /data/espalier --port 0 --slots 2 --devices cpu:2");
        assertTrue(help.contains("./espalier serve --bind 0.0.0.0 --tls-cert node.crt --tls-key node.key"), help);
        assertTrue(help.contains("ESPALIER_NODE_TOKEN"), help);
        assertFalse(help.contains("no authentication"), help);
    }

    @Test
    void bindingBeyondLoopbackWithoutTlsIsRefusedBeforeAnythingStarts(@TempDir Path home) {
        CliHarness.Run run = CliHarness.run("serve", "--home", home.toString(), "--port", "0", "--bind", "0.0.0.0");
        assertEquals(2, run.exit());
        assertEquals(
                "espalier serve: error: refusing to listen on 0.0.0.0: beyond loopback the node requires TLS (--tls-cert FILE"
                        + " --tls-key FILE), and TLS is not configured; bind 127.0.0.1 or give a certificate and key",
                run.err().lines().findFirst().orElseThrow());
        assertFalse(Files.exists(home.resolve("node.port")));
        assertFalse(Files.exists(home.resolve("node.token")));
    }

    @Test
    void tlsCertificateWithoutItsKeyIsRefused(@TempDir Path home) {
        CliHarness.Run run =
                CliHarness.run("serve", "--home", home.toString(), "--port", "0", "--tls-cert", "node.crt");
        assertEquals(2, run.exit());
        assertEquals(
                "espalier serve: error: --tls-cert and --tls-key go together: give both for TLS, or neither",
                run.err().lines().findFirst().orElseThrow());
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused("--port", "serve", "--port", "seventy");
        refused("--slots", "serve", "--slots", "two");
        refused("--queue", "serve", "--queue");
    }
}
