package dev.espalier.engine.runtime.node;

import com.typesafe.config.Config;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.job.HostedStageOpener;
import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.job.JobExecutors;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.StageHost;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The long-running node: the EspalierNode gRPC service over a durable job store in its home folder, with a bounded
 * queue and a fixed number of slots that run jobs. On start it re-queues every QUEUED job and every RUNNING one (which
 * resumes in its existing run directory), then writes {@code <home>/node.port}. One node per home (a file lock).
 * Every call must carry the node's token ({@link NodeToken}, in {@code <home>/node.token}); beyond loopback the node
 * listens only with TLS, and a job may write its output only inside the allowed folders.
 *
 * <p>With {@link NodeOptions#cluster} the node is one of a cluster ({@link ClusterMembership}): its jobs, and the
 * token, live in the run folder all nodes share; the cluster's scheduler sends it jobs for its slots, and re-queues
 * those it held when it leaves or dies. It stops itself when the cluster downs it.
 */
public final class Node implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Node.class);
    private static final long SHUTDOWN_GRACE_SECONDS = 60;

    private final Path home;
    private final FileChannel lockChannel;
    private final JobStore store;
    private final JobQueue queue;
    private final NodeToken token;
    private final Set<JobRecord> running = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicBoolean jobsStopping = new AtomicBoolean();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private final List<Thread> slots = new ArrayList<>();
    private Server server;
    private JobRunner runner;
    private NodeAddress address;
    private Devices devices; // the device workers this node started; null when its executors were given
    private ActorSystem<?> ownSystem; // a cluster node's actor system when it has no device workers of its own
    private ClusterJobs cluster; // null for a node on its own
    private ClusterMembership membership;
    private volatile boolean removedByCluster;

    private Node(Path home, FileChannel lockChannel, JobStore store, JobQueue queue, NodeToken token) {
        this.home = home;
        this.lockChannel = lockChannel;
        this.store = store;
        this.queue = queue;
        this.token = token;
    }

    /**
     * Starts a node with the device workers of {@code devices} (created once, shared by every job it runs) and every
     * method of this build ({@link JobExecutors#standard}); the workers stop with the node. At most
     * {@code activationBudgetBytes} of calibration activations are held in memory for all jobs together; beyond it,
     * each job spills to its run directory.
     */
    public static Node start(NodeOptions options, DeviceSpec devices, long activationBudgetBytes) {
        requireTlsBeyondLoopback(options); // before any worker starts
        Config clusterConfig = options.cluster() == null ? null : ClusterConfig.of(options.cluster());
        Devices workers = Devices.start(devices, activationBudgetBytes, clusterConfig);
        try {
            Node node = start(options, JobExecutors.standard(workers)::forSpec, workers.system(), workers.describe());
            node.devices = workers;
            LOG.info("device workers shared by every job: {}", workers.describe());
            if (options.cluster() != null) { // stages of other nodes' jobs whose pipeline spans this one
                workers.spawnService(
                        StageHost.create(
                                new HostedStageOpener(workers, node.store::runDirOf),
                                options.cluster().bindAddress() + ":"
                                        + options.cluster().port()),
                        "stage-host");
            }
            return node;
        } catch (RuntimeException e) {
            workers.close();
            throw e;
        }
    }

    /**
     * Starts a node: refuses a non-loopback bind address without TLS, locks the home, creates or reuses its token,
     * loads and re-queues its jobs, listens on {@code bindAddress:port}, writes {@code node.port} and starts the slots.
     * {@code executors} picks the executor of each job.
     */
    public static Node start(NodeOptions options, Function<JobSpec, JobExecutor> executors) {
        return start(options, executors, null, "given executors");
    }

    /**
     * As {@link #start(NodeOptions, Function)}; a cluster node joins in {@code system} (one of its own, made from the
     * cluster options, when null) and tells the scheduler its devices as {@code devices}.
     */
    private static Node start(
            NodeOptions options, Function<JobSpec, JobExecutor> executors, ActorSystem<?> system, String devices) {
        requireTlsBeyondLoopback(options);
        ClusterOptions clustered = options.cluster();
        Config clusterConfig = clustered == null ? null : ClusterConfig.of(clustered); // refuses bad options first
        Path home = options.home().toAbsolutePath();
        FileChannel lockChannel = lockHome(home);
        Node node = null;
        try {
            Path jobsHome = clustered == null ? home : clustered.runFolder().toAbsolutePath();
            ensureRunFolder(jobsHome);
            NodeToken token = NodeToken.createOrReuse(jobsHome);
            if (clustered != null) {
                token.copyInto(home); // so that the client verbs find it with --home, as for a node on its own
            }
            JobStore store = new JobStore(jobsHome, clustered != null);
            node = new Node(home, lockChannel, store, new JobQueue(options.queueCapacity()), token);
            if (clustered == null) {
                node.recover();
            }
            node.listen(options, executors);
            if (clustered != null) {
                if (system == null) {
                    system = ActorSystem.create(Behaviors.empty(), ClusterConfig.SYSTEM_NAME, clusterConfig);
                    node.ownSystem = system;
                }
                node.joinCluster(system, options.slots(), devices);
            }
            node.startSlots(options.slots());
            return node;
        } catch (RuntimeException e) {
            if (node != null) {
                node.close();
            } else {
                closeQuietly(lockChannel);
            }
            throw e;
        }
    }

    private static void requireTlsBeyondLoopback(NodeOptions options) {
        InetAddress bind;
        try {
            bind = InetAddress.getByName(options.bindAddress());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(
                    "bind address '" + options.bindAddress() + "' is not a known host or address");
        }
        if (!bind.isLoopbackAddress() && options.tls() == null) {
            throw new IllegalArgumentException(
                    "refusing to listen on " + options.bindAddress() + ": beyond loopback the node"
                            + " requires TLS (--tls-cert FILE --tls-key FILE), and TLS is not configured; bind "
                            + NodeOptions.DEFAULT_BIND + " or give a certificate and key");
        }
    }

    private static void ensureRunFolder(Path folder) {
        try {
            AtomicFiles.ensureDirectory(folder);
        } catch (IOException e) {
            throw new UncheckedIOException(
                    folder + ": cannot be used as the cluster's run folder (" + e.getMessage() + ")", e);
        }
    }

    private static FileChannel lockHome(Path home) {
        FileChannel channel = null;
        try {
            AtomicFiles.ensureDirectory(home);
            channel = FileChannel.open(home.resolve("node.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                throw new OverlappingFileLockException();
            }
            return channel;
        } catch (OverlappingFileLockException e) {
            closeQuietly(channel);
            throw new IllegalStateException("another espalier node is running with home " + home);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException(home + ": cannot be used as the node's home (" + e.getMessage() + ")", e);
        }
    }

    private void recover() {
        List<JobRecord> resume = new ArrayList<>();
        List<JobRecord> waiting = new ArrayList<>();
        for (JobRecord record : store.all()) {
            JobState state = record.status().getState();
            if (state == JobState.JOB_STATE_RUNNING) {
                store.save(
                        record,
                        record.status().toBuilder()
                                .setState(JobState.JOB_STATE_QUEUED)
                                .setMessage("waiting to resume after a node restart")
                                .build());
                resume.add(record);
            } else if (state == JobState.JOB_STATE_QUEUED) {
                waiting.add(record);
            }
        }
        resume.sort(Comparator.comparingLong(r -> r.status().getStartedTimeMs()));
        resume.forEach(queue::putRecovered);
        waiting.forEach(queue::putRecovered);
        if (!resume.isEmpty() || !waiting.isEmpty()) {
            LOG.info("{}: resuming {} interrupted and {} queued job(s)", home, resume.size(), waiting.size());
        }
    }

    private void listen(NodeOptions options, Function<JobSpec, JobExecutor> executors) {
        String nodeName = options.cluster() == null
                ? ""
                : options.cluster().bindAddress() + ":" + options.cluster().port();
        runner = new JobRunner(store, executors, running, closing, nodeName);
        if (options.cluster() != null) {
            cluster = new ClusterJobs(store, queue, runner);
        }
        ServerCredentials credentials = credentials(options.tls());
        try {
            NodeService service = new NodeService(
                    store, queue, runner, closing, new AllowedOutputs(options.outputFolders()), cluster);
            server = NettyServerBuilder.forAddress(
                            new InetSocketAddress(options.bindAddress(), options.port()), credentials)
                    .addService(ServerInterceptors.intercept(service, new TokenCheck(token, home)))
                    .build()
                    .start();
        } catch (IllegalArgumentException e) {
            throw options.tls() == null ? e : unusableTls(options.tls(), e);
        } catch (IOException e) {
            Throwable cause = e;
            while (cause.getCause() != null) {
                cause = cause.getCause();
            }
            throw new IllegalStateException(
                    "cannot listen on " + options.bindAddress() + ":" + options.port() + " (" + cause.getMessage()
                            + ")",
                    e);
        }
        address = NodeAddress.forLocalClient(options.bindAddress(), server.getPort());
        AtomicFiles.write(home.resolve(NodeAddress.PORT_FILE), (address + "\n").getBytes(StandardCharsets.UTF_8));
        LOG.info(
                "espalier node listening on {} ({}, token in {}; home {}, {} slot(s), queue of {}; outputs allowed in {})",
                address,
                options.tls() == null ? "plaintext" : "TLS",
                home.resolve(NodeToken.FILE),
                home,
                options.slots(),
                options.queueCapacity(),
                options.outputFolders());
    }

    private static ServerCredentials credentials(NodeTls tls) {
        if (tls == null) {
            return InsecureServerCredentials.create();
        }
        try {
            return TlsServerCredentials.create(
                    tls.certificate().toFile(), tls.privateKey().toFile());
        } catch (IOException | IllegalArgumentException e) {
            throw unusableTls(tls, e);
        }
    }

    private static IllegalArgumentException unusableTls(NodeTls tls, Exception e) {
        return new IllegalArgumentException(
                "--tls-cert " + tls.certificate() + " / --tls-key " + tls.privateKey()
                        + ": not a usable PEM certificate chain and PKCS#8 key (" + e.getMessage() + ")",
                e);
    }

    private void startSlots(int count) {
        for (int i = 0; i < count; i++) {
            slots.add(
                    Thread.ofPlatform().name("espalier-slot-" + i).daemon(true).start(this::runSlot));
        }
    }

    /**
     * Joins the cluster of {@code system}; the node stops itself if the cluster later downs it (its jobs stop and are
     * re-queued elsewhere).
     */
    private void joinCluster(ActorSystem<?> system, int slotCount, String devicesText) {
        membership = ClusterMembership.join(
                system, store, runner, token, slotCount, devicesText, address.toString(), cluster);
        cluster.joined(membership);
        // When the cluster downs this node, Pekko shuts the actor system down: stop the jobs first, while their actors
        // still run, so that they stay RUNNING on disk instead of failing, and resume elsewhere.
        CoordinatedShutdown.get(Adapter.toClassic(system))
                .addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "espalier-stop-jobs", () -> {
                    try {
                        stopJobs();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return CompletableFuture.completedFuture(Done.getInstance());
                });
        system.getWhenTerminated().thenRun(() -> {
            if (!closing.get()) {
                removedByCluster = true;
                LOG.warn(
                        "the cluster removed this node ({}: downed as unreachable, or its token was refused); stopping it",
                        membership.name());
                Thread.ofPlatform().name("espalier-node-downed").start(this::close);
            }
        });
    }

    private void runSlot() {
        try {
            JobRecord job;
            while ((job = queue.take()) != null) {
                runner.run(job);
                if (cluster != null) {
                    cluster.finished(job);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The address a client on this machine uses (also in {@code <home>/node.port}). */
    public NodeAddress address() {
        return address;
    }

    public Path home() {
        return home;
    }

    /** The token every call must carry (also in {@code <home>/node.token}). */
    public NodeToken token() {
        return token;
    }

    /** Whether the node stopped because its cluster removed it (rather than by {@link #close()}). */
    public boolean removedByCluster() {
        return removedByCluster;
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    /**
     * Stops the node: refuses new calls, asks running jobs to stop (they stay RUNNING on disk and resume on the next
     * start), waits up to a minute for the slots, ends open watches with UNAVAILABLE, removes {@code node.port} and
     * releases the home. Idempotent.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            try {
                awaitTermination();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        try {
            if (server != null) {
                server.shutdown();
            }
            stopJobs();
            if (membership != null) {
                membership.leave(); // after the jobs stopped: the scheduler then re-queues them on other nodes
            }
            if (server != null && !server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (server != null) {
                server.shutdownNow();
            }
        } finally {
            if (devices != null) {
                devices.close();
            }
            if (ownSystem != null) {
                ownSystem.terminate();
            }
            store.close();
            removePortFile();
            closeQuietly(lockChannel);
            terminated.countDown();
        }
    }

    /**
     * Stops taking jobs and asks the running ones to stop (they stay RUNNING on disk and resume on the next start, or
     * on another node of a cluster), waiting up to a minute for the slots. Idempotent.
     */
    private void stopJobs() throws InterruptedException {
        if (jobsStopping.compareAndSet(false, true)) {
            queue.close();
            running.forEach(job -> job.requestStop(JobRecord.StopRequest.SHUTDOWN, "the node is shutting down"));
        }
        for (Thread slot : slots) {
            slot.join(TimeUnit.SECONDS.toMillis(SHUTDOWN_GRACE_SECONDS));
            if (slot.isAlive()) {
                LOG.warn("{} still runs a job after {} s; leaving it", slot.getName(), SHUTDOWN_GRACE_SECONDS);
            }
        }
    }

    private void removePortFile() {
        Path file = home.resolve(NodeAddress.PORT_FILE);
        try {
            if (address != null
                    && Files.exists(file)
                    && NodeAddress.parse(Files.readString(file)).equals(address)) {
                Files.delete(file);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: cannot be removed ({})", file, e.getMessage());
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            LOG.warn("cannot close the node's lock file ({})", e.getMessage());
        }
    }
}
