package dev.espalier.cli.commands;

import dev.espalier.engine.runtime.node.NodeAddress;
import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.engine.runtime.node.NodeOptions;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * Options of the verbs that talk to a running node (submit, status, watch, cancel), and the one place that turns
 * the node's gRPC errors into one line on stderr and an exit code: 2 for an unreachable node or a refused request,
 * 1 for anything else.
 */
public final class NodeClientOptions {

    @Option(names = "--node", paramLabel = "<host:port>",
            description = "Address of the node (default: the one in <home>/node.port, written by `espalier serve`).")
    String node;

    @Option(names = "--home", paramLabel = "<dir>", description = "The node's home folder (default: ~/.espalier/node).")
    Path home;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    /** What a verb does with a connected client; returns the exit code. */
    @FunctionalInterface
    public interface NodeCall {
        int call(NodeClient client);
    }

    Path home() {
        return home != null ? home : NodeOptions.defaultHome();
    }

    /**
     * Runs {@code body} against the node and returns its exit code; prints "espalier VERB: error: …" and returns
     * 2 when the node cannot be reached ("cannot reach the espalier node at 127.0.0.1:7070 (is `espalier serve`
     * running?)") or refuses the request (unknown job, invalid spec, job already ended), 1 for other failures.
     */
    public int run(CommandSpec spec, NodeCall body) {
        PrintWriter err = spec.commandLine().getErr();
        String verb = "espalier " + spec.name() + ": error: ";
        NodeAddress address;
        try {
            address = node != null ? NodeAddress.parse(node) : NodeAddress.fromHome(home());
        } catch (IllegalStateException e) {
            err.println(verb + "cannot reach the espalier node: " + e.getMessage() + " (is `espalier serve` running?)");
            return 2;
        }
        try (NodeClient client = NodeClient.connect(address)) {
            return body.call(client);
        } catch (StatusRuntimeException e) {
            err.println(verb + describe(e.getStatus(), address));
            if (verbose) {
                e.printStackTrace(err);
            }
            return switch (e.getStatus().getCode()) {
                case UNAVAILABLE, NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION -> 2;
                default -> 1;
            };
        }
    }

    static String describe(Status status, NodeAddress address) {
        return switch (status.getCode()) {
            case UNAVAILABLE -> "cannot reach the espalier node at " + address + " (is `espalier serve` running?)";
            case DEADLINE_EXCEEDED -> "the espalier node at " + address + " did not answer in time";
            default -> status.getDescription() != null ? status.getDescription() : status.getCode().toString();
        };
    }
}
