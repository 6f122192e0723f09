package dev.espalier.engine.runtime.node;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How a node takes part in a cluster ({@code espalier serve --cluster}).
 *
 * @param runFolder   the folder every node of the cluster reads and writes: the jobs (spec, status, checkpoints, events)
 *                    and the cluster's token; a shared filesystem in production, one local folder on one machine
 * @param bindAddress the address the cluster (Artery) transport listens on and other nodes reach it at
 * @param port        the cluster port, fixed: with the address it is the node's name in the cluster
 * @param seeds       host:port of the nodes to join through; empty: this node starts a new cluster
 * @param downAfter   how long a partition must be stable before the split-brain resolver (keep-majority) downs the
 *                    side in the minority, e.g. a node that was killed
 * @param tls         Artery TLS; null for plain TCP, which is only allowed on loopback
 * @param configFile  Pekko settings (HOCON) that override the ones these options give; null for none
 */
public record ClusterOptions(
        Path runFolder,
        String bindAddress,
        int port,
        List<String> seeds,
        Duration downAfter,
        ClusterTls tls,
        Path configFile) {
    public static final int DEFAULT_PORT = 25520;
    /** The environment variable that holds the password of the cluster's TLS key and trust stores. */
    public static final String TLS_PASSWORD_ENV = "ESPALIER_CLUSTER_TLS_PASSWORD";

    public ClusterOptions {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("--cluster-port must be in [1, 65535] (a node's name in the cluster"
                    + " is its address and port), got " + port);
        }
        if (downAfter.isNegative() || downAfter.isZero()) {
            throw new IllegalArgumentException("--down-after must be positive, got " + downAfter);
        }
        seeds = List.copyOf(seeds);
        for (String seed : seeds) {
            if (!seed.matches("[^:\\s]+:\\d{1,5}")) {
                throw new IllegalArgumentException("seed node '" + seed + "': expected host:port, e.g. 10.0.0.5:25520");
            }
        }
    }

    /** The cluster's keys: a PKCS#12 or JKS key store and trust store, both opened with {@code password}. */
    public record ClusterTls(Path keyStore, Path trustStore, String password) {
        @Override
        public String toString() {
            return "ClusterTls[keyStore=" + keyStore + ", trustStore=" + trustStore + ", password hidden]";
        }
    }
}
