package dev.espalier.engine.runtime.node;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.runtime.ClusterProtocol.CancelResult;
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

/**
 * The EspalierNode gRPC service over the node's job store, queue and runner; in a cluster ({@code cluster} not null),
 * over the shared run folder and the cluster's scheduler, so that every verb works against any node.
 */
final class NodeService extends EspalierNodeGrpc.EspalierNodeImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(NodeService.class);

    private final JobStore store;
    private final JobQueue queue;
    private final JobRunner runner;
    private final AtomicBoolean closing;
    private final AllowedOutputs allowedOutputs;
    private final ClusterJobs cluster;

    NodeService(
            JobStore store,
            JobQueue queue,
            JobRunner runner,
            AtomicBoolean closing,
            AllowedOutputs allowedOutputs,
            ClusterJobs cluster) {
        this.store = store;
        this.queue = queue;
        this.runner = runner;
        this.closing = closing;
        this.allowedOutputs = allowedOutputs;
        this.cluster = cluster;
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
        if (cluster != null) {
            submitToCluster(request, response);
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

    private void submitToCluster(SubmitJobRequest request, StreamObserver<SubmitJobResponse> response) {
        try {
            long ahead = cluster.queued();
            if (ahead >= queue.capacity()) {
                response.onError(Status.RESOURCE_EXHAUSTED
                        .withDescription(String.format(
                                Locale.ROOT, "the cluster's queue is full: %d jobs waiting; try later", ahead))
                        .asRuntimeException());
                return;
            }
            cluster.membership(); // refuses before anything is written while the node is still joining
            JobRecord record = store.create(request.getSpec(), (int) ahead);
            cluster.submitted(record.id);
            response.onNext(SubmitJobResponse.newBuilder()
                    .setJobId(record.id)
                    .setStatus(record.status())
                    .build());
            response.onCompleted();
        } catch (IllegalStateException e) {
            response.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
        } catch (RuntimeException e) {
            LOG.error("cannot create a job: {}", e.getMessage(), e);
            response.onError(Status.INTERNAL
                    .withDescription("cannot create the job: " + e.getMessage())
                    .asRuntimeException());
        }
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
        List<JobStatus> all = cluster != null
                ? cluster.all()
                : store.all().stream().map(JobRecord::status).toList();
        if (cluster != null) {
            try {
                list.addAllNodes(cluster.nodes());
            } catch (IllegalStateException e) { // the jobs are on disk: list them even while the scheduler moves
                list.setNodesUnavailable(e.getMessage());
            }
        }
        for (JobStatus status : all) {
            if (request.getStatesList().isEmpty() || request.getStatesList().contains(status.getState())) {
                list.addJobs(status);
            }
        }
        response.onNext(list.build());
        response.onCompleted();
    }

    @Override
    public void cancelJob(CancelJobRequest request, StreamObserver<JobStatus> response) {
        if (cluster != null) {
            cancelInCluster(request.getJobId(), response);
            return;
        }
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

    private void cancelInCluster(String id, StreamObserver<JobStatus> response) {
        try {
            job(id); // NOT_FOUND for an id no node created
            CancelResult result = cluster.cancelAnywhere(id);
            if (!result.error().isEmpty()) {
                response.onError(Status.fromCode(Status.Code.valueOf(result.errorCode()))
                        .withDescription(result.error())
                        .asRuntimeException());
                return;
            }
            response.onNext(JobStatus.parseFrom(result.status()));
            response.onCompleted();
        } catch (StatusRuntimeException e) {
            response.onError(e);
        } catch (IllegalStateException e) {
            response.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            response.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<JobEvent> response) {
        ServerCallStreamObserver<JobEvent> observer = (ServerCallStreamObserver<JobEvent>) response;
        try {
            JobRecord record = job(request.getJobId());
            JobWatcher.Events events = cluster != null
                    ? JobWatcher.fromDisk(record, () -> cluster.find(record.id).orElse(record))
                    : JobWatcher.fromLog(record, store.run(record).events());
            JobWatcher watcher = new JobWatcher(events, request.getFromSequence(), observer, closing);
            Thread.ofVirtual().name("watch-" + record.id).start(watcher);
        } catch (StatusRuntimeException e) {
            response.onError(e);
        } catch (RuntimeException e) {
            response.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    private JobRecord job(String id) {
        return (cluster != null ? cluster.find(id) : store.find(id))
                .orElseThrow(() -> Status.NOT_FOUND
                        .withDescription("no job " + id + (cluster != null ? " in the cluster" : " on this node"))
                        .asRuntimeException());
    }
}
