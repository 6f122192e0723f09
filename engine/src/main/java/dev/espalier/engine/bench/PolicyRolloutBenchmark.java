package dev.espalier.engine.bench;

import dev.espalier.engine.data.CalibrationSampler;
import dev.espalier.engine.job.PolicyGradientMethod;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.policy.PolicyGradientConfig;
import dev.espalier.engine.prune.policy.PolicyGradientPruner;
import dev.espalier.engine.prune.policy.PolicyState;
import dev.espalier.engine.prune.policy.UnitLayout;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.FaultInjector;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.runtime.PolicyLearner;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.kernels.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Rollout throughput of {@link PolicyLearner}: the same learning run (uniform start, K = 2, {@code steps} steps) for
 * each device count and in-flight window, timed end to end, with the final state's bytes hashed to show that they do
 * not depend on either.
 */
public final class PolicyRolloutBenchmark {

    /** One setting's measurement; {@code stateHash} is the hash of the final learner state's bytes. */
    public record Row(int devices, int inFlight, long rollouts, long passes, double seconds, int stateHash) {
        public double rolloutsPerSecond() {
            return rollouts / seconds;
        }
    }

    private PolicyRolloutBenchmark() {}

    /** Eight batches of 4 sequences of 128 tokens, sampled (seed 0) from {@code text}. */
    public static int[][][] batches(Tokenizer tokenizer, String text) {
        int[][] calibration = CalibrationSampler.sample(tokenizer.encode(text, true), 32, 128, 0, tokenizer.bosId());
        int[][][] batches = new int[8][][];
        for (int b = 0; b < batches.length; b++) {
            batches[b] = Arrays.copyOfRange(calibration, 4 * b, 4 * b + 4);
        }
        return batches;
    }

    /** Runs every (devices, window) pair {@code repeats} times after one untimed warm-up run; reports the fastest. */
    public static List<Row> run(
            LlamaModel model, int[][][] batches, int[] deviceCounts, int[] windows, long steps, int repeats)
            throws Exception {
        PolicyGradientConfig config = PolicyGradientConfig.official(steps, 0.7, 0.05);
        PolicyState start = PolicyState.uniform(UnitLayout.of(model.config(), false), 0, 0.7, 0.7, 1.0);
        once(model, batches, config, start, DeviceSpec.cpu(1), 2); // warm-up (JIT)
        List<Row> rows = new ArrayList<>();
        for (int devices : deviceCounts) {
            for (int window : windows) {
                double seconds = Double.POSITIVE_INFINITY;
                PolicyState end = null;
                for (int r = 0; r < repeats; r++) {
                    long t0 = System.nanoTime(); // includes the actor system's start, some 10 ms
                    end = once(model, batches, config, start, DeviceSpec.cpu(devices), window);
                    seconds = Math.min(seconds, (System.nanoTime() - t0) / 1e9);
                }
                rows.add(new Row(
                        devices,
                        window,
                        steps * config.rollouts(),
                        steps * config.rollouts() * batches[0].length,
                        seconds,
                        Arrays.hashCode(end.toBytes())));
            }
        }
        return rows;
    }

    private static PolicyState once(
            LlamaModel model,
            int[][][] batches,
            PolicyGradientConfig config,
            PolicyState start,
            DeviceSpec devices,
            int window)
            throws Exception {
        try (Devices workers = Devices.start(devices)) {
            ModelRef ref = workers.models().register("bench", model);
            try (Devices.JobDevices session =
                    workers.open("bench", devices, ref, batches[0][0].length, null, DType.F32, FaultInjector.NONE)) {
                return PolicyGradientMethod.learn(
                                workers,
                                session,
                                model.config(),
                                new PolicyGradientPruner(config, start),
                                batches,
                                window,
                                0,
                                null,
                                null,
                                null,
                                List.of())
                        .state();
            }
        }
    }
}
