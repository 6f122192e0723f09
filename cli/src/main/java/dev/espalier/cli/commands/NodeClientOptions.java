package dev.espalier.cli.commands;

import dev.espalier.engine.runtime.node.NodeAddress;
import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.engine.runtime.node.NodeOptions;
import dev.espalier.engine.runtime.node.NodeToken;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * Options of the verbs that talk to a running node (submit, status, watch, cancel), with the node's token
 * (ESPALIER_NODE_TOKEN when set, else {@code <home>/node.token}) sent on every call, and the one place that turns
 * the node's gRPC errors into one line on stderr and an exit code: 2 for an unreachable node or a refused request,
 * 1 for anything else.
 */
public final class NodeClientOptions {

    @Option(
            names = "--node",
            paramLabel = "<host:port>",
            description = "Address of the node (default: the one in <home>/node.port, written by `espalier serve`).")
    String node;

    @Option(
            names = "--home",
            paramLabel = "<dir>",
            description = "The node's home folder, with its node.port and node.token (default: ~/.espalier/node).")
    Path home;

    @Option(
            names = "--tls-ca",
            paramLabel = "<file>",
            description =
                    "PEM certificate(s) to trust for a node served with TLS (serve --tls-cert); default: plaintext, for a loopback node.")
    Path tlsCa;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    /** Where ESPALIER_NODE_TOKEN is read from (the process's environment; a map in tests). */
    Map<String, String> environment = System.getenv();

    /** What a verb does with a connected client; returns the exit code. */
    @FunctionalInterface
    public interface NodeCall {
        int call(NodeClient client);
    }

    Path home() {
        return home != null ? home : NodeOptions.defaultHome();
    }

    /** Whether the command line names a node ({@code --node}, {@code --home} or {@code --tls-ca}). */
    boolean named() {
        return node != null || home != null || tlsCa != null;
    }

    /**
     * Runs {@code body} against the node and returns its exit code; prints "espalier VERB: error: …" and returns
     * 2 when the node cannot be reached ("cannot reach the espalier node at 127.0.0.1:7070 (is `espalier serve`
     * running?)"), no token is found (naming ESPALIER_NODE_TOKEN and {@code <home>/node.token}), or the node refuses
     * the request (wrong token, unknown job, invalid spec, output outside the allowed folders, job already ended), 1
     * for other failures.
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
        NodeToken token;
        ChannelCredentials credentials;
        try {
            token = NodeToken.forClient(home(), environment);
            credentials = credentials();
        } catch (IllegalStateException | IllegalArgumentException | UncheckedIOException e) {
            err.println(verb + e.getMessage());
            return 2;
        }
        try (NodeClient client = NodeClient.connect(address, token, credentials)) {
            return body.call(client);
        } catch (StatusRuntimeException e) {
            err.println(verb + describe(e.getStatus(), address));
            if (verbose) {
                e.printStackTrace(err);
            }
            return switch (e.getStatus().getCode()) {
                case UNAVAILABLE,
                        NOT_FOUND,
                        INVALID_ARGUMENT,
                        FAILED_PRECONDITION,
                        UNAUTHENTICATED,
                        PERMISSION_DENIED -> 2;
                default -> 1;
            };
        }
    }

    private ChannelCredentials credentials() {
        if (tlsCa == null) {
            return InsecureChannelCredentials.create();
        }
        try {
            return TlsChannelCredentials.newBuilder()
                    .trustManager(tlsCa.toFile())
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "--tls-ca " + tlsCa + ": cannot be read as PEM certificates (" + e.getMessage() + ")", e);
        }
    }

    static String describe(Status status, NodeAddress address) {
        return switch (status.getCode()) {
            case UNAVAILABLE -> "cannot reach the espalier node at " + address + " (is `espalier serve` running?)";
            case DEADLINE_EXCEEDED -> "the espalier node at " + address + " did not answer in time";
            default ->
                status.getDescription() != null
                        ? status.getDescription()
                        : status.getCode().toString();
        };
    }
}
