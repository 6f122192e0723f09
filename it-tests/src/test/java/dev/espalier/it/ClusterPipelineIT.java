package dev.espalier.it;

import static dev.espalier.it.ClusterNodes.awaitList;
import static dev.espalier.it.ClusterNodes.events;
import static dev.espalier.it.ClusterNodes.freePort;
import static dev.espalier.it.ClusterNodes.isTerminal;
import static dev.espalier.it.ClusterNodes.read;
import static dev.espalier.it.ClusterNodes.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsResponse;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.SubmitJobRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One job's layer pipeline across two {@code espalier serve --cluster} JVMs ({@code runtime.pipeline_nodes = 2}): the
 * job's node prunes layers 0-1 of stories260K and the other node's stage host layers 2-4, activations crossing as
 * files in the shared run folder; the model is byte-identical to the same spec pruned by a node on its own. A method
 * with a dense stream (GOA: pairs of activations) crosses too, and a hosting node killed mid-job costs a pipeline
 * restart on the job's node, not the job or its bytes.
 */
@Timeout(600)
class ClusterPipelineIT {
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

    private static JobSpec spec(PruneMethod method, int pipelineNodes, int samples, Path out) {
        return JobSpec.newBuilder()
                .setModel(SharedData.model("stories260K/stories260K.bin").toString())
                .setMethod(method)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setSeed(3)
                .setCalibration(SharedData.data("tinystories/tinystories_val_sample.txt")
                        .toString())
                .setCalibrationSamples(samples)
                .addDevices(Device.newBuilder().setKind(Device.Kind.KIND_CPU))
                .setRuntime(RuntimeSettings.newBuilder().setPipelineNodes(pipelineNodes))
                .setOutput(out.toString())
                .build();
    }

    private static String submit(NodeClient client, JobSpec spec) {
        return client.blocking(30)
                .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build())
                .getJobId();
    }

    /** The model of {@code spec} with pipeline_nodes 1, pruned by a node on its own. */
    private String aloneSha(String node, JobSpec spec) throws Exception {
        Path out = tmp.resolve("alone-" + spec.getMethod().getNumber() + "-" + spec.getCalibrationSamples());
        try (NodeClient alone = nodes.client(node)) {
            String id = submit(
                    alone,
                    spec.toBuilder()
                            .setRuntime(RuntimeSettings.getDefaultInstance())
                            .setOutput(out.toString())
                            .build());
            List<JobEvent> events = events(alone, id);
            assertTrue(events.getLast().hasSucceeded(), events.getLast().toString());
        }
        return sha256(out.resolve("model.safetensors"));
    }

    @Test
    void oneJobsLayersRunOnTwoNodesWithTheBytesOfOne() throws Exception {
        int portA = freePort();
        int portB = freePort();
        nodes.startClusterNode("a", portA, null);
        nodes.startClusterNode("b", portB, portA);
        JobSpec alps = spec(PruneMethod.PRUNE_METHOD_ALPS, 2, 64, tmp.resolve("out-alps"));
        JobSpec goa = spec(PruneMethod.PRUNE_METHOD_GOA, 2, 32, tmp.resolve("out-goa"));
        try (NodeClient a = nodes.client("a")) {
            awaitList(a, l -> l.getNodesCount() == 2, 60);
            String alpsId = submit(a, alps);
            String goaId = submit(a, goa);
            ListJobsResponse done =
                    awaitList(a, l -> l.getJobsList().stream().allMatch(j -> isTerminal(j.getState())), 300);
            for (JobStatus job : done.getJobsList()) {
                assertEquals(JobState.JOB_STATE_SUCCEEDED, job.getState(), job.toString());
            }
            String logs = read(tmp.resolve("a").resolve("node.log"))
                    + read(tmp.resolve("b").resolve("node.log"));
            for (String id : List.of(alpsId, goaId)) {
                assertTrue(logs.contains(id + ": pipeline over 2 nodes: layers 0-1 here, 2-4 on "), logs);
                assertTrue(logs.contains(id + ": hosting layers 2-4 of generation 1"), logs);
            }
        }
        nodes.startNode("alone");
        assertEquals(
                aloneSha("alone", alps),
                sha256(tmp.resolve("out-alps").resolve("model.safetensors")),
                "ALPS across two nodes gives the bytes of one");
        assertEquals(
                aloneSha("alone", goa),
                sha256(tmp.resolve("out-goa").resolve("model.safetensors")),
                "GOA (a dense stream: two activations per batch cross) across two nodes gives the bytes of one");
        try (var left = Files.list(nodes.shared().resolve("jobs"))) {
            for (Path job : (Iterable<Path>) left::iterator) {
                Path handoff = job.resolve("handoff");
                if (Files.isDirectory(handoff)) {
                    try (var files = Files.list(handoff)) {
                        assertEquals(List.of(), files.toList(), "every handed-off batch was taken and deleted");
                    }
                }
            }
        }
    }

    @Test
    void aHostingNodeKilledMidJobCostsARestartNotTheJob() throws Exception {
        int portA = freePort();
        int portB = freePort();
        String nodeA = "127.0.0.1:" + portA;
        String nodeB = "127.0.0.1:" + portB;
        Map<String, Process> processes = new HashMap<>();
        processes.put(nodeA, nodes.startClusterNode("a", portA, null));
        processes.put(nodeB, nodes.startClusterNode("b", portB, portA));
        Map<String, String> homes = Map.of(nodeA, "a", nodeB, "b");
        JobSpec alps = spec(PruneMethod.PRUNE_METHOD_ALPS, 2, 256, tmp.resolve("out-alps"));
        String home;
        String id;
        try (NodeClient a = nodes.client("a")) {
            awaitList(a, l -> l.getNodesCount() == 2, 60);
            id = submit(a, alps);
            home = awaitList(
                            a,
                            l -> l.getJobsList().stream()
                                    .anyMatch(j -> !j.getNode().isEmpty()),
                            60)
                    .getJobsList()
                    .getFirst()
                    .getNode();
        }
        String host = home.equals(nodeA) ? nodeB : nodeA; // the scheduler may give the job to either node
        Path hostLog = tmp.resolve(homes.get(host)).resolve("node.log");
        for (int i = 0; i < 1200 && !read(hostLog).contains(id + ": hosting layers 2-4"); i++) {
            Thread.sleep(50);
        }
        assertTrue(read(hostLog).contains(id + ": hosting layers 2-4"), read(hostLog));
        processes.get(host).destroyForcibly().waitFor(); // SIGKILL while its stages wait for, or prune, their layers
        try (NodeClient survivor = nodes.client(homes.get(home))) {
            List<JobEvent> events = events(survivor, id);
            assertTrue(events.getLast().hasSucceeded(), events.getLast().toString());
        }
        String homeLog = read(tmp.resolve(homes.get(home)).resolve("node.log"));
        assertTrue(
                homeLog.contains("node pekko://espalier@" + host + " left the cluster while it hosted stages"),
                homeLog);
        nodes.startNode("alone");
        assertEquals(
                aloneSha("alone", alps),
                sha256(tmp.resolve("out-alps").resolve("model.safetensors")),
                "the restarted pipeline gives the bytes of one node");
    }
}
