package dev.espalier.engine.runtime.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.job.JobExecutors;
import dev.espalier.protocol.v1.CancelJobRequest;
import dev.espalier.protocol.v1.GetJobRequest;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.SubmitJobRequest;
import dev.espalier.protocol.v1.WatchJobRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class NodeTest {

    @TempDir
    Path home;

    static JobSpec spec(String model) {
        return JobSpec.newBuilder()
                .setModel(model)
                .setMethod(PruneMethod.PRUNE_METHOD_MAGNITUDE)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setSeed(1)
                .setOutput("/tmp/espalier-test-out")
                .setCalibration("/tmp/espalier-test-calibration.txt")
                .setCalibrationSamples(1)
                .build();
    }

    private NodeOptions options() {
        return NodeOptions.defaults(home).withPort(0).withAllowedOutputs(List.of(Path.of("/tmp"))); // spec()'s output
    }

    private static String submit(NodeClient client, JobSpec spec) {
        return client.blocking(10)
                .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build())
                .getJobId();
    }

    private static List<JobEvent> watch(NodeClient client, String jobId, long from) {
        List<JobEvent> events = new ArrayList<>();
        client.streaming()
                .watchJob(WatchJobRequest.newBuilder()
                        .setJobId(jobId)
                        .setFromSequence(from)
                        .build())
                .forEachRemaining(events::add);
        return events;
    }

    private static JobStatus get(NodeClient client, String jobId) {
        return client.blocking(10)
                .getJob(GetJobRequest.newBuilder().setJobId(jobId).build());
    }

    private static JobStatus awaitState(NodeClient client, String jobId, JobState state) throws InterruptedException {
        for (int i = 0; i < 1000; i++) {
            JobStatus status = get(client, jobId);
            if (status.getState() == state) {
                return status;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("job " + jobId + " never reached " + state + "; it is " + get(client, jobId));
    }

    private static List<JobEvent.KindCase> kinds(List<JobEvent> events) {
        return events.stream().map(JobEvent::getKindCase).toList();
    }

    private static void assertDense(List<JobEvent> events) {
        assertEquals(
                LongStream.rangeClosed(1, events.size()).boxed().toList(),
                events.stream().map(JobEvent::getSequence).toList());
    }

    @Test
    void submittedJobRunsAndIsSeenByGetListAndWatch() {
        FakeExecutor executor = new FakeExecutor(2, -1);
        try (Node node = Node.start(options(), spec -> executor);
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            assertEquals("127.0.0.1", node.address().host());
            assertEquals(node.address(), NodeAddress.fromHome(home));
            String id = submit(client, spec("/m/a"));
            List<JobEvent> events = watch(client, id, 0);

            assertEquals(
                    List.of(
                            JobEvent.KindCase.QUEUED,
                            JobEvent.KindCase.STARTED,
                            JobEvent.KindCase.LAYER_PRUNED,
                            JobEvent.KindCase.PROGRESS,
                            JobEvent.KindCase.LAYER_PRUNED,
                            JobEvent.KindCase.PROGRESS,
                            JobEvent.KindCase.SUCCEEDED),
                    kinds(events));
            assertDense(events);
            assertTrue(events.stream().allMatch(e -> e.getJobId().equals(id)));
            assertFalse(events.get(1).getStarted().getResumed());
            assertEquals(
                    "/tmp/espalier-test-out", events.getLast().getSucceeded().getOutput());
            assertEquals(0.5, events.getLast().getSucceeded().getReport().getAchievedSparsity());

            JobStatus status = get(client, id);
            assertEquals(JobState.JOB_STATE_SUCCEEDED, status.getState());
            assertEquals(1.0, status.getProgress());
            assertEquals(spec("/m/a"), status.getSpec());
            assertTrue(status.getFinishedTimeMs() >= status.getStartedTimeMs()
                    && status.getStartedTimeMs() >= status.getSubmittedTimeMs());
            assertEquals(home.resolve("jobs").resolve(id).toAbsolutePath().toString(), status.getRunDir());
            assertEquals(
                    List.of(id),
                    client.blocking(10).listJobs(ListJobsRequest.getDefaultInstance()).getJobsList().stream()
                            .map(JobStatus::getJobId)
                            .toList());
            assertEquals(events.subList(4, 7), watch(client, id, 5));
        }
        assertFalse(Files.exists(home.resolve(NodeAddress.PORT_FILE)));
    }

    @Test
    void fullQueueRefusesNewJobsWithAClearError() throws Exception {
        FakeExecutor executor = new FakeExecutor(1, 0);
        try (Node node = Node.start(options().withQueueCapacity(2), spec -> executor);
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            String running = submit(client, spec("/m/0"));
            assertTrue(executor.held.await(10, TimeUnit.SECONDS));
            submit(client, spec("/m/1"));
            submit(client, spec("/m/2"));
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> submit(client, spec("/m/3")));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
            assertEquals("queue full: 2 jobs waiting; try later", e.getStatus().getDescription());
            assertEquals(
                    3,
                    client.blocking(10)
                            .listJobs(ListJobsRequest.getDefaultInstance())
                            .getJobsCount());
            executor.release.countDown();
            awaitState(client, running, JobState.JOB_STATE_SUCCEEDED);
        }
    }

    @Test
    void cancelStopsQueuedJobsAtOnceAndRunningJobsAtTheirNextCheck() throws Exception {
        FakeExecutor executor = new FakeExecutor(2, 1);
        try (Node node = Node.start(options(), spec -> executor);
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            String running = submit(client, spec("/m/0"));
            String queued = submit(client, spec("/m/1"));
            assertTrue(executor.held.await(10, TimeUnit.SECONDS));

            JobStatus cancelledQueued = client.blocking(10)
                    .cancelJob(CancelJobRequest.newBuilder().setJobId(queued).build());
            assertEquals(JobState.JOB_STATE_CANCELLED, cancelledQueued.getState());
            assertEquals(
                    List.of(JobEvent.KindCase.QUEUED, JobEvent.KindCase.CANCELLED), kinds(watch(client, queued, 0)));

            client.blocking(10)
                    .cancelJob(CancelJobRequest.newBuilder().setJobId(running).build());
            List<JobEvent> events = watch(client, running, 0);
            assertEquals(JobEvent.KindCase.CANCELLED, events.getLast().getKindCase());
            assertEquals(
                    "cancelled by a client", events.getLast().getCancelled().getReason());
            assertEquals(JobState.JOB_STATE_CANCELLED, get(client, running).getState());

            StatusRuntimeException e = assertThrows(
                    StatusRuntimeException.class,
                    () -> client.blocking(10)
                            .cancelJob(CancelJobRequest.newBuilder()
                                    .setJobId(running)
                                    .build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            assertEquals(
                    "job " + running + " already ended: cancelled",
                    e.getStatus().getDescription());
        }
    }

    @Test
    void unknownJobsAndInvalidSpecsAreRefused() {
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1));
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> get(client, "../etc"));
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
            assertEquals("no job ../etc on this node", e.getStatus().getDescription());
            e = assertThrows(StatusRuntimeException.class, () -> watch(client, "nope", 0));
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());

            JobSpec bad = spec("relative/model").toBuilder()
                    .setSparsity(1.5)
                    .setPatternValue(7)
                    .setStructured(StructuredSettings.newBuilder().setTau(-1))
                    .build();
            e = assertThrows(StatusRuntimeException.class, () -> submit(client, bad));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertEquals(
                    "invalid job spec: model must be an absolute path, got 'relative/model'; sparsity must be in [0, 1),"
                            + " got 1.5; pattern must be one of unstructured, 2:4, 4:8, got 7; structured settings do not apply to"
                            + " magnitude, which takes unstructured settings",
                    e.getStatus().getDescription());
            assertEquals(
                    0,
                    client.blocking(10)
                            .listJobs(ListJobsRequest.getDefaultInstance())
                            .getJobsCount());
        }
    }

    @Test
    void jobWhoseMethodHasNoExecutorFailsWithAClearMessage() {
        try (Node node = Node.start(options(), new JobExecutors(Map.of())::forSpec);
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            String id = submit(
                    client,
                    spec("/m/a").toBuilder()
                            .setMethod(PruneMethod.PRUNE_METHOD_WANDA_SP)
                            .build());
            List<JobEvent> events = watch(client, id, 0);
            assertEquals(
                    "method wanda-sp is not available in this build",
                    events.getLast().getFailed().getMessage());
            JobStatus status = get(client, id);
            assertEquals(JobState.JOB_STATE_FAILED, status.getState());
            assertEquals("method wanda-sp is not available in this build", status.getMessage());
        }
    }

    @Test
    void restartKeepsQueuedJobsAndResumesTheRunningOneFromItsCheckpoint() throws Exception {
        FakeExecutor first = new FakeExecutor(3, 2);
        List<String> ids = new ArrayList<>();
        try (Node node = Node.start(options(), spec -> first);
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            for (int i = 0; i < 3; i++) {
                ids.add(submit(client, spec("/m/" + i)));
            }
            assertTrue(first.held.await(10, TimeUnit.SECONDS)); // job 0 has committed layers 0 and 1
        }
        FakeExecutor second = new FakeExecutor(3, -1);
        try (Node node = Node.start(options(), spec -> second);
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            for (String id : ids) {
                awaitState(client, id, JobState.JOB_STATE_SUCCEEDED);
                List<JobEvent> events = watch(client, id, 0);
                assertDense(events);
                assertEquals(JobEvent.KindCase.SUCCEEDED, events.getLast().getKindCase());
            }
            assertEquals(2, second.completedAtStart.get(ids.get(0)));
            assertEquals(0, second.completedAtStart.get(ids.get(1)));
            List<JobEvent> resumed = watch(client, ids.get(0), 0).stream()
                    .filter(JobEvent::hasStarted)
                    .toList();
            assertEquals(
                    List.of(false, true),
                    resumed.stream().map(e -> e.getStarted().getResumed()).toList());
        }
    }

    @Test
    void secondNodeOnTheSameHomeIsRefused() {
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1))) {
            IllegalStateException e = assertThrows(
                    IllegalStateException.class, () -> Node.start(options(), spec -> new FakeExecutor(1, -1)));
            assertEquals("another espalier node is running with home " + home.toAbsolutePath(), e.getMessage());
            assertEquals(node.address(), NodeAddress.fromHome(home));
        }
    }
}
