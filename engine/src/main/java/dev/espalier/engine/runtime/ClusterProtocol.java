package dev.espalier.engine.runtime;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * The messages of a cluster of nodes ({@code espalier serve --cluster}): the cluster-wide job scheduler (a cluster
 * singleton) and the agent every node runs. They sit here, beside {@link KryoSerializer} which registers them, because
 * they cross JVMs; the behaviours live with the node. Jobs are named by id only: their specs, status and artefacts are
 * in the run folder every node shares, never in a message.
 */
public final class ClusterProtocol {
    private ClusterProtocol() {}

    /** What the scheduler handles. */
    public sealed interface SchedulerCommand
            permits Submitted, NodeReport, JobEnded, Cancel, ListNodes, MemberLeft, SchedulerTick {}

    /** What a node's agent handles. */
    public sealed interface AgentCommand permits RunJob, CancelJob, JobFinished, AgentTick, MembershipChanged {}

    /** A node created job {@code jobId} (QUEUED) in the shared run folder. */
    public record Submitted(String jobId) implements SchedulerCommand, CrossJvmMessage {}

    /**
     * A node's agent, once a second and after each job: who it is, what it can run and which jobs it holds.
     * {@code tokenProof} shows it knows the cluster's token without sending it.
     *
     * @param node          host:port of its cluster address
     * @param clientAddress host:port of its gRPC service
     * @param running       ids of the jobs it holds (running or waiting for one of its slots)
     */
    public record NodeReport(
            ActorRef<AgentCommand> agent,
            String node,
            String tokenProof,
            int slots,
            String devices,
            String clientAddress,
            String[] running)
            implements SchedulerCommand, CrossJvmMessage {}

    /** Job {@code jobId} ended on {@code node} (succeeded, failed or cancelled): its slot is free. */
    public record JobEnded(String jobId, String node) implements SchedulerCommand, CrossJvmMessage {}

    /** Cancel job {@code jobId} wherever it is; the answer goes to {@code replyTo}. */
    public record Cancel(String jobId, ActorRef<CancelResult> replyTo) implements SchedulerCommand, CrossJvmMessage {}

    /** The nodes as the scheduler sees them, as a serialised {@code ListJobsResponse} holding only nodes. */
    public record ListNodes(ActorRef<NodeList> replyTo) implements SchedulerCommand, CrossJvmMessage {}

    /** The cluster removed {@code node} (it left, or was downed): its jobs go back to the queue. Local only. */
    public record MemberLeft(String node) implements SchedulerCommand {}

    /** The scheduler's periodic check. Local only. */
    public enum SchedulerTick implements SchedulerCommand {
        INSTANCE
    }

    /** Run job {@code jobId} from the shared run folder (idempotent: a job the node holds already is ignored). */
    public record RunJob(String jobId) implements AgentCommand, CrossJvmMessage {}

    /** Cancel job {@code jobId}, which this node holds. */
    public record CancelJob(String jobId, ActorRef<CancelResult> replyTo) implements AgentCommand, CrossJvmMessage {}

    /** One of this node's slots finished job {@code jobId}. Local only. */
    public record JobFinished(String jobId) implements AgentCommand {}

    /** A change of the cluster's membership as this node saw it, for its log. Local only. */
    public record MembershipChanged(String what) implements AgentCommand {}

    /** The agent's periodic report. Local only. */
    public enum AgentTick implements AgentCommand {
        INSTANCE
    }

    /**
     * The outcome of a {@link Cancel}: the job's serialised {@code JobStatus}, or an error.
     *
     * @param error     empty when cancelled (or asked to stop); else why not
     * @param errorCode the gRPC status code name of {@code error} (NOT_FOUND, FAILED_PRECONDITION, ...); empty if none
     */
    public record CancelResult(String jobId, byte[] status, String error, String errorCode)
            implements CrossJvmMessage {}

    /** The answer to {@link ListNodes}: a serialised {@code ListJobsResponse} whose {@code nodes} are filled. */
    public record NodeList(byte[] nodes) implements CrossJvmMessage {}
}
