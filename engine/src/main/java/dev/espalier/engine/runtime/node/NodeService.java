package dev.espalier.engine.runtime.node;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.protocol.v1.CancelJobRequest;
import dev.espalier.protocol.v1.EspalierNodeGrpc;
import dev.espalier.protocol.v1.GetJobRequest;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.ListJobsResponse;
import dev.espalier.protocol.v1.SubmitJobRequest;
import dev.espalier.protocol.v1.SubmitJobResponse;
import dev.espalier.protocol.v1.WatchJobRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The EspalierNode gRPC service over the node's job store, queue and runner. */
final class NodeService extends EspalierNodeGrpc.EspalierNodeImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(NodeService.class);

    private final JobStore store;
    private final JobQueue queue;
    private final JobRunner runner;
    private final AtomicBoolean closing;
    private final AllowedOutputs allowedOutputs;

    NodeService(
            JobStore store, JobQueue queue, JobRunner runner, AtomicBoolean closing, AllowedOutputs allowedOutputs) {
        this.store = store;
        this.queue = queue;
        this.runner = runner;
        this.closing = closing;
        this.allowedOutputs = allowedOutputs;
    }

    @Override
    public void submitJob(SubmitJobRequest request, StreamObserver<SubmitJobResponse> response) {
        List<String> problems = JobSpecs.problems(request.getSpec());
        if (!problems.isEmpty()) {
            response.onError(Status.INVALID_ARGUMENT
                    .withDescription("invalid job spec: " + String.join("; ", problems))
                    .asRuntimeException());
            return;
        }
        Optional<String> outside = allowedOutputs.problem(request.getSpec().getOutput());
        if (outside.isPresent()) {
            response.onError(
                    Status.PERMISSION_DENIED.withDescription(outside.get()).asRuntimeException());
            return;
        }
        if (closing.get()) {
            response.onError(Status.UNAVAILABLE
                    .withDescription("the node is shutting down")
                    .asRuntimeException());
            return;
        }
        int ahead = queue.tryReserve();
        if (ahead < 0) {
            response.onError(Status.RESOURCE_EXHAUSTED
                    .withDescription(
                            String.format(Locale.ROOT, "queue full: %d jobs waiting; try later", queue.capacity()))
                    .asRuntimeException());
            return;
        }
        JobRecord record;
        try {
            record = store.create(request.getSpec(), ahead);
        } catch (RuntimeException e) {
            queue.release();
            LOG.error("cannot create a job: {}", e.getMessage(), e);
            response.onError(Status.INTERNAL
                    .withDescription("cannot create the job: " + e.getMessage())
                    .asRuntimeException());
            return;
        }
        queue.putReserved(record);
        response.onNext(SubmitJobResponse.newBuilder()
                .setJobId(record.id)
                .setStatus(record.status())
                .build());
        response.onCompleted();
    }

    @Override
    public void getJob(GetJobRequest request, StreamObserver<JobStatus> response) {
        try {
            response.onNext(job(request.getJobId()).status());
            response.onCompleted();
        } catch (StatusRuntimeException e) {
            response.onError(e);
        }
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> response) {
        ListJobsResponse.Builder list = ListJobsResponse.newBuilder();
        for (JobRecord record : store.all()) {
            JobStatus status = record.status();
            if (request.getStatesList().isEmpty() || request.getStatesList().contains(status.getState())) {
                list.addJobs(status);
            }
        }
        response.onNext(list.build());
        response.onCompleted();
    }

    @Override
    public void cancelJob(CancelJobRequest request, StreamObserver<JobStatus> response) {
        try {
            JobRecord record = job(request.getJobId());
            synchronized (record) {
                JobState state = record.status().getState();
                if (JobRecord.isTerminal(state)) {
                    throw Status.FAILED_PRECONDITION
                            .withDescription("job " + record.id + " already ended: "
                                    + state.name()
                                            .substring("JOB_STATE_".length())
                                            .toLowerCase(Locale.ROOT))
                            .asRuntimeException();
                }
                if (state == JobState.JOB_STATE_QUEUED && queue.remove(record)) {
                    runner.cancelQueued(record, "cancelled by a client before it started");
                } else {
                    record.requestStop(JobRecord.StopRequest.CLIENT, "cancelled by a client");
                    record.updateLive(s -> s.setMessage("cancelling at the next safe point"));
                }
            }
            response.onNext(record.status());
            response.onCompleted();
        } catch (StatusRuntimeException e) {
            response.onError(e);
        } catch (RuntimeException e) {
            response.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<JobEvent> response) {
        ServerCallStreamObserver<JobEvent> observer = (ServerCallStreamObserver<JobEvent>) response;
        try {
            JobRecord record = job(request.getJobId());
            JobWatcher watcher =
                    new JobWatcher(record, store.run(record).events(), request.getFromSequence(), observer, closing);
            Thread.ofVirtual().name("watch-" + record.id).start(watcher);
        } catch (StatusRuntimeException e) {
            response.onError(e);
        } catch (RuntimeException e) {
            response.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    private JobRecord job(String id) {
        return store.find(id)
                .orElseThrow(() -> Status.NOT_FOUND
                        .withDescription("no job " + id + " on this node")
                        .asRuntimeException());
    }
}
