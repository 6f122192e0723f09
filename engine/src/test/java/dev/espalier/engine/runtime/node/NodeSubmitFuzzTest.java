package dev.espalier.engine.runtime.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SubmitJobRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random job specs submitted over gRPC to a running node: each is accepted (a job id, a job in the list) or refused
 * with INVALID_ARGUMENT / PERMISSION_DENIED and a one-line description — never another status (an unhandled
 * exception reaches the client as UNKNOWN or INTERNAL), and nothing is written outside the node's home.
 */
@Timeout(120)
class NodeSubmitFuzzTest {
    private static final int CASES = 200;
    private static final long SEED = Long.getLong("espalier.fuzz.seed", 20261204L);

    @TempDir
    Path tmp;

    @Test
    void everyRandomSpecIsQueuedOrRefusedAtOnceWithOneLine() throws Exception {
        Path home = tmp.resolve("home");
        Map<String, Integer> outcomes = new TreeMap<>();
        int accepted = 0;
        try (Node node = Node.start(NodeOptions.defaults(home).withPort(0), spec -> new FakeExecutor(1, -1));
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            for (int i = 0; i < CASES; i++) {
                Random r = new Random(SEED + i);
                JobSpec spec = spec(r, home);
                try {
                    client.blocking(10)
                            .submitJob(
                                    SubmitJobRequest.newBuilder().setSpec(spec).build());
                    accepted++;
                    outcomes.merge("accepted", 1, Integer::sum);
                } catch (StatusRuntimeException e) {
                    Status.Code code = e.getStatus().getCode();
                    String description = String.valueOf(e.getStatus().getDescription());
                    if ((code != Status.Code.INVALID_ARGUMENT && code != Status.Code.PERMISSION_DENIED)
                            || description.contains("\n")) {
                        fail("case " + i + " (seed " + (SEED + i) + "): " + code + " " + description + "\nspec: "
                                + spec);
                    }
                    outcomes.merge(code.name(), 1, Integer::sum);
                }
            }
            assertEquals(
                    accepted,
                    client.blocking(10)
                            .listJobs(ListJobsRequest.getDefaultInstance())
                            .getJobsCount(),
                    "every accepted spec is a job, no refused one is");
        }
        try (Stream<Path> top = Files.list(tmp)) {
            assertEquals(List.of(home), top.toList(), "nothing written outside the node's home");
        }
        System.out.println("node submit fuzz: " + CASES + " cases " + outcomes);
        assertTrue(outcomes.size() >= 2, "the generator must reach both acceptance and refusal: " + outcomes);
    }

    /** Mostly valid specs with one or two fields made wrong, so that every check of submit is reached. */
    private static JobSpec spec(Random r, Path home) {
        JobSpec.Builder b = NodeTest.spec("/m/a").toBuilder()
                .setOutput(home.resolve("out-" + r.nextInt(1000)).toString());
        for (int changes = 1 + r.nextInt(2); changes > 0; changes--) {
            switch (r.nextInt(12)) {
                case 0 ->
                    b.setOutput(pick(r, "", "relative/out", "/etc/espalier-out", home + "/../escape", home.toString()));
                case 1 -> b.setModel(pick(r, "", "m", "/m/\u0000", "/m/" + "x".repeat(300)));
                case 2 -> b.setSparsity(pick(r, -0.1, 1.0, Double.NaN, Double.POSITIVE_INFINITY, 0.0, 0.7));
                case 3 -> b.setMethodValue(r.nextInt(12) - 1);
                case 4 -> b.setPatternValue(r.nextInt(6) - 1);
                case 5 -> b.setCalibration(pick(r, "", "self", "c.txt", "/c.txt"));
                case 6 -> b.setCalibrationSamples(pick(r, 0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 4));
                case 7 -> b.setCalibrationSeqlen(pick(r, -1, 0, Integer.MAX_VALUE, 64));
                case 8 ->
                    b.addDevices(dev.espalier.protocol.v1.Device.newBuilder()
                            .setKindValue(r.nextInt(4))
                            .setIndex(r.nextInt(3) - 1));
                case 9 -> b.setEvalProtocolValue(r.nextInt(6) - 1).setEvalMaxTokens(r.nextInt(3) - 1);
                case 10 ->
                    b.setMethod(PruneMethod.PRUNE_METHOD_ALPS)
                            .getUnstructuredBuilder()
                            .getAlpsBuilder()
                            .setIterations(r.nextInt(3) - 1)
                            .setRho(pick(r, 0.0, -1.0, Double.NaN, 0.1));
                default -> b.addEvalData(pick(r, "", "rel.txt", "/e.txt"));
            }
        }
        return b.build();
    }

    @SafeVarargs
    private static <T> T pick(Random r, T... values) {
        return values[r.nextInt(values.length)];
    }
}
