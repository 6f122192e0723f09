package dev.espalier.it.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.cli.EspalierCli;
import dev.espalier.engine.runtime.node.NodeAddress;
import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.engine.runtime.node.NodeToken;
import dev.espalier.it.SharedData;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.GetJobRequest;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.SubmitJobRequest;
import dev.espalier.protocol.v1.WatchJobRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node as its own process, driven over gRPC on loopback: the real {@code espalier serve} running real pruning jobs,
 * and (for the kill test, where timing matters) the node with a stand-in pipeline.
 */
@Timeout(420)
class NodeConcurrentJobsIT {
    private static final int JOBS = 20;

    @TempDir
    Path tmp;

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void killNodes() {
        processes.forEach(Process::destroyForcibly);
    }

    private Path home() {
        return tmp.resolve("home");
    }

    /** Starts {@code espalier serve} in a new JVM (jobs may write into {@link #tmp}) and waits for its node.port. */
    private NodeAddress startNode(int slots, Class<?> main, String... extra) throws IOException, InterruptedException {
        Path portFile = home().resolve(NodeAddress.PORT_FILE);
        Files.deleteIfExists(portFile);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path log = tmp.resolve("node-" + processes.size() + ".log");
        List<String> command = new ArrayList<>(List.of(
                java.toString(),
                "--sun-misc-unsafe-memory-access=allow",
                "--add-modules",
                "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED",
                "-Xmx3g",
                "-cp",
                System.getProperty("java.class.path"),
                main.getName(),
                "serve",
                "--home",
                home().toString(),
                "--port",
                "0",
                "--slots",
                String.valueOf(slots),
                "--allow-out",
                tmp.toString()));
        command.addAll(List.of(extra));
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        processes.add(process);
        for (int i = 0; i < 600 && !Files.exists(portFile); i++) {
            assertTrue(process.isAlive(), () -> "the node exited with " + process.exitValue() + ":\n" + read(log));
            Thread.sleep(50);
        }
        assertTrue(Files.exists(portFile), () -> "no node.port after 30 s:\n" + read(log));
        return NodeAddress.fromHome(home());
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** A stand-in job (the fake pipeline reads no file). */
    private JobSpec fakeSpec(int i) {
        return JobSpec.newBuilder()
                .setModel(tmp.resolve("model-" + i).toString())
                .setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setSeed(i)
                .setOutput(tmp.resolve("out-" + i).toString())
                .setCalibration(tmp.resolve("calibration.txt").toString())
                .setCalibrationSamples(1)
                .build();
    }

    /** A real pruning job of stories260K with a small calibration set; methods alternate, every fifth structured (the last policy-gradient). */
    private JobSpec realSpec(int i) {
        boolean structured = i % 5 == 4;
        PruneMethod method = i == 19
                ? PruneMethod.PRUNE_METHOD_POLICY_GRADIENT
                : structured
                        ? (i % 2 == 0 ? PruneMethod.PRUNE_METHOD_FLAP : PruneMethod.PRUNE_METHOD_GOA)
                        : i % 2 == 0 ? PruneMethod.PRUNE_METHOD_WANDA : PruneMethod.PRUNE_METHOD_MAGNITUDE;
        JobSpec.Builder spec = JobSpec.newBuilder();
        if (method == PruneMethod.PRUNE_METHOD_POLICY_GRADIENT) {
            spec.setPolicyGradient(PolicyGradientSettings.newBuilder().setSteps(10));
        }
        return spec.setModel(SharedData.model("stories260K/stories260K.bin").toString())
                .setMethod(method)
                .setSparsity(structured ? 0.3 : 0.5)
                .setPattern(
                        i % 3 == 0 && !structured
                                ? SparsityPattern.SPARSITY_PATTERN_2_4
                                : SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setSeed(i)
                .setCalibration(SharedData.data("tinystories/tinystories_val_sample.txt")
                        .toString())
                .setCalibrationSamples(2)
                .setCalibrationSeqlen(32)
                .addDevices(Device.newBuilder().setKind(Device.Kind.KIND_CPU))
                .setOutput(tmp.resolve("out-" + i).toString())
                .build();
    }

    /** Submits {@link #JOBS} jobs from as many threads at once; returns their ids in submission order of the threads. */
    private List<String> submitConcurrently(NodeClient client, java.util.function.IntFunction<JobSpec> specs)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(JOBS);
        try {
            List<Future<String>> ids = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                JobSpec spec = specs.apply(i);
                ids.add(pool.submit(() -> client.blocking(30)
                        .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build())
                        .getJobId()));
            }
            List<String> result = new ArrayList<>();
            for (Future<String> id : ids) {
                result.add(id.get(60, TimeUnit.SECONDS));
            }
            return result;
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<JobEvent> watch(NodeClient client, String id) {
        List<JobEvent> events = new ArrayList<>();
        client.streaming()
                .watchJob(WatchJobRequest.newBuilder().setJobId(id).build())
                .forEachRemaining(events::add);
        return events;
    }

    private static void assertCompleted(NodeClient client, List<String> ids, int layers) {
        for (String id : ids) {
            List<JobEvent> events = watch(client, id);
            assertEquals(
                    LongStream.rangeClosed(1, events.size()).boxed().toList(),
                    events.stream().map(JobEvent::getSequence).toList());
            assertEquals(JobEvent.KindCase.SUCCEEDED, events.getLast().getKindCase(), id + ": " + events.getLast());
            assertEquals(
                    layers,
                    events.stream()
                            .filter(JobEvent::hasLayerPruned)
                            .map(e -> e.getLayerPruned().getLayer())
                            .distinct()
                            .count());
        }
        List<JobStatus> jobs = client.blocking(10)
                .listJobs(ListJobsRequest.getDefaultInstance())
                .getJobsList();
        assertEquals(ids.size(), jobs.size());
        assertTrue(jobs.stream().allMatch(j -> j.getState() == JobState.JOB_STATE_SUCCEEDED), jobs::toString);
    }

    @Test
    void twentyConcurrentRealPruningJobsAllComplete() throws Exception {
        NodeAddress address = startNode(2, EspalierCli.class);
        try (NodeClient client = NodeClient.connect(address, NodeToken.forClient(home(), Map.of()))) {
            List<String> ids = submitConcurrently(client, this::realSpec);
            assertEquals(JOBS, ids.stream().distinct().count());
            assertCompleted(client, ids, 5);
            for (int i = 0; i < JOBS; i++) {
                assertTrue(
                        Files.isRegularFile(tmp.resolve("out-" + i).resolve("model.safetensors")),
                        "job " + i + " exported its model");
            }
        }
    }

    /**
     * Two jobs submitted together to a node with {@code --devices cpu} run at the same time on the node's one worker:
     * the node creates its workers once (one log line), and each job reports the same worker as its devices.
     */
    @Test
    void twoJobsSubmittedTogetherShareTheNodesOneSetOfWorkers() throws Exception {
        NodeAddress address = startNode(2, EspalierCli.class, "--devices", "cpu");
        try (NodeClient client = NodeClient.connect(address, NodeToken.forClient(home(), Map.of()))) {
            List<String> ids = List.of(submit(client, realSpec(0)), submit(client, realSpec(1)));
            assertCompleted(client, ids, 5);
            for (String id : ids) {
                List<List<String>> assigned = watch(client, id).stream()
                        .filter(JobEvent::hasDevicesAssigned)
                        .map(e -> List.copyOf(e.getDevicesAssigned().getWorkersList()))
                        .toList();
                assertEquals(List.of(List.of("cpu")), assigned, id + " ran on the node's one worker");
                assertEquals(
                        List.of("cpu"),
                        client.blocking(10)
                                .getJob(GetJobRequest.newBuilder().setJobId(id).build())
                                .getDeviceWorkersList());
            }
            List<JobStatus> jobs = client.blocking(10)
                    .listJobs(ListJobsRequest.getDefaultInstance())
                    .getJobsList();
            long lastStart =
                    jobs.stream().mapToLong(JobStatus::getStartedTimeMs).max().orElseThrow();
            long firstFinish =
                    jobs.stream().mapToLong(JobStatus::getFinishedTimeMs).min().orElseThrow();
            assertTrue(lastStart < firstFinish, "the two jobs ran at the same time (both slots): " + jobs);
        }
        String log = read(home().resolve("node.log"));
        assertEquals(
                1,
                log.lines()
                        .filter(l -> l.contains("device workers shared by every job"))
                        .count(),
                log);
    }

    private static String submit(NodeClient client, JobSpec spec) {
        return client.blocking(30)
                .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build())
                .getJobId();
    }

    @Test
    void killedNodeLosesNoJobAndResumesTheInterruptedOnes() throws Exception {
        List<String> ids;
        NodeAddress first = startNode(2, FakePipelineNode.class);
        try (NodeClient client = NodeClient.connect(first, NodeToken.forClient(home(), Map.of()))) {
            ids = submitConcurrently(client, this::fakeSpec);
            for (int i = 0; i < 200 && runningWithProgress(client) == 0; i++) {
                Thread.sleep(20);
            }
            assertTrue(runningWithProgress(client) > 0, "no job got under way");
        }
        processes.getLast().destroyForcibly().waitFor(); // kill -9: no shutdown hook runs

        try (NodeClient client =
                NodeClient.connect(startNode(2, FakePipelineNode.class), NodeToken.forClient(home(), Map.of()))) {
            assertCompleted(client, ids, FakePipelineNode.LAYERS);
            long resumed = ids.stream()
                    .filter(id -> watch(client, id).stream()
                            .anyMatch(e -> e.hasStarted() && e.getStarted().getResumed()))
                    .count();
            assertTrue(resumed >= 1, "no job was resumed after the kill");
        }
    }

    private static long runningWithProgress(NodeClient client) {
        return client
                .blocking(10)
                .listJobs(ListJobsRequest.newBuilder()
                        .addStates(JobState.JOB_STATE_RUNNING)
                        .build())
                .getJobsList()
                .stream()
                .filter(j -> j.getProgress() > 0)
                .count();
    }
}
