package dev.espalier.engine.runtime;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.TensorOps;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * An actor system holding one job's {@link DeviceWorker}s, for a job whose phases run one after another from the job's
 * thread (the policy-gradient job): a call to one worker ({@link #call}) or a whole {@link PolicyLearner} run
 * ({@link #learn}), each awaited. The workers stay the only callers of the kernels.
 */
final class DeviceSystem implements AutoCloseable {

    private record Call(int worker, Function<ActorRef<DeviceWorker.Reply>, DeviceWorker.Command> command,
                        CompletableFuture<DeviceWorker.Reply> reply) {}

    private record Tell(int worker, DeviceWorker.Command command) {}

    private record Learn(Function<List<ActorRef<DeviceWorker.Command>>, PolicyLearner.Setup> setup,
                         CompletableFuture<PolicyLearner.Result> result) {}

    private final ActorSystem<Object> system;
    private final HostActivationStore store = new HostActivationStore();
    private final List<TensorOps> ops = new ArrayList<>();

    /** Workers for {@code devices}, each holding activations of up to {@code maxTokens} rows of {@code model}. */
    DeviceSystem(LlamaModel model, DeviceSpec devices, int maxTokens) {
        for (int i = 0; i < devices.count(); i++) {
            ops.add(devices.createOps(i));
        }
        system = ActorSystem.create(Behaviors.setup(ctx -> {
            List<ActorRef<DeviceWorker.Command>> workers = new ArrayList<>();
            for (int i = 0; i < ops.size(); i++) {
                workers.add(ctx.spawn(DeviceWorker.create(new DeviceWorker.Device(0, i, ops.get(i), model.config(), model.embedTokens(),
                        maxTokens, store, FaultInjector.NONE)), "device-" + i, DispatcherSelector.fromConfig("espalier.device-dispatcher")));
            }
            return Behaviors.receive(Object.class)
                    .onMessage(Call.class, c -> {
                        workers.get(c.worker()).tell(c.command().apply(ctx.spawnAnonymous(once(c.reply()))));
                        return Behaviors.same();
                    })
                    .onMessage(Tell.class, t -> {
                        workers.get(t.worker()).tell(t.command());
                        return Behaviors.same();
                    })
                    .onMessage(Learn.class, l -> {
                        ctx.spawnAnonymous(PolicyLearner.create(l.setup().apply(workers), ctx.spawnAnonymous(once(l.result()))));
                        return Behaviors.same();
                    })
                    .build();
        }), "espalier-policy");
    }

    private static <T> Behavior<T> once(CompletableFuture<T> into) {
        return Behaviors.receiveMessage(m -> {
            into.complete(m);
            return Behaviors.stopped();
        });
    }

    /** Sends worker {@code worker} the command {@code command} builds around a reply address and waits for the reply. */
    DeviceWorker.Reply call(int worker, Function<ActorRef<DeviceWorker.Reply>, DeviceWorker.Command> command) throws Exception {
        CompletableFuture<DeviceWorker.Reply> reply = new CompletableFuture<>();
        system.tell(new Call(worker, command, reply));
        DeviceWorker.Reply r = reply.get();
        if (r instanceof DeviceWorker.CallFailed f) {
            throw new PipelineFailedException("device call " + f.call() + " failed: " + f.message());
        }
        return r;
    }

    /** Sends worker {@code worker} a command that has no reply. */
    void tell(int worker, DeviceWorker.Command command) {
        system.tell(new Tell(worker, command));
    }

    /** Runs a {@link PolicyLearner} over the workers until it reports; {@code cancel} ends the wait early. */
    PolicyLearner.Result learn(Function<List<ActorRef<DeviceWorker.Command>>, PolicyLearner.Setup> setup,
            dev.espalier.engine.runtime.node.CancellationToken cancel) throws Exception {
        CompletableFuture<PolicyLearner.Result> result = new CompletableFuture<>();
        if (cancel != null) {
            cancel.onCancel(() -> result.completeExceptionally(new java.util.concurrent.CancellationException(cancel.reason())));
        }
        system.tell(new Learn(setup, result));
        try {
            return result.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }

    @Override
    public void close() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get();
        ops.forEach(TensorOps::close);
        store.close();
    }
}
