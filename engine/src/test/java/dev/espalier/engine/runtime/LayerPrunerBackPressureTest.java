package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.PruningMethod;
import dev.espalier.engine.prune.SolveOrder;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.prune.UnstructuredMethod;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.reference.ReferenceOps;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A slow downstream stage bounds what the stage above it holds, whatever the number of calibration batches. */
class LayerPrunerBackPressureTest {
    private static final int WINDOW = 3;
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static ActorTestKit kit;
    private static LlamaModel model;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
        model = PipelineFixture.load();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
        model.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {12, 48})
    void slowDownstreamBoundsBatchesHeldToTheWindow(int batches) {
        DeviceWorker.Host host = new DeviceWorker.Host(new HostActivationStore(), new HostModels(), new HostProblems());
        HostActivationStore store = host.activations();
        ActorRef<DeviceWorker.Command> worker =
                kit.spawn(DeviceWorker.create(new DeviceWorker.Device(0, "reference", new ReferenceOps(), host)));
        SessionRef session = new SessionRef(1, "back-pressure");
        worker.tell(new DeviceWorker.OpenSession(
                session, host.models().register("dense", model), 16, null, DType.F32, FaultInjector.NONE));
        TestProbe<DeviceWorker.Reply> replies = kit.createTestProbe();
        worker.tell(new DeviceWorker.OpenLayer(
                session,
                1,
                0,
                false,
                new UnstructuredMethod(
                        PruningMethod.magnitude(), SparsityPattern.UNSTRUCTURED, 0.5, SolveOrder.SHARED, false),
                replies.ref()));
        replies.expectMessageClass(DeviceWorker.LayerOpened.class, WAIT);

        TestProbe<LayerPruner.Demand> source = kit.createTestProbe();
        TestProbe<LayerPruner.Event> supervisor = kit.createTestProbe();
        TestProbe<LayerPruner.Command> downstream = kit.createTestProbe();
        IdSource ids = new IdSource(1);
        ActorRef<LayerPruner.Command> stage = kit.spawn(LayerPruner.create(new LayerPruner.Wiring(
                session,
                0,
                false,
                true,
                0,
                List.of(worker),
                source.ref(),
                WINDOW,
                1,
                false,
                false,
                null,
                supervisor.ref(),
                ids))); // opened above

        int credit = source.expectMessageClass(LayerPruner.Demand.class, WAIT).batches();
        assertEquals(WINDOW, credit);
        stage.tell(new LayerPruner.Demand(1, downstream.ref())); // the slow consumer takes one batch at a time
        int sent = 0;
        int received = 0;
        int[] tokens = new int[16];
        while (received < batches) {
            while (credit > 0 && sent < batches) {
                ActivationRef ref = ids.next(0, 0, sent);
                worker.tell(new DeviceWorker.Embed(session, ref, tokens, replies.ref()));
                replies.expectMessageClass(DeviceWorker.Stored.class, WAIT);
                stage.tell(new LayerPruner.Batch(ref, null));
                sent++;
                credit--;
                if (sent == batches) {
                    stage.tell(new LayerPruner.UpstreamDone(batches));
                }
            }
            LayerPruner.Batch out = (LayerPruner.Batch) downstream.expectMessageClass(LayerPruner.Batch.class, WAIT);
            assertTrue(store.held() <= WINDOW + 1, "held " + store.held() + " batches");
            worker.tell(new DeviceWorker.Release(out.input()));
            received++;
            credit += source.expectMessageClass(LayerPruner.Demand.class, WAIT).batches();
            stage.tell(new LayerPruner.Demand(1, downstream.ref()));
        }
        downstream.expectMessageClass(LayerPruner.UpstreamDone.class, WAIT);
        supervisor.expectMessageClass(LayerPruner.LayerStreamed.class, WAIT);
        assertTrue(
                store.peakHeld() <= WINDOW + 1,
                "peak " + store.peakHeld() + " batches held for " + batches + " batches sent");
        kit.stop(stage);
        kit.stop(worker);
        store.close();
    }
}
