package dev.espalier.engine.runtime.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of a cluster node that need no cluster: its settings, the shared token, the shared job store. */
class ClusterPiecesTest {
    @TempDir
    Path tmp;

    private ClusterOptions options(String bind, List<String> seeds, ClusterOptions.ClusterTls tls) {
        return new ClusterOptions(tmp.resolve("shared"), bind, 25520, seeds, Duration.ofSeconds(3), tls, null);
    }

    @Test
    void settingsJoinTheSeedsOverArteryWithTheSplitBrainResolver() {
        Config config = ClusterConfig.of(options("127.0.0.1", List.of("127.0.0.1:25521", "localhost:25522"), null));
        assertEquals("cluster", config.getString("pekko.actor.provider"));
        assertEquals("tcp", config.getString("pekko.remote.artery.transport"));
        assertEquals("127.0.0.1", config.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals(25520, config.getInt("pekko.remote.artery.canonical.port"));
        assertEquals(
                List.of("pekko://espalier@127.0.0.1:25521", "pekko://espalier@localhost:25522"),
                config.getStringList("pekko.cluster.seed-nodes"));
        assertEquals("keep-majority", config.getString("pekko.cluster.split-brain-resolver.active-strategy"));
        assertEquals(Duration.ofSeconds(3), config.getDuration("pekko.cluster.split-brain-resolver.stable-after"));
        assertFalse(config.getBoolean("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook"));
        // Espalier's own settings are still there underneath.
        assertTrue(config.hasPath("espalier.device-dispatcher"));
    }

    @Test
    void aNodeWithoutSeedsStartsANewClusterWithItself() {
        Config config = ClusterConfig.of(options("127.0.0.1", List.of(), null));
        assertEquals(List.of("pekko://espalier@127.0.0.1:25520"), config.getStringList("pekko.cluster.seed-nodes"));
    }

    @Test
    void tlsSwitchesArteryToMutualTls() {
        ClusterOptions.ClusterTls tls = new ClusterOptions.ClusterTls(Path.of("/k.p12"), Path.of("/t.p12"), "pw");
        Config config = ClusterConfig.of(options("10.0.0.5", List.of("10.0.0.6:25520"), tls));
        assertEquals("tls-tcp", config.getString("pekko.remote.artery.transport"));
        String engine = "pekko.remote.artery.ssl.config-ssl-engine.";
        assertEquals("/k.p12", config.getString(engine + "key-store"));
        assertEquals("/t.p12", config.getString(engine + "trust-store"));
        assertTrue(config.getBoolean(engine + "require-mutual-authentication"));
        assertFalse(tls.toString().contains("pw"), "the password stays out of logs: " + tls);
    }

    @Test
    void beyondLoopbackWithoutTlsIsRefused() {
        IllegalArgumentException bind = assertThrows(
                IllegalArgumentException.class, () -> ClusterConfig.of(options("0.0.0.0", List.of(), null)));
        assertTrue(bind.getMessage().contains("requires Artery TLS"), bind.getMessage());
        IllegalArgumentException seed = assertThrows(
                IllegalArgumentException.class,
                () -> ClusterConfig.of(options("127.0.0.1", List.of("10.1.2.3:25520"), null)));
        assertTrue(seed.getMessage().contains("refusing to join seed 10.1.2.3:25520"), seed.getMessage());
    }

    @Test
    void aConfigFileOverridesTheFlagsAndAMissingOneIsRefused() throws Exception {
        Path file = Files.writeString(
                tmp.resolve("cluster.conf"), "pekko.cluster.split-brain-resolver.stable-after = 42s\n");
        ClusterOptions withFile =
                new ClusterOptions(tmp, "127.0.0.1", 25520, List.of(), Duration.ofSeconds(3), null, file);
        assertEquals(
                Duration.ofSeconds(42),
                ClusterConfig.of(withFile).getDuration("pekko.cluster.split-brain-resolver.stable-after"));
        ClusterOptions missing = new ClusterOptions(
                tmp, "127.0.0.1", 25520, List.of(), Duration.ofSeconds(3), null, tmp.resolve("nope.conf"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.of(missing));
        assertTrue(e.getMessage().startsWith("--cluster-config " + tmp.resolve("nope.conf")), e.getMessage());
    }

    @Test
    void badOptionsAreRefusedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> options("127.0.0.1", List.of("nohost"), null))
                .getMessage()
                .contains("seed node 'nohost': expected host:port"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> new ClusterOptions(tmp, "127.0.0.1", 0, List.of(), Duration.ofSeconds(1), null, null))
                .getMessage()
                .startsWith("--cluster-port must be in [1, 65535]"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> new ClusterOptions(tmp, "127.0.0.1", 1, List.of(), Duration.ZERO, null, null))
                .getMessage()
                .startsWith("--down-after must be positive"));
    }

    /** Nodes of a cluster start together over one folder: all must end up with the one token written first. */
    @Test
    void nodesCreatingTheSharedTokenAtOnceAgreeOnIt() throws Exception {
        for (int round = 0; round < 20; round++) {
            Path folder = Files.createDirectories(tmp.resolve("round-" + round));
            int nodes = 8;
            CountDownLatch start = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(nodes);
            try {
                List<Future<String>> tokens = new ArrayList<>();
                for (int i = 0; i < nodes; i++) {
                    tokens.add(pool.submit(() -> {
                        start.await();
                        return NodeToken.createOrReuse(folder).value();
                    }));
                }
                start.countDown();
                Set<String> distinct = new HashSet<>();
                for (Future<String> t : tokens) {
                    distinct.add(t.get());
                }
                assertEquals(1, distinct.size(), "round " + round + ": " + distinct.size() + " different tokens");
                assertEquals(
                        distinct.iterator().next(),
                        Files.readString(folder.resolve(NodeToken.FILE)).strip());
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void tokenProofsNameTheNodeAndHideTheToken() {
        NodeToken token = NodeToken.createOrReuse(tmp);
        String proof = token.proofFor("127.0.0.1:25520");
        assertTrue(token.proves(proof, "127.0.0.1:25520"));
        assertFalse(token.proves(proof, "127.0.0.1:25521"), "a proof is bound to the node's name");
        assertFalse(NodeToken.of("f".repeat(64)).proves(proof, "127.0.0.1:25520"), "another token proves nothing");
        assertFalse(proof.contains(token.value()));
    }

    /** Two nodes' views of one shared folder: each sees what the other creates and saves, and neither removes the other's temporary files. */
    @Test
    void sharedStoresSeeEachOthersJobsAndLeaveTemporaryFilesAlone() throws Exception {
        Path shared = tmp.resolve("shared");
        JobStore a = new JobStore(shared, true);
        Path staging = Files.createDirectories(shared.resolve("jobs").resolve(AtomicFiles.tempName("x")));
        JobStore b = new JobStore(shared, true);
        assertTrue(Files.isDirectory(staging), "a node starting must not remove a job another node is creating");
        try {
            JobRecord created = a.create(JobSpec.newBuilder().setModel("m").build(), 0);
            assertTrue(b.find(created.id).isEmpty(), "b has not looked yet");
            b.refresh(r -> false);
            assertEquals(
                    JobState.JOB_STATE_QUEUED,
                    b.find(created.id).orElseThrow().status().getState());

            a.save(
                    created,
                    created.status().toBuilder()
                            .setState(JobState.JOB_STATE_RUNNING)
                            .setNode("127.0.0.1:25520")
                            .build());
            JobRecord seen = b.reload(created.id).orElseThrow();
            assertEquals(JobState.JOB_STATE_RUNNING, seen.status().getState());
            assertEquals("127.0.0.1:25520", seen.status().getNode());

            b.save(seen, seen.status().toBuilder().setMessage("live on b").build());
            String ownMessage = a.find(created.id).orElseThrow().status().getMessage();
            a.refresh(r -> r.id.equals(created.id)); // a runs it: its live record is kept
            assertEquals(ownMessage, a.find(created.id).orElseThrow().status().getMessage());
            a.refresh(r -> false);
            assertEquals("live on b", a.find(created.id).orElseThrow().status().getMessage());
            assertTrue(b.reload("no-such-job").isEmpty());
            assertTrue(b.reload("../escape").isEmpty());
            assertEquals(Set.of(created.id), b.all().stream().map(r -> r.id).collect(Collectors.toSet()));
        } finally {
            a.close();
            b.close();
        }
        JobStore alone = new JobStore(tmp.resolve("alone"));
        assertThrows(IllegalStateException.class, () -> alone.refresh(r -> false));
        alone.close();
    }
}
