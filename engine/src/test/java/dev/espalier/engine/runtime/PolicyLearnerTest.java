package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.policy.PolicyGradientConfig;
import dev.espalier.engine.prune.policy.PolicyGradientPruner;
import dev.espalier.engine.prune.policy.PolicyState;
import dev.espalier.engine.prune.policy.RolloutMasks;
import dev.espalier.engine.prune.policy.UnitKind;
import dev.espalier.engine.prune.policy.UnitLayout;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.cpu.CpuOps;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The policy learner's rollouts through the layer pipeline, on stories260K. */
class PolicyLearnerTest {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final int SEQ = 48;
    private static ActorTestKit kit;
    private static LlamaModel model;
    private static int[][][] batches;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
        model = PipelineFixture.load();
        int[][] sequences = PipelineFixture.calibration(6, SEQ);
        batches =
                new int[][][] {{sequences[0], sequences[1]}, {sequences[2], sequences[3]}, {sequences[4], sequences[5]}
                };
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
        model.close();
    }

    private static PolicyGradientPruner pruner(long steps) {
        PolicyGradientConfig config = PolicyGradientConfig.official(steps, 0.6, 0.05);
        return new PolicyGradientPruner(
                config, PolicyState.uniform(UnitLayout.of(model.config(), false), 7, 0.6, 0.6, 1.0));
    }

    private static PolicyLearner.Learned learn(
            PolicyGradientPruner pruner,
            int devices,
            int threadsEach,
            int inFlight,
            long every,
            PolicyLearner.Checkpointer checkpointer) {
        return learn(pruner, devices, threadsEach, inFlight, every, checkpointer, FaultInjector.NONE);
    }

    private static PolicyLearner.Learned learn(
            PolicyGradientPruner pruner,
            int devices,
            int threadsEach,
            int inFlight,
            long every,
            PolicyLearner.Checkpointer checkpointer,
            FaultInjector faults) {
        DeviceWorker.Host host = new DeviceWorker.Host(new HostActivationStore(), new HostModels(), new HostProblems());
        HostActivationStore store = host.activations();
        ModelRef dense = host.models().register("dense", model);
        SessionRef session = new SessionRef(1, "learner");
        List<ActorRef<DeviceWorker.Command>> workers = new ArrayList<>();
        List<CpuOps> ops = new ArrayList<>();
        for (int i = 0; i < devices; i++) {
            CpuOps o = new CpuOps(threadsEach);
            ops.add(o);
            ActorRef<DeviceWorker.Command> worker =
                    kit.spawn(DeviceWorker.create(new DeviceWorker.Device(i, "cpu:" + i, o, host)));
            worker.tell(new DeviceWorker.OpenSession(session, dense, SEQ, null, DType.F32, faults));
            workers.add(worker);
        }
        TestProbe<PolicyLearner.Result> done = kit.createTestProbe();
        kit.spawn(PolicyLearner.create(
                new PolicyLearner.Setup(
                        pruner,
                        model.config(),
                        session,
                        batches,
                        workers,
                        inFlight,
                        every,
                        checkpointer,
                        new IdSource(0)),
                done.ref()));
        PolicyLearner.Learned learned = done.expectMessageClass(PolicyLearner.Learned.class, WAIT);
        done.awaitAssert(Duration.ofSeconds(10), () -> {
            assertEquals(0, store.held(), "every activation is released");
            return null;
        });
        workers.forEach(kit::stop);
        ops.forEach(CpuOps::close);
        return learned;
    }

    @Test
    void rolloutLossesEqualTheWholeModelForwardOfTheMaskedModel() {
        PolicyGradientPruner reference = pruner(3);
        List<Double> oracle = new ArrayList<>();
        try (CpuOps ops = new CpuOps(1);
                LlamaForward forward = new LlamaForward(model, ops, SEQ, SEQ)) {
            reference.learn(mask -> {
                int[][] batch = batches[(int) (mask.step() % batches.length)];
                double sum = 0; // Σ over sequences, in order, of each sequence's Σ over tokens, in order
                long count = 0;
                for (int[] sequence : batch) {
                    double sequenceSum = 0;
                    for (double v : forward.negativeLogLikelihoods(sequence, RolloutMasks.of(mask, model.config()))) {
                        sequenceSum += v;
                        count++;
                    }
                    sum += sequenceSum;
                }
                oracle.add(sum / count);
                return sum / count;
            });
        }
        PolicyLearner.Learned learned = learn(pruner(3), 2, 1, 3, 0, (s, b, r) -> {});
        assertEquals(3, learned.steps().size());
        for (int t = 0; t < 3; t++) {
            assertEquals(
                    (oracle.get(2 * t) + oracle.get(2 * t + 1)) / 2,
                    learned.steps().get(t).meanLoss(),
                    0.0,
                    "step " + t);
        }
        assertEquals(reference.state(), learned.state());
        assertNotEquals(
                pruner(3).state().probabilities(UnitKind.CHANNEL)[0],
                learned.state().probabilities(UnitKind.CHANNEL)[0]);
    }

    @Test
    void learnedProbabilitiesAreBitIdenticalWhateverDevicesAndWindow() {
        PolicyLearner.Learned one = learn(pruner(4), 1, 2, 1, 0, (s, b, r) -> {});
        for (int[] setting : new int[][] {{1, 2, 8}, {2, 1, 1}, {2, 1, 3}, {2, 1, 8}}) {
            PolicyLearner.Learned other = learn(pruner(4), setting[0], setting[1], setting[2], 0, (s, b, r) -> {});
            assertEquals(one.state(), other.state(), "devices " + setting[0] + ", in flight " + setting[2]);
            assertEquals(one.steps(), other.steps());
        }
    }

    @Test
    void resumingFromACheckpointEndsOnTheSameMaskAsAnUninterruptedRun() {
        Map<Long, byte[]> checkpoints = new TreeMap<>();
        PolicyGradientPruner uninterrupted = pruner(6);
        PolicyLearner.Learned full = learn(uninterrupted, 2, 1, 2, 2, (s, b, r) -> checkpoints.put(s, b));
        assertEquals(List.of(2L, 4L, 6L), List.copyOf(checkpoints.keySet()));

        PolicyGradientPruner resumed = pruner(6);
        resumed.restore(checkpoints.get(4L));
        PolicyLearner.Learned rest = learn(resumed, 1, 2, 4, 2, (s, b, r) -> {});
        assertEquals(2, rest.steps().size());
        assertEquals(full.state(), rest.state());
        assertEquals(uninterrupted.finalKeep(), resumed.finalKeep());
        assertArrayEquals(checkpoints.get(6L), resumed.checkpoint());
        assertTrue(full.steps().stream().allMatch(r -> r.validRollouts() == 2));
    }

    @Test
    void aFailedDeviceCallDropsItsRolloutAndLearningGoesOn() {
        PolicyLearner.Learned learned = learn(pruner(3), 1, 2, 2, 0, (s, b, r) -> {}, new FaultInjector(9));
        assertEquals(3, learned.steps().size());
        assertEquals(1, learned.steps().get(0).validRollouts(), "the rollout whose pass failed has no loss");
        assertEquals(2, learned.steps().get(1).validRollouts());
        assertEquals(3, learned.state().step());
    }
}
