package dev.espalier.engine.runtime.node;

import dev.espalier.engine.runtime.ClusterProtocol.Cancel;
import dev.espalier.engine.runtime.ClusterProtocol.CancelJob;
import dev.espalier.engine.runtime.ClusterProtocol.CancelResult;
import dev.espalier.engine.runtime.ClusterProtocol.JobEnded;
import dev.espalier.engine.runtime.ClusterProtocol.ListNodes;
import dev.espalier.engine.runtime.ClusterProtocol.MemberLeft;
import dev.espalier.engine.runtime.ClusterProtocol.NodeList;
import dev.espalier.engine.runtime.ClusterProtocol.NodeReport;
import dev.espalier.engine.runtime.ClusterProtocol.RunJob;
import dev.espalier.engine.runtime.ClusterProtocol.SchedulerCommand;
import dev.espalier.engine.runtime.ClusterProtocol.SchedulerTick;
import dev.espalier.engine.runtime.ClusterProtocol.Submitted;
import dev.espalier.protocol.v1.ClusterNode;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsResponse;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's one job queue, run as a cluster singleton on the oldest node. It keeps no state of its own that is not
 * on disk: on start (and when it moves to another node) it rebuilds the queue from the shared run folder and the
 * agents' reports. Queued jobs go first in, first out to the node with the most free slots; when the cluster removes a
 * node (it left, or the split-brain resolver downed it), the jobs it held are queued again, first, and resume from
 * their last checkpoint on another node. A node whose report does not prove the cluster's token gets no work and is
 * downed.
 */
final class JobScheduler extends AbstractBehavior<SchedulerCommand> {
    private static final Logger LOG = LoggerFactory.getLogger(JobScheduler.class);
    static final Duration TICK = Duration.ofSeconds(1);
    /** How long a job may be missing from its node's reports before the scheduler sends it again. */
    private static final long RESEND_AFTER_MILLIS = 5_000;

    /** A node's agent as its last report gave it. */
    private record Agent(NodeReport report, long reportedAtMillis) {
        Set<String> holds() {
            return Set.of(report.running());
        }
    }

    /** Where a job was sent, and when. */
    private record Assignment(String node, long sinceMillis) {}

    private final JobStore store;
    private final JobRunner runner;
    private final NodeToken token;
    private final String selfName;
    private final Deque<String> pending = new ArrayDeque<>();
    private final Map<String, Assignment> assigned = new LinkedHashMap<>();
    private final Map<String, Agent> agents = new TreeMap<>();
    private final Set<String> rejected = new HashSet<>();

    private JobScheduler(
            ActorContext<SchedulerCommand> context,
            JobStore store,
            JobRunner runner,
            NodeToken token,
            String selfName) {
        super(context);
        this.store = store;
        this.runner = runner;
        this.token = token;
        this.selfName = selfName;
        Cluster cluster = Cluster.get(context.getSystem());
        ActorRef<ClusterEvent.MemberRemoved> removed = context.messageAdapter(
                ClusterEvent.MemberRemoved.class,
                e -> new MemberLeft(ClusterMembership.nodeName(e.member().address())));
        cluster.subscriptions().tell(Subscribe.create(removed, ClusterEvent.MemberRemoved.class));
        rebuild(cluster);
    }

    /** The scheduler of the node {@code selfName}, over its view of the shared store. */
    static Behavior<SchedulerCommand> create(JobStore store, JobRunner runner, NodeToken token, String selfName) {
        return Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(SchedulerTick.INSTANCE, TICK);
            return Behaviors.setup(ctx -> new JobScheduler(ctx, store, runner, token, selfName));
        });
    }

    /** Queued jobs from the disk; running ones stay with their node while it is a member, else queue again, first. */
    private void rebuild(Cluster cluster) {
        Set<String> members = new HashSet<>();
        for (Member m : cluster.state().getMembers()) {
            if (m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp()) {
                members.add(ClusterMembership.nodeName(m.address()));
            }
        }
        store.refresh(r -> false);
        long now = System.currentTimeMillis();
        List<JobRecord> orphans = new ArrayList<>();
        for (JobRecord record : store.all()) {
            JobStatus status = record.status();
            if (status.getState() == JobState.JOB_STATE_QUEUED) {
                pending.addLast(record.id);
            } else if (status.getState() == JobState.JOB_STATE_RUNNING) {
                if (members.contains(status.getNode())) {
                    assigned.put(record.id, new Assignment(status.getNode(), now));
                } else {
                    orphans.add(record);
                }
            }
        }
        orphans.sort(Comparator.comparingLong((JobRecord r) -> r.status().getStartedTimeMs())
                .reversed());
        orphans.forEach(r -> requeueFirst(r, "its node " + r.status().getNode() + " is not in the cluster"));
        LOG.info(
                "job scheduler started on {}: {} queued, {} running on members, {} to resume from nodes gone",
                selfName,
                pending.size() - orphans.size(),
                assigned.size(),
                orphans.size());
    }

    @Override
    public Receive<SchedulerCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(Submitted.class, this::onSubmitted)
                .onMessage(NodeReport.class, this::onReport)
                .onMessage(JobEnded.class, this::onEnded)
                .onMessage(Cancel.class, this::onCancel)
                .onMessage(ListNodes.class, this::onListNodes)
                .onMessage(MemberLeft.class, this::onMemberLeft)
                .onMessageEquals(SchedulerTick.INSTANCE, this::onTick)
                .build();
    }

    private Behavior<SchedulerCommand> onSubmitted(Submitted submitted) {
        String id = submitted.jobId();
        if (!pending.contains(id) && !assigned.containsKey(id)) {
            store.reload(id)
                    .filter(r -> r.status().getState() == JobState.JOB_STATE_QUEUED)
                    .ifPresent(r -> pending.addLast(id));
        }
        dispatch();
        return this;
    }

    private Behavior<SchedulerCommand> onReport(NodeReport report) {
        if (!token.proves(report.tokenProof(), report.node())) {
            if (agents.remove(report.node()) != null || !rejected.contains(report.node())) {
                LOG.error("node {} does not know the cluster's token: it gets no job and is downed", report.node());
                rejected.add(report.node());
                Address address = report.agent().path().address();
                Cluster.get(getContext().getSystem()).manager().tell(new Down(address));
            }
            return this;
        }
        if (!agents.containsKey(report.node())) {
            LOG.info(
                    "node {} ready: {} slot(s), devices {}, clients at {}",
                    report.node(),
                    report.slots(),
                    report.devices(),
                    report.clientAddress());
        }
        long now = System.currentTimeMillis();
        agents.put(report.node(), new Agent(report, now));
        for (String id : report.running()) {
            Assignment was = assigned.get(id);
            if (was == null || !was.node().equals(report.node())) {
                pending.remove(id);
                assigned.put(id, new Assignment(report.node(), now));
            }
        }
        dispatch();
        return this;
    }

    private Behavior<SchedulerCommand> onEnded(JobEnded ended) {
        Assignment a = assigned.get(ended.jobId());
        if (a != null && a.node().equals(ended.node())) {
            assigned.remove(ended.jobId());
        }
        dispatch();
        return this;
    }

    private Behavior<SchedulerCommand> onCancel(Cancel cancel) {
        String id = cancel.jobId();
        Assignment a = assigned.get(id);
        Agent agent = a == null ? null : agents.get(a.node());
        if (agent != null) {
            agent.report().agent().tell(new CancelJob(id, cancel.replyTo()));
            return this;
        }
        Optional<JobRecord> record = store.reload(id);
        if (record.isEmpty()) {
            cancel.replyTo().tell(new CancelResult(id, new byte[0], "no job " + id + " in the cluster", "NOT_FOUND"));
            return this;
        }
        JobStatus status = record.get().status();
        if (JobRecord.isTerminal(status.getState())) {
            cancel.replyTo()
                    .tell(new CancelResult(
                            id,
                            status.toByteArray(),
                            "job " + id + " already ended: " + stateName(status.getState()),
                            "FAILED_PRECONDITION"));
            return this;
        }
        pending.remove(id);
        assigned.remove(id);
        runner.cancelQueued(record.get(), "cancelled by a client before it started");
        cancel.replyTo().tell(new CancelResult(id, record.get().status().toByteArray(), "", ""));
        dispatch();
        return this;
    }

    private Behavior<SchedulerCommand> onListNodes(ListNodes list) {
        ListJobsResponse.Builder nodes = ListJobsResponse.newBuilder();
        for (Agent agent : agents.values()) {
            NodeReport r = agent.report();
            nodes.addNodes(ClusterNode.newBuilder()
                    .setName(r.node())
                    .setClientAddress(r.clientAddress())
                    .setSlots(r.slots())
                    .setDevices(r.devices())
                    .addAllRunningJobs(Arrays.asList(r.running()))
                    .setScheduler(r.node().equals(selfName)));
        }
        list.replyTo().tell(new NodeList(nodes.build().toByteArray()));
        return this;
    }

    private Behavior<SchedulerCommand> onMemberLeft(MemberLeft left) {
        agents.remove(left.node());
        List<String> held = assigned.entrySet().stream()
                .filter(e -> e.getValue().node().equals(left.node()))
                .map(Map.Entry::getKey)
                .collect(Collectors.toCollection(ArrayList::new));
        if (!held.isEmpty()) {
            LOG.warn("node {} left the cluster holding {} job(s); they resume on other nodes", left.node(), held);
        } else {
            LOG.info("node {} left the cluster", left.node());
        }
        Collections.reverse(held); // requeued first in the order they were sent
        for (String id : held) {
            assigned.remove(id);
            store.reload(id)
                    .filter(r -> !JobRecord.isTerminal(r.status().getState()))
                    .ifPresent(r -> requeueFirst(r, "node " + left.node() + " left the cluster"));
        }
        dispatch();
        return this;
    }

    /**
     * Jobs sent to a live node that its reports have not listed for a while are sent to it again (the message may
     * have been lost; the agent ignores a job it holds), unless they ended meanwhile.
     */
    private Behavior<SchedulerCommand> onTick() {
        long now = System.currentTimeMillis();
        for (Map.Entry<String, Assignment> e : new ArrayList<>(assigned.entrySet())) {
            Agent agent = agents.get(e.getValue().node());
            if (agent == null
                    || agent.reportedAtMillis() < e.getValue().sinceMillis() + RESEND_AFTER_MILLIS
                    || agent.holds().contains(e.getKey())) {
                continue;
            }
            Optional<JobRecord> record = store.reload(e.getKey());
            if (record.isEmpty() || JobRecord.isTerminal(record.get().status().getState())) {
                assigned.remove(e.getKey());
            } else {
                assigned.put(e.getKey(), new Assignment(e.getValue().node(), now));
                agent.report().agent().tell(new RunJob(e.getKey()));
            }
        }
        dispatch();
        return this;
    }

    private void requeueFirst(JobRecord record, String why) {
        store.save(
                record,
                record.status().toBuilder()
                        .setState(JobState.JOB_STATE_QUEUED)
                        .setMessage("waiting to resume: " + why)
                        .build());
        pending.remove(record.id);
        pending.addFirst(record.id);
    }

    /** Sends queued jobs, oldest first, each to the node with the most free slots (ties: the first by name). */
    private void dispatch() {
        Map<String, Integer> load = new HashMap<>();
        assigned.values().forEach(a -> load.merge(a.node(), 1, Integer::sum));
        while (!pending.isEmpty()) {
            Agent best = null;
            int bestFree = 0;
            for (Agent agent : agents.values()) {
                int free = agent.report().slots()
                        - load.getOrDefault(agent.report().node(), 0);
                if (free > bestFree) {
                    best = agent;
                    bestFree = free;
                }
            }
            if (best == null) {
                return;
            }
            String id = pending.pollFirst();
            Optional<JobRecord> record = store.reload(id);
            if (record.isEmpty() || record.get().status().getState() != JobState.JOB_STATE_QUEUED) {
                continue; // cancelled or gone meanwhile
            }
            String node = best.report().node();
            assigned.put(id, new Assignment(node, System.currentTimeMillis()));
            load.merge(node, 1, Integer::sum);
            best.report().agent().tell(new RunJob(id));
            LOG.info("job {} sent to node {}", id, node);
        }
    }

    private static String stateName(JobState state) {
        return state.name().substring("JOB_STATE_".length()).toLowerCase(Locale.ROOT);
    }
}
