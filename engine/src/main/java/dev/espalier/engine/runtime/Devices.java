package dev.espalier.engine.runtime;

import com.typesafe.config.Config;
import dev.espalier.engine.runtime.store.LayerCheckpoints;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.ComputePool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.ChildFailed;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.SpawnProtocol;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The device workers of this process, created once (by the node, or by a one-shot run) and shared by every job: one
 * {@link DeviceWorker} per device in one actor system, the host memory they share, and the place where jobs start
 * their actors ({@link #run}). A job never spawns workers of its own; it opens a session on some of these
 * ({@link #open}), so N concurrent jobs queue their calls on the same workers instead of each taking every core. The
 * CPU workers share one pool of threads ({@link ComputePool}): a worker alone on the host uses every core, busy ones
 * share them.
 */
public final class Devices implements AutoCloseable {
    private static final Duration SPAWN_TIMEOUT = Duration.ofSeconds(30);

    private final DeviceSpec spec;
    private final ActorSystem<SpawnProtocol.Command> system;
    private final DeviceWorker.Host host;
    private final ComputePool cpuPool; // the threads every CPU worker shares; null for GPU workers
    private final List<TensorOps> ops = new ArrayList<>();
    private final List<ActorRef<DeviceWorker.Command>> workers = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private final AtomicLong sessions = new AtomicLong(1);
    private final AtomicInteger nextFirst = new AtomicInteger();
    private final AtomicLong actorNames = new AtomicLong(1);

    private Devices(DeviceSpec spec, long activationBudgetBytes, Config config) {
        this.spec = spec;
        this.host = new DeviceWorker.Host(
                new HostActivationStore(activationBudgetBytes), new HostModels(), new HostProblems());
        this.system = config == null
                ? ActorSystem.create(SpawnProtocol.create(), "espalier")
                : ActorSystem.create(SpawnProtocol.create(), "espalier", config);
        this.cpuPool = spec.isCuda() ? null : new ComputePool(spec.threadsPerDevice());
        for (int d = 0; d < spec.count(); d++) {
            TensorOps backend = spec.createOps(d, cpuPool);
            ops.add(backend);
            String name = spec.name(d);
            names.add(name);
            workers.add(spawn(
                    DeviceWorker.create(new DeviceWorker.Device(d, name, backend, host)),
                    "device-" + d,
                    DispatcherSelector.fromConfig("espalier.device-dispatcher")));
        }
    }

    /** Starts the workers of {@code spec} (e.g. {@code cpu:2}: two workers sharing the cores). */
    public static Devices start(DeviceSpec spec) {
        return start(spec, HostActivationStore.DEFAULT_BUDGET_BYTES);
    }

    /**
     * As {@link #start(DeviceSpec)}, holding at most {@code activationBudgetBytes} of calibration activations in memory
     * for all jobs together; beyond it, a job's activations are spilled to its run directory.
     */
    public static Devices start(DeviceSpec spec, long activationBudgetBytes) {
        return new Devices(spec, activationBudgetBytes, null);
    }

    /**
     * As {@link #start(DeviceSpec, long)}, in an actor system of the given settings (e.g. a cluster node's), named
     * "espalier" like every other.
     */
    public static Devices start(DeviceSpec spec, long activationBudgetBytes, Config config) {
        return new Devices(spec, activationBudgetBytes, config);
    }

    /** Starts a node-wide actor (a cluster node's {@link StageHost}) beside the workers; it stops with them. */
    public <T> ActorRef<T> spawnService(Behavior<T> behavior, String name) {
        return spawn(behavior, name, Props.empty());
    }

    /** The actor system the workers and the jobs' actors run in. */
    public ActorSystem<?> system() {
        return system;
    }

    /** The devices as the process was started with them: "cpu (2 threads)", "cpu:0/2, cpu:1/2 (sharing 2 threads)". */
    public String describe() {
        String threads = spec.threadsPerDevice() + (spec.threadsPerDevice() == 1 ? " thread" : " threads");
        if (!spec.isCuda()) {
            return String.join(", ", names) + (names.size() == 1 ? " (" : " (sharing ") + threads + ")";
        }
        List<String> parts = new ArrayList<>();
        for (String n : names) {
            parts.add(n + " (" + threads + " on the host)");
        }
        return String.join(", ", parts);
    }

    public int count() {
        return workers.size();
    }

    /** The models resident on this host, by handle. */
    public HostModels models() {
        return host.models();
    }

    /** The activations held on this host (for tests of back-pressure and of leaks). */
    public HostActivationStore activations() {
        return host.activations();
    }

    /**
     * Opens a session for job {@code job} on the workers {@code wanted} picks among this process's (as many as it
     * names, starting at a worker that rotates from job to job so concurrent jobs spread), over the host model
     * {@code model}; its layer checkpoints go to {@code run} as {@code checkpointDtype}. IllegalArgumentException when
     * the job wants more workers than the process has.
     */
    public JobDevices open(
            String job,
            DeviceSpec wanted,
            ModelRef model,
            int maxTokens,
            LayerCheckpoints run,
            DType checkpointDtype,
            FaultInjector faults) {
        if (wanted.count() > workers.size()) {
            throw new IllegalArgumentException("the job asks for " + wanted.count()
                    + " device workers; this process has " + workers.size() + " (" + describe() + ")");
        }
        int first = Math.floorMod(nextFirst.getAndIncrement(), workers.size());
        List<ActorRef<DeviceWorker.Command>> chosen = new ArrayList<>();
        List<String> chosenNames = new ArrayList<>();
        for (int i = 0; i < wanted.count(); i++) {
            chosen.add(workers.get((first + i) % workers.size()));
            chosenNames.add(names.get((first + i) % workers.size()));
        }
        SessionRef session = new SessionRef(sessions.getAndIncrement(), job);
        chosen.forEach(w -> w.tell(
                new DeviceWorker.OpenSession(session, model, Math.max(1, maxTokens), run, checkpointDtype, faults)));
        return new JobDevices(session, List.copyOf(chosen), List.copyOf(chosenNames));
    }

    /**
     * A job's share of the workers: its session and the workers it runs on (its worker i is {@code workers().get(i)}).
     * Closing it frees what the job holds on them.
     */
    public record JobDevices(SessionRef session, List<ActorRef<DeviceWorker.Command>> workers, List<String> names)
            implements AutoCloseable {
        @Override
        public void close() {
            workers.forEach(w -> w.tell(new DeviceWorker.CloseSession(session)));
        }
    }

    /**
     * Starts the actor {@code factory} makes (given where to send its one result, of type {@code type}) in this
     * process's actor system and completes with that result; completes exceptionally when the actor fails or stops
     * without one. The caller waits on the future from its own thread (a job's), never from an actor.
     */
    public <R> CompletableFuture<R> run(String name, Class<R> type, Function<ActorRef<R>, Behavior<?>> factory) {
        CompletableFuture<R> result = new CompletableFuture<>();
        Behavior<RunMessage> parent = Behaviors.setup(ctx -> {
            ActorRef<R> self = ctx.messageAdapter(type, Reported::new);
            ActorRef<?> child = ctx.spawn(factory.apply(self), name);
            ctx.watch(child);
            return Behaviors.receive(RunMessage.class)
                    .onMessage(StopRun.class, stop -> Behaviors.stopped())
                    .onMessage(Reported.class, r -> {
                        result.complete(type.cast(r.result()));
                        return Behaviors.stopped(); // stops the child too
                    })
                    .onSignal(ChildFailed.class, failed -> {
                        result.completeExceptionally(failed.getCause());
                        return Behaviors.stopped();
                    })
                    .onSignal(Terminated.class, stopped -> {
                        result.completeExceptionally(
                                new PipelineFailedException(name + " stopped before it reported a result"));
                        return Behaviors.stopped();
                    })
                    .build();
        });
        ActorRef<RunMessage> started = spawn(parent, name + "-" + actorNames.getAndIncrement(), Props.empty());
        result.whenComplete(
                (r, e) -> started.tell(new StopRun())); // a waiter that gave up (cancellation) stops the actors
        return result;
    }

    /** What the parent of a {@link #run} hears: its child's result, or that its waiter has gone. */
    private sealed interface RunMessage {}

    private record Reported(Object result) implements RunMessage {}

    private record StopRun() implements RunMessage {}

    /**
     * Sends {@code worker} the command {@code command} builds around a reply address and completes with the reply, of
     * type {@code type}; a {@link DeviceWorker.CallFailed} completes it exceptionally with a {@link PipelineFailedException}.
     * For a job's whole-model phases (evaluation, generation, unit scores, zero-shot batches), not for the layer
     * pipeline's traffic, which goes through the stages' own demand-driven protocol.
     */
    public <T extends DeviceWorker.Reply> CompletableFuture<T> call(
            ActorRef<DeviceWorker.Command> worker,
            Class<T> type,
            Function<ActorRef<DeviceWorker.Reply>, DeviceWorker.Command> command) {
        return run(
                        "call",
                        DeviceWorker.Reply.class,
                        replyTo -> Behaviors.setup(ctx -> {
                            worker.tell(command.apply(replyTo));
                            return Behaviors.empty();
                        }))
                .thenApply(reply -> switch (reply) {
                    case DeviceWorker.CallFailed f ->
                        throw new PipelineFailedException("device call " + f.call() + " failed: " + f.message());
                    default -> {
                        if (!type.isInstance(reply)) {
                            throw new IllegalStateException(
                                    "expected " + type.getSimpleName() + " from the device worker, got " + reply);
                        }
                        yield type.cast(reply);
                    }
                });
    }

    /**
     * An actor on Pekko's blocking dispatcher that hands every message of type {@code type} to {@code consumer} (e.g. a
     * job's event log, which forces each event to disk), so that actors that report to it never wait for the disk.
     */
    public <T> Listener<T> listener(String name, Class<T> type, Consumer<T> consumer) {
        CompletableFuture<ActorRef<T>> adapter = new CompletableFuture<>();
        Behavior<ListenerMessage> behavior = Behaviors.setup(ctx -> {
            adapter.complete(ctx.messageAdapter(type, Heard::new));
            return Behaviors.receive(ListenerMessage.class)
                    .onMessage(Drain.class, d -> {
                        d.drained().complete(null);
                        return Behaviors.stopped();
                    })
                    .onMessage(Heard.class, h -> {
                        consumer.accept(type.cast(h.message()));
                        return Behaviors.same();
                    })
                    .build();
        });
        ActorRef<ListenerMessage> actor =
                spawn(behavior, name + "-" + actorNames.getAndIncrement(), DispatcherSelector.blocking());
        return new Listener<>(actor, adapter.join());
    }

    /** What a {@link #listener} hears: a message for its consumer, or that it should finish. */
    private sealed interface ListenerMessage {}

    private record Heard(Object message) implements ListenerMessage {}

    private record Drain(CompletableFuture<Void> drained) implements ListenerMessage {}

    /** A {@link #listener}: {@link #ref()} to report to; {@link #close()} waits until everything sent before is handled. */
    public static final class Listener<T> implements AutoCloseable {
        private final ActorRef<ListenerMessage> actor;
        private final ActorRef<T> ref;

        private Listener(ActorRef<ListenerMessage> actor, ActorRef<T> ref) {
            this.actor = actor;
            this.ref = ref;
        }

        public ActorRef<T> ref() {
            return ref;
        }

        @Override
        public void close() {
            CompletableFuture<Void> drained = new CompletableFuture<>();
            actor.tell(new Drain(drained));
            drained.join();
        }
    }

    private <T> ActorRef<T> spawn(Behavior<T> behavior, String name, Props props) {
        return AskPattern.<SpawnProtocol.Command, ActorRef<T>>ask(
                        system,
                        replyTo -> new SpawnProtocol.Spawn<>(behavior, name, props, replyTo),
                        SPAWN_TIMEOUT,
                        system.scheduler())
                .toCompletableFuture()
                .join();
    }

    @Override
    public void close() {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().join();
        ops.forEach(TensorOps::close);
        if (cpuPool != null) {
            cpuPool.close();
        }
        host.activations().close();
    }
}
