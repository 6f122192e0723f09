package dev.espalier.engine.runtime.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The Pekko settings of a node in a cluster, from its {@link ClusterOptions}: the cluster provider over Artery TCP
 * (TLS beyond loopback, refused without it), its seed nodes, and the split-brain resolver (keep-majority) that downs
 * the minority side of a partition once it has been stable for {@code downAfter}. The options' config file, if any,
 * overrides these.
 */
final class ClusterConfig {
    /** The name of every node's actor system: nodes of one cluster must share it. */
    static final String SYSTEM_NAME = "espalier";

    private ClusterConfig() {}

    static Config of(ClusterOptions options) {
        requireTlsBeyondLoopback(options);
        List<String> seeds = new ArrayList<>();
        for (String seed : options.seeds()) {
            seeds.add("pekko://" + SYSTEM_NAME + "@" + seed);
        }
        if (seeds.isEmpty()) {
            seeds.add("pekko://" + SYSTEM_NAME + "@" + options.bindAddress() + ":" + options.port());
        }
        Config base = ConfigFactory.empty()
                .withValue("pekko.actor.provider", ConfigValueFactory.fromAnyRef("cluster"))
                .withValue(
                        "pekko.remote.artery.transport",
                        ConfigValueFactory.fromAnyRef(options.tls() == null ? "tcp" : "tls-tcp"))
                .withValue(
                        "pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(options.bindAddress()))
                .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(options.port()))
                .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds))
                .withValue(
                        "pekko.cluster.downing-provider-class",
                        ConfigValueFactory.fromAnyRef("org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"))
                .withValue(
                        "pekko.cluster.split-brain-resolver.active-strategy",
                        ConfigValueFactory.fromAnyRef("keep-majority"))
                .withValue(
                        "pekko.cluster.split-brain-resolver.stable-after",
                        ConfigValueFactory.fromAnyRef(options.downAfter().toMillis() + "ms"))
                .withValue("pekko.cluster.jmx.enabled", ConfigValueFactory.fromAnyRef(false))
                // The node leaves the cluster itself, after its jobs stopped (Node.close); a JVM hook must not race it.
                .withValue("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", ConfigValueFactory.fromAnyRef("off"))
                .withValue("pekko.coordinated-shutdown.exit-jvm", ConfigValueFactory.fromAnyRef("off"))
                // Stopping the jobs (the node's first shutdown task) may wait up to a minute for a safe point.
                .withValue(
                        "pekko.coordinated-shutdown.phases.before-service-unbind.timeout",
                        ConfigValueFactory.fromAnyRef("70s"));
        if (options.tls() != null) {
            String engine = "pekko.remote.artery.ssl.config-ssl-engine.";
            ClusterOptions.ClusterTls tls = options.tls();
            base = base.withValue(
                            engine + "key-store",
                            ConfigValueFactory.fromAnyRef(tls.keyStore().toString()))
                    .withValue(
                            engine + "trust-store",
                            ConfigValueFactory.fromAnyRef(tls.trustStore().toString()))
                    .withValue(engine + "key-store-password", ConfigValueFactory.fromAnyRef(tls.password()))
                    .withValue(engine + "key-password", ConfigValueFactory.fromAnyRef(tls.password()))
                    .withValue(engine + "trust-store-password", ConfigValueFactory.fromAnyRef(tls.password()))
                    .withValue(engine + "require-mutual-authentication", ConfigValueFactory.fromAnyRef(true));
        }
        if (options.configFile() != null) {
            if (!Files.isRegularFile(options.configFile())) {
                throw new IllegalArgumentException(
                        "--cluster-config " + options.configFile() + ": no such file (expected Pekko settings, HOCON)");
            }
            base = ConfigFactory.parseFile(options.configFile().toFile()).withFallback(base);
        }
        return base.withFallback(ConfigFactory.load());
    }

    private static void requireTlsBeyondLoopback(ClusterOptions options) {
        InetAddress bind;
        try {
            bind = InetAddress.getByName(options.bindAddress());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(
                    "cluster bind address '" + options.bindAddress() + "' is not a known host or address");
        }
        if (!bind.isLoopbackAddress() && options.tls() == null) {
            throw new IllegalArgumentException("refusing to open the cluster port on " + options.bindAddress()
                    + ": beyond loopback the cluster requires Artery TLS (--cluster-tls-keystore FILE"
                    + " --cluster-tls-truststore FILE, password in " + ClusterOptions.TLS_PASSWORD_ENV
                    + "), and it is not configured; bind 127.0.0.1 or give them");
        }
        for (String seed : options.seeds()) {
            String host = seed.substring(0, seed.lastIndexOf(':'));
            try {
                if (!InetAddress.getByName(host).isLoopbackAddress() && options.tls() == null) {
                    throw new IllegalArgumentException("refusing to join seed " + seed
                            + " beyond loopback without Artery TLS (--cluster-tls-keystore, --cluster-tls-truststore)");
                }
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("seed node '" + seed + "': unknown host " + host);
            }
        }
    }
}
