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
    void parsesAClusterNode() {
        ServeCommand serve = parse(
                ServeCommand.class,
                "serve",
                "--cluster",
                "--cluster-dir",
                "/shared/espalier",
                "--cluster-port",
                "25521",
                "--seed",
                "10.0.0.5:25520",
                "--seed",
                "10.0.0.6:25520",
                "--down-after",
                "500ms");
        assertTrue(serve.cluster);
        assertEquals(Path.of("/shared/espalier"), serve.clusterDir);
        assertEquals(25521, serve.clusterPort);
        assertEquals(List.of("10.0.0.5:25520", "10.0.0.6:25520"), serve.seeds);
        assertEquals(NodeOptions.DEFAULT_BIND, serve.clusterBind);
        assertEquals(java.time.Duration.ofMillis(500), ServeCommand.durationOf(serve.downAfter));
        assertEquals(java.time.Duration.ofMinutes(2), ServeCommand.durationOf("2m"));
        assertEquals(
                java.time.Duration.ofSeconds(20),
                ServeCommand.durationOf(parse(ServeCommand.class, "serve").downAfter));
    }

    @Test
    void badClusterFlagsAreRefusedByName(@TempDir Path home) {
        assertEquals(
                "espalier serve: error: --cluster-dir, --seed, --cluster-tls-* and --cluster-config belong to a cluster"
                        + " node: add --cluster",
                firstError("serve", "--home", home.toString(), "--port", "0", "--seed", "127.0.0.1:25520"));
        assertEquals(
                "espalier serve: error: --cluster needs --cluster-dir <dir>: the run folder every node of the cluster"
                        + " shares",
                firstError("serve", "--home", home.toString(), "--port", "0", "--cluster"));
        assertEquals(
                "espalier serve: error: --down-after '5 minutes': expected a number and a unit (ms, s or m), e.g. 20s",
                clusterError(home, "--down-after", "5 minutes"));
        assertEquals(
                "espalier serve: error: seed node 'somewhere': expected host:port, e.g. 10.0.0.5:25520",
                clusterError(home, "--seed", "somewhere"));
        assertFalse(Files.exists(home.resolve("node.port")));
        assertFalse(Files.exists(home.resolve("shared")));
    }

    @Test
    void aClusterPortBeyondLoopbackWithoutTlsIsRefusedBeforeAnythingStarts(@TempDir Path home) {
        Path shared = home.resolve("shared");
        assertEquals(
                "espalier serve: error: refusing to open the cluster port on 0.0.0.0: beyond loopback the cluster"
                        + " requires Artery TLS (--cluster-tls-keystore FILE --cluster-tls-truststore FILE, password in"
                        + " ESPALIER_CLUSTER_TLS_PASSWORD), and it is not configured; bind 127.0.0.1 or give them",
                clusterError(home, "--cluster-bind", "0.0.0.0"));
        assertEquals(
                "espalier serve: error: refusing to join seed 10.1.2.3:25520 beyond loopback without Artery TLS"
                        + " (--cluster-tls-keystore, --cluster-tls-truststore)",
                clusterError(home, "--seed", "10.1.2.3:25520"));
        assertFalse(Files.exists(home.resolve("node.port")));
        assertFalse(Files.exists(shared.resolve("node.token")));
    }

    /** The first error line of a cluster node in {@code home} (run folder {@code home/shared}) with one more flag. */
    private static String clusterError(Path home, String flag, String value) {
        return firstError(
                "serve",
                "--home",
                home.toString(),
                "--port",
                "0",
                "--cluster",
                "--cluster-dir",
                home.resolve("shared").toString(),
                flag,
                value);
    }

    private static String firstError(String... args) {
        CliHarness.Run run = CliHarness.run(args);
        assertEquals(2, run.exit(), run.err());
        return run.err().lines().findFirst().orElseThrow();
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
