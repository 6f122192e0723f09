package dev.espalier.engine.runtime.node;

import dev.espalier.engine.runtime.ClusterProtocol.AgentCommand;
import dev.espalier.engine.runtime.ClusterProtocol.AgentTick;
import dev.espalier.engine.runtime.ClusterProtocol.CancelJob;
import dev.espalier.engine.runtime.ClusterProtocol.CancelResult;
import dev.espalier.engine.runtime.ClusterProtocol.JobEnded;
import dev.espalier.engine.runtime.ClusterProtocol.JobFinished;
import dev.espalier.engine.runtime.ClusterProtocol.MembershipChanged;
import dev.espalier.engine.runtime.ClusterProtocol.NodeReport;
import dev.espalier.engine.runtime.ClusterProtocol.RunJob;
import dev.espalier.engine.runtime.ClusterProtocol.SchedulerCommand;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's member of the cluster: takes the jobs the scheduler sends into the node's own queue (its slots run them
 * from the shared run folder), reports once a second and after every job what the node holds, cancels its jobs on the
 * scheduler's word, and writes the membership changes it sees to the node's log.
 */
final class NodeAgent extends AbstractBehavior<AgentCommand> {
    private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
    private static final Duration REPORT_EVERY = Duration.ofSeconds(1);

    /** What the agent asks of its node. */
    interface LocalJobs {
        /** Queues job {@code id} for a slot unless the node holds it already; false when it ended or is unknown. */
        boolean take(String id);

        /** Cancels job {@code id}, which the node holds (or held). */
        CancelResult cancelHeld(String id);

        /** The ids of the jobs the node holds: running, or waiting for a slot. */
        String[] held();
    }

    /** Who the node is, as its reports say. */
    record Identity(String node, String tokenProof, int slots, String devices, String clientAddress) {}

    private final ActorRef<SchedulerCommand> scheduler;
    private final Identity identity;
    private final LocalJobs jobs;

    private NodeAgent(
            ActorContext<AgentCommand> context,
            ActorRef<SchedulerCommand> scheduler,
            Identity identity,
            LocalJobs jobs) {
        super(context);
        this.scheduler = scheduler;
        this.identity = identity;
        this.jobs = jobs;
        Cluster cluster = Cluster.get(context.getSystem());
        cluster.subscriptions()
                .tell(Subscribe.create(
                        context.messageAdapter(ClusterEvent.MemberEvent.class, e -> new MembershipChanged(describe(e))),
                        ClusterEvent.MemberEvent.class));
        cluster.subscriptions()
                .tell(Subscribe.create(
                        context.messageAdapter(
                                ClusterEvent.ReachabilityEvent.class, e -> new MembershipChanged(describe(e))),
                        ClusterEvent.ReachabilityEvent.class));
        report();
    }

    static Behavior<AgentCommand> create(ActorRef<SchedulerCommand> scheduler, Identity identity, LocalJobs jobs) {
        return Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(AgentTick.INSTANCE, REPORT_EVERY);
            return Behaviors.setup(ctx -> new NodeAgent(ctx, scheduler, identity, jobs));
        });
    }

    @Override
    public Receive<AgentCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(RunJob.class, this::onRunJob)
                .onMessage(CancelJob.class, this::onCancel)
                .onMessage(JobFinished.class, this::onFinished)
                .onMessage(MembershipChanged.class, this::onMembership)
                .onMessageEquals(AgentTick.INSTANCE, () -> {
                    report();
                    return this;
                })
                .build();
    }

    private Behavior<AgentCommand> onRunJob(RunJob run) {
        if (jobs.take(run.jobId())) {
            LOG.info("job {}: taken by this node", run.jobId());
        } else {
            scheduler.tell(new JobEnded(run.jobId(), identity.node()));
        }
        report();
        return this;
    }

    private Behavior<AgentCommand> onCancel(CancelJob cancel) {
        cancel.replyTo().tell(jobs.cancelHeld(cancel.jobId()));
        return this;
    }

    private Behavior<AgentCommand> onFinished(JobFinished finished) {
        scheduler.tell(new JobEnded(finished.jobId(), identity.node()));
        report();
        return this;
    }

    private Behavior<AgentCommand> onMembership(MembershipChanged change) {
        LOG.info("cluster: {}", change.what());
        return this;
    }

    private void report() {
        scheduler.tell(new NodeReport(
                getContext().getSelf(),
                identity.node(),
                identity.tokenProof(),
                identity.slots(),
                identity.devices(),
                identity.clientAddress(),
                jobs.held()));
    }

    private static String describe(ClusterEvent.MemberEvent e) {
        String node = ClusterMembership.nodeName(e.member().address());
        return switch (e) {
            case ClusterEvent.MemberUp up -> "member up " + node;
            case ClusterEvent.MemberJoined joined -> "member joining " + node;
            case ClusterEvent.MemberLeft left -> "member leaving " + node;
            case ClusterEvent.MemberExited exited -> "member exited " + node;
            case ClusterEvent.MemberDowned downed -> "member downed " + node;
            case ClusterEvent.MemberRemoved removed ->
                "member removed " + node + " (was " + removed.previousStatus() + ")";
            default -> e.getClass().getSimpleName() + " " + node;
        };
    }

    private static String describe(ClusterEvent.ReachabilityEvent e) {
        String node = ClusterMembership.nodeName(e.member().address());
        return e instanceof ClusterEvent.UnreachableMember
                ? "member unreachable " + node
                : "member reachable again " + node;
    }
}
