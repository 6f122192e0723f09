package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.node.Node;
import dev.espalier.engine.runtime.node.NodeOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code espalier serve}: the long-running node that queues jobs durably and runs them; stops on Ctrl-C or SIGTERM. */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = CliVersion.class,
        description = {"Run the espalier node: a gRPC service that queues pruning jobs durably and runs them.",
        "Jobs survive restarts: queued ones stay queued, running ones resume from their last checkpoint."},
        footer = {"", "Examples:",
                "  ./espalier serve",
                "  ./espalier serve --home /data/espalier --port 0 --slots 2 --devices cpu:2",
                "  ./espalier serve --bind 0.0.0.0    # other machines too: no authentication!"})
public final class ServeCommand implements Callable<Integer> {

    @Option(names = "--home", paramLabel = "<dir>", description = "Folder of the node's jobs and node.port (default: ~/.espalier/node).")
    Path home;

    @Option(names = "--port", defaultValue = "" + NodeOptions.DEFAULT_PORT, description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = NodeOptions.DEFAULT_BIND, paramLabel = "<address>",
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only).")
    String bind;

    @Option(names = "--slots", defaultValue = "" + NodeOptions.DEFAULT_SLOTS, paramLabel = "N", description = "Jobs run at the same time (default: ${DEFAULT-VALUE}).")
    int slots;

    @Option(names = "--devices", defaultValue = "cpu", paramLabel = "<devices>",
            description = "The node's device workers, shared by every job (a job's --devices picks how many it uses): cpu (one worker,"
                    + " every core) or cpu:N (the cores split into N workers) (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(names = "--queue", defaultValue = "" + NodeOptions.DEFAULT_QUEUE_CAPACITY, paramLabel = "N",
            description = "Jobs that may wait for a slot; more are refused (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        NodeOptions options = new NodeOptions(home != null ? home : NodeOptions.defaultHome(), bind, port, slots, queue);
        Path nodeLog = options.home().toAbsolutePath().resolve("node.log");
        try (RunLogFile log = RunLogFile.attach(nodeLog)) { // before the start: its device workers and recovered jobs are logged
            Node node = Node.start(options, DeviceSpec.of(JobSpecs.devicesOf(devices)));
            Thread hook = new Thread(node::close, "espalier-node-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            PrintWriter out = spec.commandLine().getOut();
            out.println("espalier node listening on " + node.address() + " (home " + node.home() + ", " + slots
                    + " slot(s), queue of " + queue + ", devices " + devices + " shared by every job); stop with Ctrl-C; log in " + nodeLog);
            out.flush();
            node.awaitTermination();
        }
        return 0;
    }
}
