package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.node.ClusterOptions;
import dev.espalier.engine.runtime.node.Node;
import dev.espalier.engine.runtime.node.NodeOptions;
import dev.espalier.engine.runtime.node.NodeTls;
import dev.espalier.engine.runtime.node.NodeToken;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code espalier serve}: the long-running node that queues jobs durably and runs them; stops on Ctrl-C or SIGTERM. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = {
            "Run the espalier node: a gRPC service that queues pruning jobs durably and runs them.",
            "Jobs survive restarts: queued ones stay queued, running ones resume from their last checkpoint.",
            "Every call must carry the node's token, kept in <home>/node.token (created on the first start, owner-only);"
                    + " the client verbs read ESPALIER_NODE_TOKEN when set, else <home>/node.token.",
            "Beyond loopback the node listens only with TLS (--tls-cert, --tls-key); jobs may write only inside --allow-out.",
            "With --cluster the node joins a cluster of nodes (Apache Pekko Cluster): jobs submitted to any node queue"
                    + " cluster-wide and run on nodes with free slots; a node that dies has its jobs resumed on another"
                    + " from their last checkpoint. Every node names the same --cluster-dir (a shared filesystem), which"
                    + " holds the jobs and the cluster's token."
        },
        footer = {
            "",
            "Examples:",
            "  ./espalier serve",
            "  ./espalier serve --home /data/espalier --port 0 --slots 2 --devices cpu:2",
            "  ./espalier serve --allow-out /data/runs --allow-out /scratch/runs",
            "  ./espalier serve --bind 0.0.0.0 --tls-cert node.crt --tls-key node.key    # other machines too",
            "  ./espalier serve --cluster --cluster-dir /shared/runs --home node-a --cluster-port 25520",
            "  ./espalier serve --cluster --cluster-dir /shared/runs --home node-b --cluster-port 25521 --seed 127.0.0.1:25520"
        })
public final class ServeCommand implements Callable<Integer> {

    @Mixin
    MemoryBudgetOptions memory;

    @Option(
            names = "--home",
            paramLabel = "<dir>",
            description = "Folder of the node's jobs and node.port (default: ~/.espalier/node).")
    Path home;

    @Option(
            names = "--port",
            defaultValue = "" + NodeOptions.DEFAULT_PORT,
            description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(
            names = "--bind",
            defaultValue = NodeOptions.DEFAULT_BIND,
            paramLabel = "<address>",
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only).")
    String bind;

    @Option(
            names = "--tls-cert",
            paramLabel = "<file>",
            description =
                    "PEM certificate chain the node presents; with --tls-key, serves TLS (required to bind beyond loopback).")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "<file>", description = "PEM (PKCS#8) private key of --tls-cert.")
    Path tlsKey;

    @Option(
            names = "--allow-out",
            paramLabel = "<dir>",
            description =
                    "A folder jobs may write their output to (repeatable; default: the node's home). Other outputs are refused at submit.")
    List<Path> allowOut;

    @Option(
            names = "--slots",
            defaultValue = "" + NodeOptions.DEFAULT_SLOTS,
            paramLabel = "N",
            description = "Jobs run at the same time (default: ${DEFAULT-VALUE}).")
    int slots;

    @Option(
            names = "--devices",
            defaultValue = "cpu",
            paramLabel = "<devices>",
            description =
                    "The node's device workers, shared by every job (a job's --devices picks how many it uses): cpu (one worker,"
                            + " every core) or cpu:N (N workers sharing every core) (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(
            names = "--queue",
            defaultValue = "" + NodeOptions.DEFAULT_QUEUE_CAPACITY,
            paramLabel = "N",
            description = "Jobs that may wait for a slot; more are refused (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Option(names = "--cluster", description = "Join (or start) a cluster of nodes; needs --cluster-dir.")
    boolean cluster;

    @Option(
            names = "--cluster-dir",
            paramLabel = "<dir>",
            description = "The run folder every node of the cluster reads and writes: jobs, checkpoints, the token.")
    Path clusterDir;

    @Option(
            names = "--cluster-bind",
            defaultValue = NodeOptions.DEFAULT_BIND,
            paramLabel = "<address>",
            description = "Address of the cluster port, as the other nodes reach it (default: ${DEFAULT-VALUE}).")
    String clusterBind;

    @Option(
            names = "--cluster-port",
            defaultValue = "" + ClusterOptions.DEFAULT_PORT,
            paramLabel = "N",
            description = "The cluster (Artery) port; with the address, the node's name (default: ${DEFAULT-VALUE}).")
    int clusterPort;

    @Option(
            names = "--seed",
            paramLabel = "<host:port>",
            description = "A node to join through (repeatable); none: this node starts a new cluster.")
    List<String> seeds;

    @Option(
            names = "--down-after",
            defaultValue = "20s",
            paramLabel = "<duration>",
            description = "How long a node must stay unreachable before the majority downs it and its jobs move"
                    + " (split-brain resolver, keep-majority), e.g. 20s, 500ms, 2m (default: ${DEFAULT-VALUE}).")
    String downAfter;

    @Option(
            names = "--cluster-tls-keystore",
            paramLabel = "<file>",
            description = "Key store (PKCS#12 or JKS) of the node's cluster TLS identity; password in "
                    + "ESPALIER_CLUSTER_TLS_PASSWORD. Required beyond loopback.")
    Path clusterKeyStore;

    @Option(
            names = "--cluster-tls-truststore",
            paramLabel = "<file>",
            description = "Trust store of the certificates of the cluster's nodes (mutual TLS).")
    Path clusterTrustStore;

    @Option(
            names = "--cluster-config",
            paramLabel = "<file>",
            description = "Pekko settings (HOCON) that override those the flags give, e.g. seed nodes or timeouts.")
    Path clusterConfig;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together: give both for TLS, or neither");
        }
        List<Path> allowed = allowOut == null
                ? List.of()
                : allowOut.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        NodeOptions options = new NodeOptions(
                home != null ? home : NodeOptions.defaultHome(),
                bind,
                port,
                slots,
                queue,
                allowed,
                tlsCert == null ? null : new NodeTls(tlsCert, tlsKey),
                clusterOptions());
        Path nodeLog = options.home().toAbsolutePath().resolve("node.log");
        try (RunLogFile log =
                RunLogFile.attach(nodeLog)) { // before the start: its device workers and recovered jobs are logged
            Node node = Node.start(options, DeviceSpec.of(JobSpecs.devicesOf(devices)), memory.bytes());
            Thread hook = new Thread(node::close, "espalier-node-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            PrintWriter out = spec.commandLine().getOut();
            out.println("espalier "
                    + (cluster
                            ? "cluster node " + clusterBind + ":" + clusterPort + " (run folder "
                                    + options.cluster().runFolder().toAbsolutePath() + ")"
                            : "node")
                    + " listening on " + node.address() + (tlsCert == null ? "" : " with TLS")
                    + " (home " + node.home()
                    + ", " + slots + " slot(s), queue of " + queue + ", devices " + devices
                    + " shared by every job); token in "
                    + node.home().resolve(NodeToken.FILE) + "; outputs allowed in " + options.outputFolders()
                    + "; stop with Ctrl-C; log in " + nodeLog);
            out.flush();
            node.awaitTermination();
            if (node.removedByCluster()) {
                spec.commandLine()
                        .getErr()
                        .println("espalier serve: the cluster removed this node (downed as unreachable, or its token"
                                + " was refused); its jobs resume on the other nodes; see " + nodeLog);
                return 1;
            }
        }
        return 0;
    }

    /** The cluster options of the flags; null without --cluster (and then no cluster flag may be given). */
    private ClusterOptions clusterOptions() {
        if (!cluster) {
            boolean clusterFlag = clusterDir != null
                    || seeds != null
                    || clusterKeyStore != null
                    || clusterTrustStore != null
                    || clusterConfig != null;
            if (clusterFlag) {
                throw new IllegalArgumentException(
                        "--cluster-dir, --seed, --cluster-tls-* and --cluster-config belong to a cluster node: add --cluster");
            }
            return null;
        }
        if (clusterDir == null) {
            throw new IllegalArgumentException(
                    "--cluster needs --cluster-dir <dir>: the run folder every node of the cluster shares");
        }
        if ((clusterKeyStore == null) != (clusterTrustStore == null)) {
            throw new IllegalArgumentException(
                    "--cluster-tls-keystore and --cluster-tls-truststore go together: give both for TLS, or neither");
        }
        ClusterOptions.ClusterTls tls = null;
        if (clusterKeyStore != null) {
            String password = System.getenv(ClusterOptions.TLS_PASSWORD_ENV);
            if (password == null || password.isEmpty()) {
                throw new IllegalArgumentException("cluster TLS needs the stores' password in "
                        + ClusterOptions.TLS_PASSWORD_ENV + ", which is not set");
            }
            tls = new ClusterOptions.ClusterTls(clusterKeyStore, clusterTrustStore, password);
        }
        return new ClusterOptions(
                clusterDir,
                clusterBind,
                clusterPort,
                seeds == null ? List.of() : seeds,
                durationOf(downAfter),
                tls,
                clusterConfig);
    }

    /** "20s", "500ms", "2m" as a duration; IllegalArgumentException naming the flag otherwise. */
    static Duration durationOf(String text) {
        Matcher m = Pattern.compile("(\\d+)(ms|s|m)").matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "--down-after '" + text + "': expected a number and a unit (ms, s or m), e.g. 20s");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            default -> Duration.ofMinutes(n);
        };
    }
}
