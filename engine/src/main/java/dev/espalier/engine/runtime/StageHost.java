package dev.espalier.engine.runtime;

import dev.espalier.engine.prune.LayerMethod;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntPredicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * One per cluster node: runs stages of jobs whose pipeline spans several nodes ({@code runtime.pipeline_nodes}). A job's
 * supervisor, on another node, asks it to host a range of consecutive layers; the host opens the job's model, method
 * and a session on this node's device workers (the {@link Opener}, from the spec in the shared run folder), spawns one
 * {@link LayerPruner} per layer, chained to the supervisor's upstream stage, and answers with their references.
 * Batches then cross between the nodes as {@link LayerPruner.HandedOff} files under the same demand as within one
 * process; checkpoints are staged for the job's node to commit. The host releases a job's stages when the supervisor
 * says so (a restart, the pass done) or stops (its node died or the job ended), whichever comes first. Registered with
 * the cluster's receptionist under {@link #KEY}, so that supervisors find every node's host.
 */
public final class StageHost {
    public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "espalier-stage-host");

    public sealed interface Command {}

    /**
     * Host layers {@code first} (inclusive) to {@code end} (exclusive) of job {@code job}'s pipeline generation
     * {@code generation}: the first takes its batches from {@code upstream}, all report to {@code events}, and the
     * answer goes to {@code replyTo}. {@code owner}: the supervisor, watched so that its stages here end with it.
     */
    public record HostStages(
            String job,
            int generation,
            int first,
            int end,
            int window,
            ActorRef<LayerPruner.Demand> upstream,
            ActorRef<LayerPruner.Event> events,
            ActorRef<PruneSupervisor.Command> owner,
            ActorRef<Hosted> replyTo)
            implements Command, CrossJvmMessage {}

    /** Stop job {@code job}'s stages of generation {@code generation} or older here and free what they hold. */
    public record ReleaseStages(String job, int generation) implements Command, CrossJvmMessage {}

    private record Opened(HostStages request, OpenedStages opened, Throwable failure) implements Command {}

    private record OwnerStopped(String job, ActorRef<PruneSupervisor.Command> owner) implements Command {}

    /** A host's answer to {@link HostStages}. */
    public sealed interface Hosted {}

    /** The stages of layers {@code first}, {@code first + 1}, … run on node {@code node} (an ArrayList: Kryo's). */
    public record StagesHosted(String node, int generation, int first, ArrayList<ActorRef<LayerPruner.Command>> stages)
            implements Hosted, CrossJvmMessage {}

    /** Node {@code node} could not open the job (its model or run folder unreadable there, …). */
    public record StagesRefused(String node, int generation, int first, String message)
            implements Hosted, CrossJvmMessage {}

    /** Opens a job on this node from its run folder: blocking (reads the spec, maps the model); called off the actors. */
    @FunctionalInterface
    public interface Opener {
        OpenedStages open(String job) throws Exception;
    }

    /**
     * A job opened on this node: its session on the device workers, its method, its decoder layer count, which layers
     * its run had completed when opened, and what to close when its stages are released (the session first).
     */
    public record OpenedStages(
            Devices.JobDevices devices, LayerMethod method, int layers, IntPredicate completed, AutoCloseable close) {}

    private record Hosting(
            int generation,
            ActorRef<PruneSupervisor.Command> owner,
            OpenedStages opened,
            List<ActorRef<LayerPruner.Command>> stages) {}

    public static Behavior<Command> create(Opener opener, String node) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
            return new StageHost(ctx, opener, node).running();
        });
    }

    private final ActorContext<Command> ctx;
    private final Opener opener;
    private final String node;
    private final Map<String, Hosting> hosted = new HashMap<>();

    private StageHost(ActorContext<Command> ctx, Opener opener, String node) {
        this.ctx = ctx;
        this.opener = opener;
        this.node = node;
    }

    private Behavior<Command> running() {
        return Behaviors.receive(Command.class)
                .onMessage(HostStages.class, this::onHostStages)
                .onMessage(Opened.class, this::onOpened)
                .onMessage(ReleaseStages.class, m -> {
                    Hosting h = hosted.get(m.job());
                    if (h != null && h.generation() <= m.generation()) {
                        release(m.job(), "released by its supervisor");
                    }
                    return Behaviors.same();
                })
                .onMessage(OwnerStopped.class, m -> {
                    Hosting h = hosted.get(m.job());
                    if (h != null && h.owner().equals(m.owner())) { // not a resumed run's, on another node
                        release(m.job(), "its supervisor stopped");
                    }
                    return Behaviors.same();
                })
                .build();
    }

    private Behavior<Command> onHostStages(HostStages m) {
        release(m.job(), "a new generation replaces it");
        var blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
        ctx.pipeToSelf(
                CompletableFuture.supplyAsync(
                        () -> {
                            try {
                                return opener.open(m.job());
                            } catch (Exception e) {
                                throw new IllegalStateException(e.getMessage(), e);
                            }
                        },
                        blocking),
                (opened, failure) -> new Opened(m, opened, failure));
        return Behaviors.same();
    }

    private Behavior<Command> onOpened(Opened m) {
        HostStages r = m.request();
        if (m.failure() != null) {
            Throwable cause = m.failure().getCause() != null ? m.failure().getCause() : m.failure();
            ctx.getLog().warn("{}: cannot host layers {}-{}: {}", r.job(), r.first(), r.end() - 1, cause.getMessage());
            r.replyTo().tell(new StagesRefused(node, r.generation(), r.first(), String.valueOf(cause.getMessage())));
            return Behaviors.same();
        }
        OpenedStages opened = m.opened();
        Hosting current = hosted.get(r.job());
        if ((current != null && current.generation() > r.generation()) || r.end() > opened.layers()) {
            close(r.job(), opened);
            r.replyTo()
                    .tell(new StagesRefused(
                            node,
                            r.generation(),
                            r.first(),
                            r.end() > opened.layers()
                                    ? "layers up to " + (r.end() - 1) + " asked for; the model has " + opened.layers()
                                    : "a newer generation is hosted"));
            return Behaviors.same();
        }
        release(r.job(), "a new generation replaces it");
        IdSource ids = new IdSource(r.generation());
        List<ActorRef<DeviceWorker.Command>> workers = opened.devices().workers();
        List<ActorRef<LayerPruner.Command>> stages = new ArrayList<>();
        ActorRef<LayerPruner.Demand> upstream = r.upstream();
        for (int l = r.first(); l < r.end(); l++) {
            LayerPruner.Wiring wiring = new LayerPruner.Wiring(
                    opened.devices().session(),
                    l,
                    l == opened.layers() - 1,
                    opened.completed().test(l),
                    (l - r.first()) % workers.size(),
                    workers,
                    upstream,
                    r.window(),
                    opened.method().phases(),
                    false,
                    true,
                    opened.method(),
                    r.events(),
                    ids);
            ActorRef<LayerPruner.Command> stage =
                    ctx.spawn(LayerPruner.create(wiring), "job-" + r.job() + "-layer-" + l + "-g" + r.generation());
            stages.add(stage);
            upstream = stage.narrow();
        }
        hosted.put(r.job(), new Hosting(r.generation(), r.owner(), opened, List.copyOf(stages)));
        ctx.watchWith(r.owner(), new OwnerStopped(r.job(), r.owner()));
        ctx.getLog()
                .info(
                        "{}: hosting layers {}-{} of generation {} on {}",
                        r.job(),
                        r.first(),
                        r.end() - 1,
                        r.generation(),
                        String.join(", ", opened.devices().names()));
        r.replyTo().tell(new StagesHosted(node, r.generation(), r.first(), new ArrayList<>(stages)));
        return Behaviors.same();
    }

    /** Stops job {@code job}'s stages here, if any, and closes its session and model. */
    private void release(String job, String why) {
        Hosting h = hosted.remove(job);
        if (h == null) {
            return;
        }
        h.stages().forEach(ctx::stop);
        close(job, h.opened());
        ctx.getLog().info("{}: stages of generation {} released ({})", job, h.generation(), why);
    }

    private void close(String job, OpenedStages opened) {
        try {
            opened.close().close();
        } catch (Exception e) {
            ctx.getLog().warn("{}: closing its hosted stages failed: {}", job, e.toString());
        }
    }
}
