package dev.espalier.engine.runtime.node;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.espalier.engine.runtime.ClusterProtocol.AgentCommand;
import dev.espalier.engine.runtime.ClusterProtocol.Cancel;
import dev.espalier.engine.runtime.ClusterProtocol.CancelResult;
import dev.espalier.engine.runtime.ClusterProtocol.JobFinished;
import dev.espalier.engine.runtime.ClusterProtocol.ListNodes;
import dev.espalier.engine.runtime.ClusterProtocol.NodeList;
import dev.espalier.engine.runtime.ClusterProtocol.SchedulerCommand;
import dev.espalier.engine.runtime.ClusterProtocol.Submitted;
import dev.espalier.protocol.v1.ClusterNode;
import dev.espalier.protocol.v1.ListJobsResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's place in a cluster: its agent, and the proxy through which it reaches the cluster's one {@link JobScheduler}
 * (wherever the singleton runs; messages wait in the proxy while it moves). The node's verbs call this to hand a new
 * job to the scheduler, to cancel one anywhere, and to list the nodes.
 */
final class ClusterMembership {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterMembership.class);

    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(15);
    /** Listing the nodes is part of every status call: it waits less, and the jobs are listed without them. */
    private static final Duration LIST_TIMEOUT = Duration.ofSeconds(5);

    private final ActorSystem<?> system;
    private final String name;
    private final ActorRef<SchedulerCommand> scheduler;
    private final ActorRef<AgentCommand> agent;

    private ClusterMembership(
            ActorSystem<?> system, String name, ActorRef<SchedulerCommand> scheduler, ActorRef<AgentCommand> agent) {
        this.system = system;
        this.name = name;
        this.scheduler = scheduler;
        this.agent = agent;
    }

    /**
     * Joins the cluster of {@code system} (configured by {@link ClusterConfig}): starts the scheduler singleton's manager
     * (the scheduler runs on the oldest node, over that node's {@code store} and {@code runner}) and this node's agent.
     */
    static ClusterMembership join(
            ActorSystem<?> system,
            JobStore store,
            JobRunner runner,
            NodeToken token,
            int slots,
            String devices,
            String clientAddress,
            NodeAgent.LocalJobs jobs) {
        String name = nodeName(Cluster.get(system).selfMember().address());
        ActorRef<SchedulerCommand> scheduler = ClusterSingleton.get(system)
                .init(SingletonActor.of(JobScheduler.create(store, runner, token, name), "job-scheduler"));
        NodeAgent.Identity identity = new NodeAgent.Identity(name, token.proofFor(name), slots, devices, clientAddress);
        ActorRef<AgentCommand> agent =
                system.systemActorOf(NodeAgent.create(scheduler, identity, jobs), "node-agent", Props.empty());
        LOG.info(
                "cluster node {} joining through {}",
                name,
                system.settings().config().getStringList("pekko.cluster.seed-nodes"));
        return new ClusterMembership(system, name, scheduler, agent);
    }

    /** host:port of a cluster address: a node's name in the cluster, its status and its logs. */
    static String nodeName(Address address) {
        return address.host().getOrElse(() -> "local") + ":" + address.port().getOrElse(() -> 0);
    }

    String name() {
        return name;
    }

    /** Tells the scheduler that job {@code id} is QUEUED in the shared run folder. */
    void submitted(String id) {
        scheduler.tell(new Submitted(id));
    }

    /** Tells the scheduler (through the agent) that a slot of this node finished job {@code id}. */
    void finished(String id) {
        agent.tell(new JobFinished(id));
    }

    /** Cancels job {@code id} wherever it is queued or running; waits for the answer. */
    CancelResult cancel(String id) {
        CompletionStage<CancelResult> answer =
                AskPattern.ask(scheduler, replyTo -> new Cancel(id, replyTo), ASK_TIMEOUT, system.scheduler());
        return await(answer, ASK_TIMEOUT, "cancel job " + id);
    }

    /** The cluster's nodes as the scheduler sees them. */
    List<ClusterNode> nodes() {
        CompletionStage<NodeList> answer = AskPattern.ask(scheduler, ListNodes::new, LIST_TIMEOUT, system.scheduler());
        try {
            return ListJobsResponse.parseFrom(await(answer, LIST_TIMEOUT, "list the cluster's nodes")
                            .nodes())
                    .getNodesList();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("the scheduler's list of nodes cannot be read: " + e.getMessage(), e);
        }
    }

    private static <T> T await(CompletionStage<T> answer, Duration timeout, String what) {
        try {
            return answer.toCompletableFuture().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting to " + what, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException(
                    "the cluster's job scheduler did not answer (" + what + ") within " + timeout.toSeconds()
                            + " s: it may be moving to another node; is a majority of the nodes up?",
                    e);
        }
    }

    /** Leaves the cluster gracefully (the scheduler requeues what this node held) and stops the actor system. */
    void leave() {
        try {
            CoordinatedShutdown.get(Adapter.toClassic(system))
                    .runAll(CoordinatedShutdown.clusterLeavingReason())
                    .toCompletableFuture()
                    .get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("leaving the cluster did not finish within 30 s ({}); stopping anyway", e.getMessage());
        }
    }
}
