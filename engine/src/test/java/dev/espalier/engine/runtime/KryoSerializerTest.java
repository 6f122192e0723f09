package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.runtime.store.StagedLayer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class KryoSerializerTest {
    private static ActorTestKit kit;
    private static Serialization serialization;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
        serialization =
                SerializationExtension.get(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(kit.system()));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private static Object roundTrip(Object message) {
        Serializer serializer = serialization.findSerializerFor(message);
        assertInstanceOf(KryoSerializer.class, serializer, "messages crossing JVMs go through Kryo");
        byte[] bytes = serializer.toBinary(message);
        try {
            return serializer.fromBinary(bytes, (Class<?>) null);
        } catch (java.io.NotSerializableException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void pipelineMessagesSurviveARoundTrip() {
        TestProbe<LayerPruner.Command> stage = kit.createTestProbe();
        ActivationRef ref = new ActivationRef(7, 2, 1, 3, 12);
        SessionRef session = new SessionRef(4, "job-1");
        EnumMap<LinearModule, LinearPruner.PruneOutcome> outcomes = new EnumMap<>(LinearModule.class);
        outcomes.put(LinearModule.Q, new LinearPruner.PruneOutcome(10, 20));
        outcomes.put(LinearModule.DOWN, new LinearPruner.PruneOutcome(5, 40));
        List<Object> messages = List.of(
                new LayerPruner.Batch(ref, ref),
                new LayerPruner.UpstreamDone(128),
                new LayerPruner.Demand(4, stage.ref()),
                new LayerPruner.LayerPruned(2, 3, outcomes, null),
                new LayerPruner.LayerStreamed(2, 3),
                new LayerPruner.StageFailed(2, 1, "solve Q failed", false),
                new DeviceWorker.Release(ref),
                new DeviceWorker.Stored(ref),
                new DeviceWorker.Forwarded(3, ref, ref, null, null),
                new DeviceWorker.CallFailed(2, "forward layer 3", "boom", true),
                new DeviceWorker.Allocate(session, new LayerAllocation(3, 2, 100)),
                new DeviceWorker.Allocate(session, LayerAllocation.ofSparsity(3, 0.62)),
                new DeviceWorker.Accumulate(session, 3, 0, ref, null, null),
                new DeviceWorker.CheckpointLayer(session, 2, 3, null),
                new DeviceWorker.LayerCheckpointed(2, 3, null),
                new DeviceWorker.ReleaseGeneration(session, 2),
                new DeviceWorker.CloseSession(session),
                new DeviceWorker.Solve(session, new ProblemRef(9, 3, "q_proj"), null));
        for (Object m : messages) {
            assertEquals(m, roundTrip(m), m.getClass().getSimpleName());
        }
    }

    @Test
    void clusterMessagesSurviveARoundTrip() {
        TestProbe<ClusterProtocol.AgentCommand> agent = kit.createTestProbe();
        TestProbe<ClusterProtocol.CancelResult> replies = kit.createTestProbe();
        TestProbe<ClusterProtocol.NodeList> lists = kit.createTestProbe();
        List<Object> messages = List.of(
                new ClusterProtocol.Submitted("20261207-000000-ab12"),
                new ClusterProtocol.JobEnded("j", "127.0.0.1:25520"),
                new ClusterProtocol.Cancel("j", replies.ref()),
                new ClusterProtocol.ListNodes(lists.ref()),
                new ClusterProtocol.RunJob("j"),
                new ClusterProtocol.CancelJob("j", replies.ref()));
        for (Object m : messages) {
            assertEquals(m, roundTrip(m), m.getClass().getSimpleName());
        }
        // Records holding arrays compare by identity: compare their parts.
        ClusterProtocol.NodeReport report = new ClusterProtocol.NodeReport(
                agent.ref(), "127.0.0.1:25521", "proof", 2, "cpu (2 threads)", "127.0.0.1:7070", new String[] {"a", "b"
                });
        ClusterProtocol.NodeReport back = (ClusterProtocol.NodeReport) roundTrip(report);
        assertEquals(report.agent(), back.agent());
        assertEquals(
                List.of(report.node(), report.tokenProof(), report.devices(), report.clientAddress()),
                List.of(back.node(), back.tokenProof(), back.devices(), back.clientAddress()));
        assertEquals(report.slots(), back.slots());
        assertEquals(List.of(report.running()), List.of(back.running()));
        ClusterProtocol.CancelResult result =
                new ClusterProtocol.CancelResult("j", new byte[] {1, 2, 3}, "no job j", "NOT_FOUND");
        ClusterProtocol.CancelResult resultBack = (ClusterProtocol.CancelResult) roundTrip(result);
        assertEquals(
                List.of(1, 2, 3),
                List.of(
                        resultBack.status()[0] + 0,
                        resultBack.status()[1] + 0,
                        resultBack.status()[2] + 0));
        assertEquals(result.error() + result.errorCode(), resultBack.error() + resultBack.errorCode());
        ClusterProtocol.NodeList nodes =
                (ClusterProtocol.NodeList) roundTrip(new ClusterProtocol.NodeList(new byte[] {9}));
        assertEquals(1, nodes.nodes().length);
    }

    @Test
    void messagesOfAPipelineAcrossNodesSurviveARoundTrip() {
        TestProbe<LayerPruner.Command> stage = kit.createTestProbe();
        TestProbe<LayerPruner.Event> events = kit.createTestProbe();
        TestProbe<PruneSupervisor.Command> owner = kit.createTestProbe();
        TestProbe<StageHost.Hosted> replies = kit.createTestProbe();
        HandoffFile input = new HandoffFile("g1-layer-2-batch-0-input-7.f32", 256, 64, "ab12");
        StagedLayer staged = new StagedLayer(3, "staged/layer-03.safetensors", "cd34", 123_456);
        EnumMap<LinearModule, LinearPruner.PruneOutcome> outcomes = new EnumMap<>(LinearModule.class);
        outcomes.put(LinearModule.UP, new LinearPruner.PruneOutcome(3, 8));
        List<Object> messages = List.of(
                new LayerPruner.HandedOff(0, input, null),
                new LayerPruner.HandedOff(1, input, input),
                new LayerPruner.CheckpointCommitted(1, 3),
                new LayerPruner.LayerPruned(1, 3, outcomes, staged),
                new DeviceWorker.LayerCheckpointed(1, 3, staged),
                new StageHost.HostStages(
                        "job-1", 1, 2, 5, 4, stage.ref().narrow(), events.ref(), owner.ref(), replies.ref()),
                new StageHost.ReleaseStages("job-1", 1),
                new StageHost.StagesHosted("127.0.0.1:25521", 1, 2, new ArrayList<>(List.of(stage.ref(), stage.ref()))),
                new StageHost.StagesRefused("127.0.0.1:25521", 1, 2, "no such model"));
        for (Object m : messages) {
            assertEquals(m, roundTrip(m), m.getClass().getSimpleName());
        }
    }

    /** A message type that was never registered. */
    record Unregistered(String text) implements CrossJvmMessage {}

    @Test
    void unregisteredClassesAreRefusedByName() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> roundTrip(new Unregistered("x")));
        assertTrue(e.getMessage().contains("Unregistered"), e.getMessage());
    }
}
