package dev.espalier.engine.runtime.node;

import dev.espalier.engine.runtime.ClusterProtocol.CancelResult;
import dev.espalier.protocol.v1.ClusterNode;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A cluster node's side of the jobs: those the scheduler gave it (held until a slot finishes them), and the view of the
 * shared run folder its verbs answer from. A job this node holds is answered from its live record (progress included);
 * any other from its status on disk, as the node that runs it last saved it.
 */
final class ClusterJobs implements NodeAgent.LocalJobs {
    private final JobStore store;
    private final JobQueue queue;
    private final JobRunner runner;
    private final Set<String> held = ConcurrentHashMap.newKeySet();
    private volatile ClusterMembership membership;

    ClusterJobs(JobStore store, JobQueue queue, JobRunner runner) {
        this.store = store;
        this.queue = queue;
        this.runner = runner;
    }

    void joined(ClusterMembership joined) {
        membership = joined;
    }

    /** The membership; UNAVAILABLE-worthy IllegalStateException while the node is still joining. */
    ClusterMembership membership() {
        ClusterMembership m = membership;
        if (m == null) {
            throw new IllegalStateException("this node is still joining the cluster; try again in a moment");
        }
        return m;
    }

    @Override
    public boolean take(String id) {
        if (held.contains(id)) {
            return true;
        }
        Optional<JobRecord> record = store.reload(id);
        if (record.isEmpty() || JobRecord.isTerminal(record.get().status().getState())) {
            return false;
        }
        held.add(id);
        queue.putRecovered(record.get());
        return true;
    }

    @Override
    public CancelResult cancelHeld(String id) {
        Optional<JobRecord> found = find(id);
        if (found.isEmpty()) {
            return new CancelResult(id, new byte[0], "no job " + id + " in the cluster", "NOT_FOUND");
        }
        JobRecord record = found.get();
        synchronized (record) {
            JobState state = record.status().getState();
            if (JobRecord.isTerminal(state)) {
                return new CancelResult(
                        id,
                        record.status().toByteArray(),
                        "job " + id + " already ended: "
                                + state.name().substring("JOB_STATE_".length()).toLowerCase(Locale.ROOT),
                        "FAILED_PRECONDITION");
            }
            if (held.contains(id) && queue.remove(record)) {
                runner.cancelQueued(record, "cancelled by a client before it started");
                held.remove(id);
                membership().finished(id);
            } else {
                record.requestStop(JobRecord.StopRequest.CLIENT, "cancelled by a client");
                record.updateLive(s -> s.setMessage("cancelling at the next safe point"));
            }
        }
        return new CancelResult(id, record.status().toByteArray(), "", "");
    }

    @Override
    public String[] held() {
        return held.toArray(String[]::new);
    }

    /** A slot of this node is done with {@code job}; unless the node stopped it to shut down, the slot is free. */
    void finished(JobRecord job) {
        held.remove(job.id);
        if (job.stopRequest() != JobRecord.StopRequest.SHUTDOWN) {
            membership().finished(job.id);
        }
    }

    /** Job {@code id}: live when this node holds it, else as on disk now. */
    Optional<JobRecord> find(String id) {
        if (held.contains(id)) {
            return store.find(id);
        }
        return store.reload(id);
    }

    /** Every job of the cluster, oldest first. */
    List<JobStatus> all() {
        store.refresh(r -> held.contains(r.id));
        return store.all().stream().map(JobRecord::status).toList();
    }

    /** QUEUED jobs in the whole cluster (a soft bound on submissions: nodes may count at the same time). */
    long queued() {
        return all().stream()
                .filter(s -> s.getState() == JobState.JOB_STATE_QUEUED)
                .count();
    }

    /** Hands job {@code id}, just created QUEUED on disk, to the scheduler. */
    void submitted(String id) {
        membership().submitted(id);
    }

    CancelResult cancelAnywhere(String id) {
        return membership().cancel(id);
    }

    List<ClusterNode> nodes() {
        return membership().nodes();
    }
}
