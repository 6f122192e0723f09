package dev.espalier.engine.runtime.node;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobCancelled;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobFailed;
import dev.espalier.protocol.v1.JobQueued;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.JobSucceeded;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's jobs on disk: {@code <home>/jobs/<job-id>/} is the job's {@link RunDirectory} plus {@code status.pb}
 * (its {@link JobStatus}, replaced atomically at every change of state). A job folder is built under a temporary
 * name and renamed into place, so a crash during submission leaves nothing but a temporary folder, removed on start.
 * A store {@linkplain #shared shared} by the nodes of a cluster sees jobs other nodes create ({@link #refresh},
 * {@link #reload}) and removes no temporary file on start, since another node may be writing it.
 */
final class JobStore implements AutoCloseable {
    static final String STATUS_FILE = "status.pb";
    private static final Logger LOG = LoggerFactory.getLogger(JobStore.class);
    private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final DateTimeFormatter ID_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path jobsDir;
    private final boolean shared;
    private final Map<String, JobRecord> jobs = new ConcurrentHashMap<>();
    private final Map<String, RunDirectory> openRuns = new ConcurrentHashMap<>();

    /** Loads every job under {@code <home>/jobs}, after removing temporary files and half-created job folders. */
    JobStore(Path home) {
        this(home, false);
    }

    /**
     * Loads every job under {@code <home>/jobs}; a {@code shared} store (the run folder of a cluster) leaves temporary
     * files alone.
     */
    JobStore(Path home, boolean shared) {
        this.jobsDir = home.toAbsolutePath().resolve("jobs");
        this.shared = shared;
        try {
            AtomicFiles.ensureDirectory(jobsDir);
            if (!shared) {
                AtomicFiles.removeTempFiles(jobsDir);
            }
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(jobsDir, Files::isDirectory)) {
                for (Path dir : dirs) {
                    load(dir);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(jobsDir + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    private void load(Path dir) {
        readStatus(dir).ifPresent(status -> jobs.put(status.getJobId(), new JobRecord(status.getJobId(), dir, status)));
    }

    private static Optional<JobStatus> readStatus(Path dir) {
        Path file = dir.resolve(STATUS_FILE);
        try {
            JobStatus status = JobStatus.parseFrom(Files.readAllBytes(file));
            String id = dir.getFileName().toString();
            if (!status.getJobId().equals(id)) {
                LOG.error("{}: names job {} but lies in folder {}; skipped", file, status.getJobId(), id);
                return Optional.empty();
            }
            return Optional.of(status);
        } catch (IOException e) {
            LOG.error("{}: cannot be read as a JobStatus ({}); job skipped", file, e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Of a shared store: loads the jobs other nodes created since, and re-reads the status of every job for which
     * {@code live} is false (this node does not run it, so the file is newer than the record).
     */
    void refresh(Predicate<JobRecord> live) {
        requireShared();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(jobsDir, Files::isDirectory)) {
            for (Path dir : dirs) {
                String id = dir.getFileName().toString();
                if (AtomicFiles.isTempFile(dir) || !JOB_ID.matcher(id).matches()) {
                    continue;
                }
                JobRecord record = jobs.get(id);
                if (record == null) {
                    load(dir);
                } else if (!live.test(record)) {
                    readStatus(dir).ifPresent(record::setStatus);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(jobsDir + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    /** Of a shared store: job {@code id} with its status as on disk now (loading it if another node created it). */
    /** The run directory of job {@code id} in this store (it may not exist); IllegalArgumentException for a bad id. */
    Path runDirOf(String id) {
        if (!JOB_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("'" + id + "' is not a job id");
        }
        return jobsDir.resolve(id);
    }

    Optional<JobRecord> reload(String id) {
        requireShared();
        if (!JOB_ID.matcher(id).matches()) {
            return Optional.empty();
        }
        Path dir = jobsDir.resolve(id);
        Optional<JobStatus> status = Files.isDirectory(dir) ? readStatus(dir) : Optional.empty();
        if (status.isEmpty()) {
            return Optional.ofNullable(jobs.get(id));
        }
        JobRecord record = jobs.computeIfAbsent(id, i -> new JobRecord(i, dir, status.get()));
        record.setStatus(status.get());
        return Optional.of(record);
    }

    private void requireShared() {
        if (!shared) {
            throw new IllegalStateException(jobsDir + ": only a cluster's shared store is changed by other nodes");
        }
    }

    /** Every job, oldest submission first. */
    List<JobRecord> all() {
        List<JobRecord> list = new ArrayList<>(jobs.values());
        list.sort(Comparator.comparingLong((JobRecord r) -> r.status().getSubmittedTimeMs())
                .thenComparing(r -> r.id));
        return list;
    }

    /** The job {@code id}, if this node has it. */
    Optional<JobRecord> find(String id) {
        return JOB_ID.matcher(id).matches() ? Optional.ofNullable(jobs.get(id)) : Optional.empty();
    }

    /** Creates a QUEUED job durably (run directory, JobQueued event, status.pb), then makes it visible. */
    JobRecord create(JobSpec spec, int position) {
        long now = System.currentTimeMillis();
        for (int attempt = 0; ; attempt++) {
            String id = ID_TIME.format(java.time.Instant.ofEpochMilli(now)) + "-"
                    + HexFormat.of().toHexDigits((short) RANDOM.nextInt());
            Path dir = jobsDir.resolve(id);
            if (Files.exists(dir)) {
                continue;
            }
            Path staging = jobsDir.resolve(AtomicFiles.tempName(id));
            JobStatus status = JobStatus.newBuilder()
                    .setJobId(id)
                    .setSpec(spec)
                    .setState(JobState.JOB_STATE_QUEUED)
                    .setMessage("queued")
                    .setRunDir(dir.toString())
                    .setSubmittedTimeMs(now)
                    .build();
            try {
                try (RunDirectory run = RunDirectory.create(staging, id, spec)) {
                    run.events()
                            .append(JobEvent.newBuilder()
                                    .setTimeMs(now)
                                    .setQueued(JobQueued.newBuilder().setPosition(position)));
                    AtomicFiles.write(staging.resolve(STATUS_FILE), status.toByteArray());
                }
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
                AtomicFiles.fsyncDirectory(jobsDir);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                deleteQuietly(staging);
                if (attempt < 10) {
                    continue;
                }
                throw new UncheckedIOException(dir + ": job id taken ten times in a row", e);
            } catch (IOException e) {
                deleteQuietly(staging);
                throw new UncheckedIOException(jobsDir + ": cannot create job (" + e.getMessage() + ")", e);
            } catch (RuntimeException e) {
                deleteQuietly(staging);
                throw e;
            }
            JobRecord record = new JobRecord(id, dir, status);
            jobs.put(id, record);
            return record;
        }
    }

    private static void deleteQuietly(Path staging) {
        try {
            AtomicFiles.deleteRecursively(staging);
        } catch (IOException e) {
            LOG.warn("{}: cannot be removed ({})", staging, e.getMessage());
        }
    }

    /** Saves {@code next} as the job's status.pb, then makes it the live status. */
    void save(JobRecord record, JobStatus next) {
        AtomicFiles.write(record.dir.resolve(STATUS_FILE), next.toByteArray());
        record.setStatus(next);
    }

    /**
     * The job's run directory, opened once and kept. Opening repairs it (logged); a finished job whose log lacks its
     * terminal event (a crash between status and event) gets that event appended.
     */
    RunDirectory run(JobRecord record) {
        return openRuns.computeIfAbsent(record.id, id -> {
            RunDirectory run = RunDirectory.open(record.dir);
            run.repairs().forEach(repair -> LOG.warn("{}: {}", record.dir, repair));
            JobStatus status = record.status();
            if (JobRecord.isTerminal(status.getState())) {
                List<JobEvent> last = run.events().eventsFrom(run.events().lastSequence());
                if (last.isEmpty() || !isTerminal(last.getFirst())) {
                    run.events().append(terminalEvent(status));
                }
            }
            return run;
        });
    }

    static boolean isTerminal(JobEvent event) {
        return switch (event.getKindCase()) {
            case SUCCEEDED, FAILED, CANCELLED -> true;
            default -> false;
        };
    }

    private static JobEvent.Builder terminalEvent(JobStatus status) {
        JobEvent.Builder event = JobEvent.newBuilder().setTimeMs(status.getFinishedTimeMs());
        return switch (status.getState()) {
            case JOB_STATE_SUCCEEDED ->
                event.setSucceeded(
                        JobSucceeded.newBuilder().setOutput(status.getSpec().getOutput()));
            case JOB_STATE_CANCELLED ->
                event.setCancelled(JobCancelled.newBuilder().setReason(status.getMessage()));
            default -> event.setFailed(JobFailed.newBuilder().setMessage(status.getMessage()));
        };
    }

    @Override
    public void close() {
        openRuns.values().forEach(RunDirectory::close);
        openRuns.clear();
    }
}
