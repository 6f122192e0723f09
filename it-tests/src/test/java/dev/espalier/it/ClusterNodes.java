package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.node.NodeAddress;
import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.engine.runtime.node.NodeToken;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.ListJobsResponse;
import dev.espalier.protocol.v1.WatchJobRequest;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * {@code espalier serve} nodes in JVMs of their own under one test folder (homes {@code tmp/NAME}, output in
 * {@code tmp/NAME.out}), for the cluster tests: start them (on their own or as cluster members over a shared run
 * folder, on loopback), talk to them, and kill whatever is left when the test ends.
 */
final class ClusterNodes implements AutoCloseable {
    private final Path tmp;
    private final List<Process> processes = new ArrayList<>();

    ClusterNodes(Path tmp) {
        this.tmp = tmp;
    }

    /** The run folder the cluster nodes share. */
    Path shared() {
        return tmp.resolve("shared");
    }

    /** A node in a JVM of its own (1 slot, one CPU worker); waits for the node.port in its home. */
    Process startNode(String name, String... extra) throws IOException, InterruptedException {
        return startNode(name, Map.of(), extra);
    }

    Process startNode(String name, Map<String, String> env, String... extra) throws IOException, InterruptedException {
        Path home = tmp.resolve(name);
        List<String> args = new ArrayList<>(List.of(
                "serve",
                "--home",
                home.toString(),
                "--port",
                "0",
                "--slots",
                "1",
                "--devices",
                "cpu",
                "--allow-out",
                tmp.toString()));
        args.addAll(List.of(extra));
        Path log = output(name);
        ProcessBuilder builder = new ProcessBuilder(CliProcess.command(List.of("-Xmx1g"), args.toArray(String[]::new)))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().putAll(env);
        Process process = builder.start();
        processes.add(process);
        Path portFile = home.resolve(NodeAddress.PORT_FILE);
        for (int i = 0; i < 1200 && !Files.exists(portFile); i++) {
            assertTrue(process.isAlive(), () -> name + " exited with " + process.exitValue() + ":\n" + read(log));
            Thread.sleep(50);
        }
        assertTrue(Files.exists(portFile), () -> name + ": no node.port after 60 s:\n" + read(log));
        return process;
    }

    /** A member of the cluster over {@link #shared()} on loopback port {@code port}, joining {@code seed} (null: itself). */
    Process startClusterNode(String name, int port, Integer seed) throws IOException, InterruptedException {
        return startClusterNode(name, shared(), port, seed);
    }

    Process startClusterNode(String name, Path runFolder, int port, Integer seed)
            throws IOException, InterruptedException {
        return startNode(name, clusterFlags(runFolder, port, seed));
    }

    /** The flags of a cluster member (downed 2 s after it becomes unreachable, so that tests need not wait long). */
    static String[] clusterFlags(Path runFolder, int port, Integer seed, String... extra) {
        List<String> flags = new ArrayList<>(List.of(
                "--cluster",
                "--cluster-dir",
                runFolder.toString(),
                "--cluster-port",
                String.valueOf(port),
                "--down-after",
                "2s"));
        if (seed != null) {
            flags.addAll(List.of("--seed", "127.0.0.1:" + seed));
        }
        flags.addAll(List.of(extra));
        return flags.toArray(String[]::new);
    }

    NodeClient client(String name) {
        Path home = tmp.resolve(name);
        return NodeClient.connect(NodeAddress.fromHome(home), NodeToken.forClient(home, Map.of()));
    }

    /** What node {@code name}'s JVM printed. */
    Path output(String name) {
        return tmp.resolve(name + ".out");
    }

    static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    static ListJobsResponse list(NodeClient client) {
        return client.blocking(30).listJobs(ListJobsRequest.getDefaultInstance());
    }

    /** Lists the jobs every 100 ms until {@code done} holds; AssertionError with the last list after {@code seconds}. */
    static ListJobsResponse awaitList(NodeClient client, Predicate<ListJobsResponse> done, int seconds)
            throws InterruptedException {
        ListJobsResponse last = null;
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            last = list(client);
            if (done.test(last)) {
                return last;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("not reached in " + seconds + " s; last: " + last);
    }

    /** Every event of job {@code id}, to its end. */
    static List<JobEvent> events(NodeClient client, String id) {
        List<JobEvent> events = new ArrayList<>();
        client.streaming()
                .watchJob(WatchJobRequest.newBuilder().setJobId(id).build())
                .forEachRemaining(events::add);
        return events;
    }

    static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static boolean isTerminal(JobState state) {
        return state == JobState.JOB_STATE_SUCCEEDED
                || state == JobState.JOB_STATE_FAILED
                || state == JobState.JOB_STATE_CANCELLED;
    }

    /** Kills every node still running (SIGKILL). */
    @Override
    public void close() {
        processes.forEach(Process::destroyForcibly);
    }
}
