package dev.espalier.it;

import static dev.espalier.it.ClusterNodes.awaitList;
import static dev.espalier.it.ClusterNodes.clusterFlags;
import static dev.espalier.it.ClusterNodes.events;
import static dev.espalier.it.ClusterNodes.freePort;
import static dev.espalier.it.ClusterNodes.isTerminal;
import static dev.espalier.it.ClusterNodes.list;
import static dev.espalier.it.ClusterNodes.read;
import static dev.espalier.it.ClusterNodes.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.protocol.v1.ClusterNode;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsResponse;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.SubmitJobRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three {@code espalier serve --cluster} JVMs on loopback over one shared run folder, running real pruning jobs of
 * stories260K: jobs submitted to one node spread over the others, a node that joins later takes work, a node killed
 * with SIGKILL mid-job loses nothing (its jobs resume elsewhere from their checkpoints), and every model is
 * byte-identical to the one a node on its own makes from the same spec.
 */
@Timeout(600)
class ClusterIT {
    private static final int JOBS = 12;
    private static final int DISTINCT_SPECS = 4;

    @TempDir
    Path tmp;

    private ClusterNodes nodes;

    @BeforeEach
    void nodes() {
        nodes = new ClusterNodes(tmp);
    }

    @AfterEach
    void killNodes() {
        nodes.close();
    }

    /** Job {@code i}: one of {@link #DISTINCT_SPECS} real pruning jobs (ALPS and SparseGPT, long enough to be killed mid-way). */
    private JobSpec spec(int i, Path out) {
        int kind = i % DISTINCT_SPECS;
        return JobSpec.newBuilder()
                .setModel(SharedData.model("stories260K/stories260K.bin").toString())
                .setMethod(kind % 2 == 0 ? PruneMethod.PRUNE_METHOD_ALPS : PruneMethod.PRUNE_METHOD_SPARSEGPT)
                .setSparsity(0.5)
                .setPattern(
                        kind < 2 ? SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED : SparsityPattern.SPARSITY_PATTERN_2_4)
                .setSeed(kind)
                .setCalibration(SharedData.data("tinystories/tinystories_val_sample.txt")
                        .toString())
                .setCalibrationSamples(64)
                .addDevices(Device.newBuilder().setKind(Device.Kind.KIND_CPU))
                .setOutput(out.toString())
                .build();
    }

    @Test
    void jobsSpreadOverTheNodesAndSurviveANodeKilledMidJob() throws Exception {
        int portA = freePort();
        int portB = freePort();
        int portC = freePort();
        nodes.startClusterNode("a", portA, null);
        Process b = nodes.startClusterNode("b", portB, portA);
        String nodeB = "127.0.0.1:" + portB;
        String nodeC = "127.0.0.1:" + portC;
        List<String> ids = new ArrayList<>();
        try (NodeClient a = nodes.client("a")) {
            awaitList(a, l -> l.getNodesCount() == 2, 60);
            for (int i = 0; i < JOBS; i++) {
                ids.add(a.blocking(30)
                        .submitJob(SubmitJobRequest.newBuilder()
                                .setSpec(spec(i, tmp.resolve("out-" + i)))
                                .build())
                        .getJobId());
            }
            nodes.startClusterNode("c", portC, portA); // joins while the jobs run
            awaitList(
                    a,
                    l -> l.getJobsList().stream()
                            .anyMatch(j -> j.getState() == JobState.JOB_STATE_RUNNING
                                    && j.getNode().equals(nodeB)
                                    && j.getMessage().matches("layer \\d+ pruned")),
                    120);
            b.destroyForcibly().waitFor(); // SIGKILL in the middle of a job

            ListJobsResponse done =
                    awaitList(a, l -> l.getJobsList().stream().allMatch(j -> isTerminal(j.getState())), 420);
            assertEquals(JOBS, done.getJobsCount());
            for (JobStatus job : done.getJobsList()) {
                assertEquals(JobState.JOB_STATE_SUCCEEDED, job.getState(), job.toString());
            }
            List<String> nodes =
                    done.getNodesList().stream().map(ClusterNode::getName).toList();
            assertFalse(nodes.contains(nodeB), "the killed node left the cluster: " + nodes);
            assertTrue(nodes.contains(nodeC), "the late node is a member: " + nodes);
            assertTrue(
                    done.getJobsList().stream().anyMatch(j -> j.getNode().equals(nodeC)),
                    "the node that joined later ran jobs: " + done.getJobsList());

            int resumed = 0;
            for (String id : ids) {
                List<JobEvent> events = events(a, id);
                long fresh = events.stream()
                        .filter(e -> e.hasStarted() && !e.getStarted().getResumed())
                        .count();
                long again = events.stream()
                        .filter(e -> e.hasStarted() && e.getStarted().getResumed())
                        .count();
                assertEquals(1, fresh, id + " started from scratch once: " + events);
                assertTrue(again <= 1, id + " resumed at most once (one node was killed): " + events);
                assertEquals(1, events.stream().filter(JobEvent::hasSucceeded).count(), id + " succeeded once");
                resumed += (int) again;
            }
            assertTrue(resumed >= 1, "a job of the killed node resumed on another");
        }

        CliProcess status = CliProcess.run(
                tmp, List.of(), "status", "--home", tmp.resolve("a").toString());
        assertEquals(0, status.exitCode(), status.err());
        assertTrue(
                status.out().contains("127.0.0.1:" + portA + " *"),
                "status names the scheduler's node:\n" + status.out());
        assertTrue(status.out().contains(nodeC), status.out());
        assertFalse(status.out().contains(nodeB), status.out());

        Map<Integer, String> reference = singleNodeReference();
        for (int i = 0; i < JOBS; i++) {
            assertEquals(
                    reference.get(i % DISTINCT_SPECS),
                    sha256(tmp.resolve("out-" + i).resolve("model.safetensors")),
                    "job " + i + " gives the bytes of the same spec on a node on its own");
        }
    }

    /**
     * The node that hosts the scheduler is killed while the others run jobs submitted to them: the scheduler moves to
     * the oldest node left, rebuilds the queue from the run folder, and every job ends SUCCEEDED.
     */
    @Test
    void theSchedulerMovesWhenItsNodeIsKilled() throws Exception {
        int portA = freePort();
        int portB = freePort();
        int portC = freePort();
        Process a = nodes.startClusterNode("a", portA, null);
        nodes.startClusterNode("b", portB, portA);
        nodes.startClusterNode("c", portC, portA);
        String nodeA = "127.0.0.1:" + portA;
        try (NodeClient b = nodes.client("b")) {
            awaitList(b, l -> l.getNodesCount() == 3, 90);
            for (int i = 0; i < 6; i++) {
                b.blocking(30)
                        .submitJob(SubmitJobRequest.newBuilder()
                                .setSpec(spec(i, tmp.resolve("out-" + i)))
                                .build());
            }
            awaitList(
                    b,
                    l -> l.getJobsList().stream()
                            .anyMatch(j -> j.getState() == JobState.JOB_STATE_RUNNING
                                    && j.getNode().equals(nodeA)
                                    && j.getMessage().matches("layer \\d+ pruned")),
                    120);
            a.destroyForcibly().waitFor();
            long killed = System.nanoTime();
            awaitList(b, l -> l.getNodesCount() == 2, 120);
            System.out.printf(
                    "scheduler answering again %.1f s after its node was killed%n", (System.nanoTime() - killed) / 1e9);
            ListJobsResponse done = awaitList(
                    b,
                    l -> l.getNodesCount() == 2 && l.getJobsList().stream().allMatch(j -> isTerminal(j.getState())),
                    300);
            assertTrue(
                    done.getJobsList().stream().allMatch(j -> j.getState() == JobState.JOB_STATE_SUCCEEDED),
                    done.toString());
            assertTrue(
                    done.getNodesList().stream().anyMatch(ClusterNode::getScheduler),
                    "a node left hosts the scheduler: " + done.getNodesList());
            assertTrue(done.getNodesList().stream().noneMatch(n -> n.getName().equals(nodeA)));
        }
    }

    /** A node whose run folder holds another token joins the cluster's transport but gets no job and is downed. */
    @Test
    void aNodeWithoutTheClustersTokenIsDownedAndGetsNoWork() throws Exception {
        int portA = freePort();
        int portX = freePort();
        nodes.startClusterNode("a", portA, null);
        Process intruder = nodes.startClusterNode("x", tmp.resolve("elsewhere"), portX, portA);
        assertTrue(intruder.waitFor(90, java.util.concurrent.TimeUnit.SECONDS), "the intruder was not stopped");
        assertEquals(1, intruder.exitValue(), read(tmp.resolve("x.out")));
        assertTrue(read(tmp.resolve("x.out")).contains("the cluster removed this node"), read(tmp.resolve("x.out")));
        assertTrue(
                read(tmp.resolve("a").resolve("node.log"))
                        .contains("node 127.0.0.1:" + portX + " does not know the cluster's token"),
                read(tmp.resolve("a").resolve("node.log")));
        try (NodeClient a = nodes.client("a")) {
            String id = a.blocking(30)
                    .submitJob(SubmitJobRequest.newBuilder()
                            .setSpec(spec(1, tmp.resolve("out")))
                            .build())
                    .getJobId();
            assertTrue(events(a, id).getLast().hasSucceeded());
            ListJobsResponse list = list(a);
            assertEquals(
                    List.of("127.0.0.1:" + portA),
                    list.getNodesList().stream().map(ClusterNode::getName).toList());
            assertEquals("127.0.0.1:" + portA, list.getJobs(0).getNode());
        }
    }

    /**
     * Two nodes over Artery TLS (mutual authentication, key and trust stores made here with keytool) form a cluster and
     * run a job; a node that speaks plain TCP cannot join them.
     */
    @Test
    void nodesOverTlsFormAClusterThatPlainNodesCannotJoin() throws Exception {
        String password = "espalier-test-" + Long.toHexString(System.nanoTime());
        Path keyStore = tmp.resolve("node.p12");
        Path trustStore = tmp.resolve("trust.p12");
        Path certificate = tmp.resolve("node.crt");
        keytool(
                "-genkeypair",
                "-alias",
                "node",
                "-keyalg",
                "RSA",
                "-keysize",
                "2048",
                "-dname",
                "CN=127.0.0.1",
                "-ext",
                "SAN=ip:127.0.0.1",
                "-validity",
                "2",
                "-storetype",
                "PKCS12",
                "-keystore",
                keyStore.toString(),
                "-storepass",
                password,
                "-keypass",
                password);
        keytool(
                "-exportcert",
                "-alias",
                "node",
                "-keystore",
                keyStore.toString(),
                "-storepass",
                password,
                "-file",
                certificate.toString());
        keytool(
                "-importcert",
                "-noprompt",
                "-alias",
                "node",
                "-file",
                certificate.toString(),
                "-storetype",
                "PKCS12",
                "-keystore",
                trustStore.toString(),
                "-storepass",
                password);
        Map<String, String> env = Map.of("ESPALIER_CLUSTER_TLS_PASSWORD", password);
        int portA = freePort();
        int portB = freePort();
        String[] tls = {"--cluster-tls-keystore", keyStore.toString(), "--cluster-tls-truststore", trustStore.toString()
        };
        nodes.startNode("a", env, clusterFlags(nodes.shared(), portA, null, tls));
        nodes.startNode("b", env, clusterFlags(nodes.shared(), portB, portA, tls));
        try (NodeClient b = nodes.client("b")) {
            awaitList(b, l -> l.getNodesCount() == 2, 90);
            String id = b.blocking(30)
                    .submitJob(SubmitJobRequest.newBuilder()
                            .setSpec(spec(1, tmp.resolve("out")))
                            .build())
                    .getJobId();
            assertTrue(events(b, id).getLast().hasSucceeded());

            nodes.startClusterNode("plain", freePort(), portA);
            Thread.sleep(15_000);
            assertEquals(2, list(b).getNodesCount(), "a plain-TCP node joined the TLS cluster: " + list(b));
        }
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "keytool " + String.join(" ", args) + ":\n" + out);
    }

    /** The model of each distinct spec, pruned by a node on its own (no cluster). */
    private Map<Integer, String> singleNodeReference() throws Exception {
        nodes.startNode("alone");
        Map<Integer, String> sha = new HashMap<>();
        try (NodeClient alone = nodes.client("alone")) {
            for (int kind = 0; kind < DISTINCT_SPECS; kind++) {
                Path out = tmp.resolve("reference-" + kind);
                String id = alone.blocking(30)
                        .submitJob(SubmitJobRequest.newBuilder()
                                .setSpec(spec(kind, out))
                                .build())
                        .getJobId();
                List<JobEvent> events = events(alone, id);
                assertTrue(events.getLast().hasSucceeded(), events.getLast().toString());
                sha.put(kind, sha256(out.resolve("model.safetensors")));
            }
        }
        return sha;
    }
}
