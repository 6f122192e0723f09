package dev.espalier.engine.runtime.node;

import java.nio.file.Path;
import java.util.List;

/**
 * How a node runs.
 *
 * @param home          folder of the node's jobs, {@code node.port} and lock
 * @param bindAddress   address the gRPC server listens on (loopback unless told otherwise)
 * @param port          TCP port; 0 picks a free one (written to {@code <home>/node.port})
 * @param slots         jobs run at the same time
 * @param queueCapacity jobs that may wait for a slot; a submission beyond it is refused
 * @param allowedOutputs folders a job's output must lie in; empty means the home only
 * @param tls           the node's TLS identity; null for plaintext, which is only allowed on loopback
 * @param cluster       how the node takes part in a cluster; null for a node on its own
 */
public record NodeOptions(
        Path home,
        String bindAddress,
        int port,
        int slots,
        int queueCapacity,
        List<Path> allowedOutputs,
        NodeTls tls,
        ClusterOptions cluster) {
    public static final String DEFAULT_BIND = "127.0.0.1";
    public static final int DEFAULT_PORT = 7070;
    public static final int DEFAULT_SLOTS = 1;
    public static final int DEFAULT_QUEUE_CAPACITY = 64;

    public NodeOptions {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        if (slots < 1) {
            throw new IllegalArgumentException("slots must be at least 1, got " + slots);
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queue capacity must be at least 1, got " + queueCapacity);
        }
        allowedOutputs = List.copyOf(allowedOutputs);
    }

    /** Plaintext on {@code bindAddress}, jobs writing into the home only. */
    public NodeOptions(Path home, String bindAddress, int port, int slots, int queueCapacity) {
        this(home, bindAddress, port, slots, queueCapacity, List.of(), null, null);
    }

    /**
     * The folders jobs may write their output to: {@link #allowedOutputs}, or when none is given the home (a cluster
     * node: the shared run folder, which every node can write).
     */
    public List<Path> outputFolders() {
        if (!allowedOutputs.isEmpty()) {
            return allowedOutputs;
        }
        return List.of(cluster == null ? home : cluster.runFolder().toAbsolutePath());
    }

    /** The defaults: loopback, port 7070, one slot, 64 waiting jobs. */
    public static NodeOptions defaults(Path home) {
        return new NodeOptions(home, DEFAULT_BIND, DEFAULT_PORT, DEFAULT_SLOTS, DEFAULT_QUEUE_CAPACITY);
    }

    /** The default home: {@code ~/.espalier/node}. */
    public static Path defaultHome() {
        return Path.of(System.getProperty("user.home"), ".espalier", "node");
    }

    public NodeOptions withPort(int newPort) {
        return new NodeOptions(home, bindAddress, newPort, slots, queueCapacity, allowedOutputs, tls, cluster);
    }

    public NodeOptions withBindAddress(String newBindAddress) {
        return new NodeOptions(home, newBindAddress, port, slots, queueCapacity, allowedOutputs, tls, cluster);
    }

    public NodeOptions withSlots(int newSlots) {
        return new NodeOptions(home, bindAddress, port, newSlots, queueCapacity, allowedOutputs, tls, cluster);
    }

    public NodeOptions withQueueCapacity(int newCapacity) {
        return new NodeOptions(home, bindAddress, port, slots, newCapacity, allowedOutputs, tls, cluster);
    }

    public NodeOptions withAllowedOutputs(List<Path> newAllowedOutputs) {
        return new NodeOptions(home, bindAddress, port, slots, queueCapacity, newAllowedOutputs, tls, cluster);
    }

    public NodeOptions withTls(NodeTls newTls) {
        return new NodeOptions(home, bindAddress, port, slots, queueCapacity, allowedOutputs, newTls, cluster);
    }

    public NodeOptions withCluster(ClusterOptions newCluster) {
        return new NodeOptions(home, bindAddress, port, slots, queueCapacity, allowedOutputs, tls, newCluster);
    }
}
