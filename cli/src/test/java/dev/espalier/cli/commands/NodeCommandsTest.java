package dev.espalier.cli.commands;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.runtime.node.Node;
import dev.espalier.engine.runtime.node.NodeOptions;
import dev.espalier.engine.runtime.node.NodeToken;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.PerplexityProtocol;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Timeout(60)
class NodeCommandsTest {

    @TempDir
    Path tmp;

    /** Exit code and what a command printed. */
    record Run(int exit, String out, String err) {}

    private static Run run(Callable<Integer> command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(command)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /** A status verb that reads ESPALIER_NODE_TOKEN from {@code environment} instead of the process's. */
    private static StatusCommand status(Map<String, String> environment) {
        StatusCommand command = new StatusCommand();
        command.node = new NodeClientOptions();
        command.node.environment = environment;
        return command;
    }

    /** Emits one layer and a progress event, then succeeds; fails when the method is WANDA. */
    private static final JobExecutor FAKE = (spec, run, events, cancel) -> {
        if (spec.getMethod() == PruneMethod.PRUNE_METHOD_WANDA) {
            throw new IllegalArgumentException(spec.getModel() + ": not a model");
        }
        events.emit(JobEvent.newBuilder()
                .setLayerPruned(LayerPruned.newBuilder()
                        .setLayer(0)
                        .setSparsity(0.5)
                        .setReconstructionError(0.0123)
                        .setSeconds(1.5)));
        events.emit(JobEvent.newBuilder()
                .setProgress(Progress.newBuilder().setStage("prune").setDone(1).setTotal(1)));
    };

    @Test
    void submitWatchStatusAndCancelTalkToARunningNode() throws IOException {
        Path home = tmp.resolve("node");
        Path model = Files.createDirectories(tmp.resolve("model"));
        try (Node node =
                Node.start(NodeOptions.defaults(home).withPort(0).withAllowedOutputs(List.of(tmp)), spec -> FAKE)) {
            Run submit = run(
                    new SubmitCommand(),
                    "--home",
                    home.toString(),
                    "--model",
                    model.toString(),
                    "--method",
                    "sparsegpt",
                    "--sparsity",
                    "0.5",
                    "--pattern",
                    "2:4",
                    "--calib",
                    model.toString(),
                    "--out",
                    tmp.resolve("out").toString(),
                    "--eval-data",
                    model.toString(),
                    "--eval-protocol",
                    "seq128",
                    "--method-option",
                    "blocksize=64");
            assertEquals(0, submit.exit(), submit.err());
            String id = submit.out().strip();
            assertTrue(id.matches("\\d{8}-\\d{6}-[0-9a-f]{4}"), id);

            Run watch = run(
                    new WatchCommand(), "--node", node.address().toString(), "--home", home.toString(), "--quiet", id);
            assertEquals(0, watch.exit(), watch.err());
            assertEquals(
                    List.of(
                            "queued (0 job(s) ahead)",
                            "started",
                            "layer 0 pruned: sparsity 0.5000, reconstruction error 0.01230, 1.5 s",
                            "succeeded: pruned model in " + tmp.resolve("out")),
                    watch.out().lines().toList());

            Run detail = run(new StatusCommand(), "--home", home.toString(), id);
            assertEquals(0, detail.exit(), detail.err());
            assertTrue(detail.out().contains("state      succeeded: succeeded: " + tmp.resolve("out")), detail.out());
            assertTrue(detail.out().contains("method     sparsegpt 2:4, sparsity 0.5000, seed 0"), detail.out());

            Run cancel = run(new CancelCommand(), "--home", home.toString(), id);
            assertEquals(2, cancel.exit());
            assertEquals("espalier cancel: error: job " + id + " already ended: succeeded\n", cancel.err());

            Run failing = run(
                    new SubmitCommand(),
                    "--home",
                    home.toString(),
                    "--model",
                    model.toString(),
                    "--method",
                    "wanda",
                    "--calib",
                    model.toString(),
                    "--out",
                    tmp.resolve("out2").toString());
            Run failed = run(
                    new WatchCommand(),
                    "--home",
                    home.toString(),
                    "--quiet",
                    failing.out().strip());
            assertEquals(1, failed.exit());
            assertEquals(
                    "failed: " + model + ": not a model",
                    failed.out().lines().toList().getLast());

            Run table = run(new StatusCommand(), "--home", home.toString());
            assertEquals(3, table.out().lines().count(), table.out()); // header and two jobs
            assertTrue(table.out().lines().toList().get(2).contains(" failed "), table.out());
        }
    }

    @Test
    void submittedSpecCarriesEveryOptionWithAbsolutePaths() {
        JobSpecOptions options = new JobSpecOptions();
        new CommandLine(options)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .parseArgs(
                        "--model",
                        "m",
                        "--method",
                        "POLICY_GRADIENT",
                        "--sparsity",
                        "0.25",
                        "--calib",
                        "c.txt",
                        "--calib-samples",
                        "16",
                        "--calib-seqlen",
                        "64",
                        "--seed",
                        "9",
                        "--out",
                        "o",
                        "--devices",
                        "cpu:2",
                        "--eval-data",
                        "a.txt,b.txt",
                        "--eval-protocol",
                        "stream",
                        "--eval-max-tokens",
                        "100",
                        "--method-option",
                        "lr=0.1",
                        "--method-option",
                        "score=reinforce",
                        "--init",
                        "goa",
                        "--steps",
                        "7",
                        "--method-option",
                        "window=3");
        Path cwd = Path.of("").toAbsolutePath();
        JobSpec expected = JobSpec.newBuilder()
                .setModel(cwd.resolve("m").toString())
                .setMethod(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                .setSparsity(0.25)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setCalibration(cwd.resolve("c.txt").toString())
                .setCalibrationSamples(16)
                .setCalibrationSeqlen(64)
                .setSeed(9)
                .setOutput(cwd.resolve("o").toString())
                .addDevices(Device.newBuilder().setKind(Device.Kind.KIND_CPU).setCpuShares(2))
                .addEvalData(cwd.resolve("a.txt").toString())
                .addEvalData(cwd.resolve("b.txt").toString())
                .setEvalProtocol(PerplexityProtocol.PERPLEXITY_PROTOCOL_STREAM)
                .setEvalMaxTokens(100)
                .setPolicyGradient(PolicyGradientSettings.newBuilder()
                        .setLr(0.1)
                        .setScore(PolicyGradientSettings.Score.SCORE_REINFORCE)
                        .setInit(PolicyGradientSettings.Init.INIT_GOA)
                        .setSteps(7))
                .setRuntime(RuntimeSettings.newBuilder().setWindow(3))
                .build();
        assertEquals(expected, options.toJobSpec());
    }

    @Test
    void unreachableNodeIsOneLineAndExitCodeTwo() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // free once closed: nothing listens there
        }
        StatusCommand command = status(Map.of(NodeToken.ENV, "0".repeat(64)));
        Run status = run(command, "--node", "127.0.0.1:" + port);
        assertEquals(2, status.exit());
        assertEquals(
                "espalier status: error: cannot reach the espalier node at 127.0.0.1:" + port
                        + " (is `espalier serve` running?)\n",
                status.err());

        Path home = tmp.resolve("never-started");
        Run watch = run(new WatchCommand(), "--home", home.toString(), "some-job");
        assertEquals(2, watch.exit());
        assertEquals(
                "espalier watch: error: cannot reach the espalier node: " + home.resolve("node.port")
                        + " not found: no node has been started with this home (is `espalier serve` running?)\n",
                watch.err());
    }

    @Test
    void clientWithoutATokenNamesBothPlacesItLooked() throws IOException {
        Path home = Files.createDirectories(tmp.resolve("node"));
        Files.writeString(home.resolve("node.port"), "127.0.0.1:7070\n");
        StatusCommand command = status(Map.of());
        Run status = run(command, "--home", home.toString());
        assertEquals(2, status.exit());
        assertEquals(
                "espalier status: error: no node token: ESPALIER_NODE_TOKEN is not set and "
                        + home.resolve("node.token") + " does not exist (`espalier serve --home " + home
                        + "` writes it; or set ESPALIER_NODE_TOKEN)\n",
                status.err());
    }

    @Test
    void wrongTokenIsRefusedAndTheEnvironmentTokenIsUsedBeforeTheFile() {
        Path home = tmp.resolve("node");
        try (Node node = Node.start(NodeOptions.defaults(home).withPort(0), spec -> FAKE)) {
            StatusCommand wrong = status(Map.of(NodeToken.ENV, "0".repeat(64)));
            Run refused = run(wrong, "--home", home.toString());
            assertEquals(2, refused.exit());
            assertTrue(
                    refused.err()
                            .startsWith("espalier status: error: wrong node token; clients send the token in "
                                    + home.toAbsolutePath().resolve("node.token")),
                    refused.err());

            StatusCommand right = status(Map.of(NodeToken.ENV, node.token().value()));
            Run table = run(
                    right,
                    "--node",
                    node.address().toString(),
                    "--home",
                    tmp.resolve("elsewhere").toString());
            assertEquals(0, table.exit(), table.err());
        }
    }

    @Test
    void outputOutsideTheAllowedFoldersIsRefusedByTheNodeAndNothingIsCreated() throws IOException {
        Path home = tmp.resolve("node");
        Path model = Files.createDirectories(tmp.resolve("model"));
        try (Node node = Node.start(NodeOptions.defaults(home).withPort(0), spec -> FAKE)) {
            Run submit = run(
                    new SubmitCommand(),
                    "--home",
                    home.toString(),
                    "--model",
                    model.toString(),
                    "--method",
                    "sparsegpt",
                    "--calib",
                    model.toString(),
                    "--out",
                    tmp.resolve("out").toString());
            assertEquals(2, submit.exit());
            assertEquals(
                    "espalier submit: error: output " + tmp.resolve("out")
                            + " is not inside the node's allowed output folders [" + home.toRealPath()
                            + "]; write under one of them, or start the node with --allow-out <dir>\n",
                    submit.err());
            assertEquals("", submit.out());
            assertFalse(Files.exists(tmp.resolve("out")));
            assertEquals(
                    1,
                    run(new StatusCommand(), "--home", home.toString())
                            .out()
                            .lines()
                            .count()); // the header only
        }
    }
}
