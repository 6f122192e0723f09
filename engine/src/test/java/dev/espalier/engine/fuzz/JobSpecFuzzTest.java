package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparseGptSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Random JobSpecs (and random bytes parsed as one, and random --devices texts) through JobSpecs.problems and validate:
 * problems never throws, each is one line, validate throws IllegalArgumentException exactly when there are problems,
 * and a spec without problems has every number in its documented range.
 */
class JobSpecFuzzTest {
    private static final int CASES = 300;
    private static final double[] DOUBLES = {
        0,
        -0.0,
        0.5,
        1,
        -1,
        1e-9,
        0.999,
        Double.NaN,
        Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY,
        Double.MIN_VALUE,
        Double.MAX_VALUE
    };

    @Test
    void everyRandomSpecIsAcceptedOrRefusedWithOneLineProblems() {
        FuzzTally tally = new FuzzTally("JobSpec");
        assertTimeoutPreemptively(
                Duration.ofSeconds(20),
                () -> {
                    for (int i = 0; i < CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 7000 + i;
                        Random r = new Random(seed);
                        tally.run(
                                seed,
                                null,
                                () -> check(
                                        switch (r.nextInt(6)) {
                                            case 0 -> parsed(r);
                                            case 1 -> {
                                                JobSpecs.devicesOf(
                                                        devicesText(r)); // IllegalArgumentException or a list
                                                yield spec(r);
                                            }
                                            case 2, 3 -> oneChange(r);
                                            default -> spec(r);
                                        }));
                    }
                },
                () -> "JobSpec fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CASES);
    }

    private static void check(JobSpec spec) {
        List<String> problems = JobSpecs.problems(spec);
        problems.forEach(p -> assertEquals(-1, p.indexOf('\n'), p));
        if (problems.isEmpty()) {
            assertTrue(spec.getSparsity() >= 0 && spec.getSparsity() < 1);
            AlpsSettings a = spec.getUnstructured().getAlps();
            assertFalse(a.hasIterations() && a.getIterations() < 1);
            assertFalse(a.hasRho() && !(a.getRho() > 0 && Double.isFinite(a.getRho())));
            JobSpecs.validate(spec);
        } else {
            JobSpecs.validate(spec); // throws IllegalArgumentException, counted as refused
            throw new AssertionError("validate accepted a spec with problems " + problems);
        }
    }

    private static JobSpec parsed(Random r) {
        byte[] bytes = new byte[r.nextInt(64)];
        r.nextBytes(bytes);
        try {
            return JobSpec.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            return spec(r); // the documented refusal of protobuf; the spec checks get a random spec instead
        }
    }

    private static JobSpec spec(Random r) {
        JobSpec.Builder b = JobSpec.newBuilder()
                .setModel(Mutate.pick(r, List.of("/m", "m", "", "/models/x")))
                .setOutput(Mutate.pick(r, List.of("/o", "", "o")))
                .setCalibration(Mutate.pick(r, List.of("/c.txt", "self", "", "c.txt")))
                .setCalibrationSamples(Mutate.interestingInt(r))
                .setCalibrationSeqlen(Mutate.interestingInt(r))
                .setMethodValue(r.nextInt(10))
                .setPatternValue(r.nextInt(5))
                .setSparsity(d(r))
                .setEvalMaxTokens(r.nextInt(3) - 1)
                .setEvalProtocolValue(r.nextInt(5));
        for (int i = r.nextInt(3); i > 0; i--) {
            Device.Builder d = Device.newBuilder().setKindValue(r.nextInt(4)).setIndex(r.nextInt(3) - 1);
            if (r.nextBoolean()) {
                d.setCpuShares(Mutate.interestingInt(r));
            }
            b.addDevices(d);
        }
        if (r.nextBoolean()) {
            b.setRuntime(RuntimeSettings.newBuilder()
                    .setWindow(Mutate.interestingInt(r))
                    .setMaxRestarts(r.nextInt(3) - 1)
                    .setDebugFailCall(r.nextInt(3) - 1));
        }
        switch (r.nextInt(5)) {
            case 0 ->
                b.setUnstructured(UnstructuredSettings.newBuilder()
                        .setSolveOrderValue(r.nextInt(4))
                        .setAlps(AlpsSettings.newBuilder()
                                .setRho(d(r))
                                .setIterations(Mutate.interestingInt(r))
                                .setUpdateInterval(r.nextInt(3))
                                .setSwitchIteration(r.nextInt(3) - 1)
                                .setStopRho(d(r))
                                .setCgIterations(r.nextInt(3) - 1)
                                .setCgTolerance(d(r))
                                .setDamp(d(r))
                                .setFixedRho(d(r))));
            case 1 ->
                b.setUnstructured(UnstructuredSettings.newBuilder()
                        .setSparsegpt(SparseGptSettings.newBuilder()
                                .setBlocksize(Mutate.interestingInt(r))
                                .setPercdamp(d(r))));
            case 2 ->
                b.setStructured(StructuredSettings.newBuilder()
                        .setAllocationValue(r.nextInt(4))
                        .setHeadsValue(r.nextInt(4))
                        .setRidge(d(r))
                        .setTau(d(r))
                        .setExportValue(r.nextInt(4)));
            case 3 ->
                b.setPolicyGradient(PolicyGradientSettings.newBuilder()
                        .setSteps(Mutate.interestingInt(r))
                        .setLr(d(r))
                        .setRollouts(r.nextInt(4))
                        .setBatchSize(r.nextInt(3))
                        .setRolloutsInFlight(r.nextInt(3))
                        .setCheckpointEvery(r.nextInt(3))
                        .setLayerSparsity(d(r))
                        .setInitValue(r.nextInt(4))
                        .setScoreValue(r.nextInt(4)));
            default -> {}
        }
        return b.build();
    }

    /** A valid ALPS spec with one number changed: most end accepted or refused by that one number's range. */
    private static JobSpec oneChange(Random r) {
        JobSpec.Builder b = JobSpec.newBuilder()
                .setModel("/m")
                .setOutput("/o")
                .setCalibration("/c.txt")
                .setCalibrationSamples(8)
                .setMethod(PruneMethod.PRUNE_METHOD_ALPS)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED);
        AlpsSettings.Builder a = AlpsSettings.newBuilder();
        switch (r.nextInt(8)) {
            case 0 -> b.setSparsity(d(r));
            case 1 -> a.setRho(d(r));
            case 2 -> a.setIterations(r.nextInt(4) - 1);
            case 3 -> a.setCgTolerance(d(r));
            case 4 -> a.setFixedRho(d(r));
            case 5 -> a.setDamp(d(r));
            case 6 -> b.setCalibrationSamples(r.nextInt(3) - 1);
            default ->
                b.addAllDevices(JobSpecs.devicesOf(Mutate.pick(r, List.of("cpu", "cpu:2", "cpu:64", "cuda:0,cuda:1"))));
        }
        return b.setUnstructured(UnstructuredSettings.newBuilder().setAlps(a)).build();
    }

    private static double d(Random r) {
        return r.nextInt(3) == 0 ? r.nextDouble() : DOUBLES[r.nextInt(DOUBLES.length)];
    }

    private static String devicesText(Random r) {
        return Mutate.pick(
                r,
                List.of(
                        "",
                        " ",
                        "cpu",
                        "cpu:0",
                        "cpu:65",
                        "cpu:x",
                        "cuda",
                        "cuda:-1",
                        "cuda:0,cuda:0",
                        ",",
                        "cpu,,cpu",
                        "CPU:2",
                        "cuda:99999999999",
                        "cpu:",
                        ":",
                        "tpu:1"));
    }
}
