package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.node.Node;
import dev.espalier.engine.runtime.node.NodeOptions;
import dev.espalier.engine.runtime.node.NodeTls;
import dev.espalier.engine.runtime.node.NodeToken;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
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
            "Beyond loopback the node listens only with TLS (--tls-cert, --tls-key); jobs may write only inside --allow-out."
        },
        footer = {
            "",
            "Examples:",
            "  ./espalier serve",
            "  ./espalier serve --home /data/espalier --port 0 --slots 2 --devices cpu:2",
            "  ./espalier serve --allow-out /data/runs --allow-out /scratch/runs",
            "  ./espalier serve --bind 0.0.0.0 --tls-cert node.crt --tls-key node.key    # other machines too"
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
                            + " every core) or cpu:N (the cores split into N workers) (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(
            names = "--queue",
            defaultValue = "" + NodeOptions.DEFAULT_QUEUE_CAPACITY,
            paramLabel = "N",
            description = "Jobs that may wait for a slot; more are refused (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

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
                tlsCert == null ? null : new NodeTls(tlsCert, tlsKey));
        Path nodeLog = options.home().toAbsolutePath().resolve("node.log");
        try (RunLogFile log =
                RunLogFile.attach(nodeLog)) { // before the start: its device workers and recovered jobs are logged
            Node node = Node.start(options, DeviceSpec.of(JobSpecs.devicesOf(devices)), memory.bytes());
            Thread hook = new Thread(node::close, "espalier-node-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            PrintWriter out = spec.commandLine().getOut();
            out.println("espalier node listening on " + node.address() + (tlsCert == null ? "" : " with TLS")
                    + " (home " + node.home()
                    + ", " + slots + " slot(s), queue of " + queue + ", devices " + devices
                    + " shared by every job); token in "
                    + node.home().resolve(NodeToken.FILE) + "; outputs allowed in " + options.outputFolders()
                    + "; stop with Ctrl-C; log in " + nodeLog);
            out.flush();
            node.awaitTermination();
        }
        return 0;
    }
}
