package dev.espalier.engine.runtime.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.io.PathLock;
import dev.espalier.protocol.v1.Artefact;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.RunManifest;
import dev.espalier.protocol.v1.RunReport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * One job's run directory: {@code spec.pb} (the {@link JobSpec}), {@code manifest.pb} (the {@link RunManifest}: job
 * id, spec checksum, committed artefacts with SHA-256 and size, completed layers, policy step, random state),
 * {@code events.log} (an {@link EventLog}), {@code layers/} and other committed artefacts such as {@code report.pb}.
 *
 * <p>Every file is replaced with {@link AtomicFiles}; {@code manifest.pb} is written last, so an artefact counts as
 * committed only once the manifest lists it, and a listed artefact is handed out only after its size and checksum
 * match ({@link #verifiedArtefact}). Manifest changes are serialised; events may be appended and read from any thread.
 */
public final class RunDirectory implements LayerCheckpoints, AutoCloseable {
    public static final String SPEC_FILE = "spec.pb";
    public static final String MANIFEST_FILE = "manifest.pb";
    public static final String EVENTS_FILE = "events.log";
    public static final String LAYERS_DIR = "layers";
    public static final String SPILL_DIR = "spill";
    /** Activations bound for a stage on another node ({@link #handoffDir}). */
    public static final String HANDOFF_DIR = "handoff";
    /** Layer checkpoints other nodes wrote, until this job's node adopts them ({@link StageCheckpoints}). */
    public static final String STAGED_DIR = "staged";

    public static final String REPORT_NAME = "report";
    public static final String REPORT_FILE = "report.pb";
    /** The lock file: held by the one job that has the directory open ({@link PathLock}). */
    public static final String LOCK_FILE = "lock";

    private static final Set<String> RESERVED = Set.of(SPEC_FILE, MANIFEST_FILE, EVENTS_FILE, "status.pb", LOCK_FILE);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private final Path dir;
    private final JobSpec spec;
    private final EventLog events;
    private final List<String> repairs;
    private final ReentrantLock lock = new ReentrantLock();
    private final PathLock owner;
    private volatile RunManifest manifest;

    private RunDirectory(
            Path dir, PathLock owner, JobSpec spec, RunManifest manifest, EventLog events, List<String> repairs) {
        this.dir = dir;
        this.owner = owner;
        this.spec = spec;
        this.manifest = manifest;
        this.events = events;
        this.repairs = List.copyOf(repairs);
    }

    /**
     * Makes {@code dir} (new, or empty but for leftovers of an interrupted create) the run directory of job
     * {@code jobId}; refuses a folder holding anything else with a {@link RunDirectoryConflictException}, and one
     * another process or job is creating with a {@link PathLock.PathInUseException}.
     */
    public static RunDirectory create(Path dir, String jobId, JobSpec spec) {
        if (!NAME.matcher(jobId).matches()) {
            throw new IllegalArgumentException("job id '" + jobId + "' must be letters, digits, '.', '_' or '-'");
        }
        dir = dir.toAbsolutePath();
        refuseOccupied(dir);
        PathLock owner = null;
        try {
            AtomicFiles.ensureDirectory(dir);
            owner = lock(dir);
            refuseOccupied(dir); // again, now that no one else can be creating it
            AtomicFiles.removeTempFiles(dir);
            byte[] specBytes = SpecFiles.deterministicBytes(spec);
            AtomicFiles.write(dir.resolve(SPEC_FILE), specBytes);
            EventLog events = EventLog.open(dir.resolve(EVENTS_FILE), jobId);
            RunManifest manifest = RunManifest.newBuilder()
                    .setJobId(jobId)
                    .setSpecSha256(Checksums.sha256(specBytes))
                    .setSeed(spec.getSeed())
                    .setState(JobState.JOB_STATE_QUEUED)
                    .build();
            AtomicFiles.write(dir.resolve(MANIFEST_FILE), manifest.toByteArray()); // last: marks the folder as a run
            return new RunDirectory(dir, owner, spec, manifest, events, List.of());
        } catch (IOException e) {
            release(owner);
            throw new UncheckedIOException(dir + ": cannot create run directory (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            release(owner);
            throw e;
        }
    }

    private static PathLock lock(Path dir) {
        return PathLock.acquire(dir.resolve(LOCK_FILE), "run directory " + dir);
    }

    private static void release(PathLock owner) {
        if (owner != null) {
            owner.close();
        }
    }

    private static void refuseOccupied(Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new RunDirectoryConflictException(dir + " is a file; a run directory must be a new or empty folder");
        }
        if (Files.exists(dir.resolve(MANIFEST_FILE))) {
            throw new RunDirectoryConflictException(dir + " already holds the run of job "
                    + readManifest(dir).getJobId() + "; open it to resume, or choose a new folder");
        }
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (!AtomicFiles.isTempFile(entry) && !name.equals(SPEC_FILE) && !name.equals(LOCK_FILE)) {
                    throw new RunDirectoryConflictException(dir + " is not empty and is not a run directory (it holds "
                            + entry.getFileName() + "); choose a new or empty folder");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot be listed (" + e.getMessage() + ")", e);
        }
    }

    /**
     * The one-shot entry point: opens {@code dir} when it is already a run directory of {@code spec} (to resume it;
     * one of another spec is refused as in {@link #open(Path, JobSpec)}), else creates it as in {@link #create}.
     */
    public static RunDirectory openOrCreate(Path dir, String jobId, JobSpec spec) {
        return isRunDirectory(dir) ? open(dir, spec) : create(dir, jobId, spec);
    }

    /** Opens the run directory {@code dir} whatever its spec (the node's resume path). */
    public static RunDirectory open(Path dir) {
        return open(dir, null);
    }

    /**
     * Opens the run directory {@code dir}: removes temporary files, truncates a torn event-log tail (both listed in
     * {@link #repairs()}), checks spec.pb against the manifest's checksum and, when {@code expectedSpec} is not null,
     * refuses a run whose spec differs: "&lt;dir&gt; belongs to job &lt;id&gt; (spec differs: model X vs Y)", and one that
     * another process or job has open ({@link PathLock.PathInUseException}). The lock is held until {@link #close}.
     */
    public static RunDirectory open(Path dir, JobSpec expectedSpec) {
        dir = dir.toAbsolutePath();
        if (!Files.isDirectory(dir)) {
            throw new RunDirectoryConflictException(dir + " is not a run directory (no such folder)");
        }
        if (!Files.exists(dir.resolve(MANIFEST_FILE))) {
            throw new RunDirectoryConflictException(
                    Files.exists(dir.resolve(SPEC_FILE))
                            ? dir
                                    + " is an unfinished run directory (its creation was interrupted before manifest.pb); create it again"
                            : dir + " is not a run directory (no manifest.pb)");
        }
        PathLock owner = lock(dir);
        try {
            return open(dir, owner, expectedSpec);
        } catch (RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    private static RunDirectory open(Path dir, PathLock owner, JobSpec expectedSpec) {
        List<String> repairs = new ArrayList<>();
        int temps = AtomicFiles.removeTempFiles(dir);
        if (temps > 0) {
            repairs.add("removed " + temps + " temporary file(s) left by an interrupted write");
        }
        int spills = removeSpills(dir.resolve(SPILL_DIR)) + removeSpills(dir.resolve(HANDOFF_DIR));
        if (spills > 0) {
            repairs.add("removed " + spills + " spilled or handed-off activation(s) left by an interrupted run");
        }
        RunManifest manifest = readManifest(dir);
        JobSpec spec = readSpec(dir, manifest);
        if (expectedSpec != null && !expectedSpec.equals(spec)) {
            throw new RunDirectoryConflictException(dir + " belongs to job " + manifest.getJobId() + " (spec differs: "
                    + SpecFiles.firstDifference(spec, expectedSpec) + ")");
        }
        EventLog events = EventLog.open(dir.resolve(EVENTS_FILE), manifest.getJobId());
        if (events.repairedBytes() > 0) {
            repairs.add(
                    EVENTS_FILE + ": truncated " + events.repairedBytes() + " bytes of a torn or garbled final record");
        }
        return new RunDirectory(dir, owner, spec, manifest, events, repairs);
    }

    /** The job id of the run directory {@code dir} (read without opening it); empty when it is not one. */
    public static Optional<String> jobIdOf(Path dir) {
        return isRunDirectory(dir) ? Optional.of(readManifest(dir).getJobId()) : Optional.empty();
    }

    /** Whether {@code dir} holds a run directory's manifest. */
    public static boolean isRunDirectory(Path dir) {
        return Files.isRegularFile(dir.resolve(MANIFEST_FILE));
    }

    static RunManifest readManifest(Path dir) {
        Path file = dir.resolve(MANIFEST_FILE);
        try {
            return RunManifest.parseFrom(Files.readAllBytes(file));
        } catch (InvalidProtocolBufferException e) {
            throw new CorruptArtefactException(file, "cannot be parsed as a RunManifest (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    static JobSpec readSpec(Path dir, RunManifest manifest) {
        Path file = dir.resolve(SPEC_FILE);
        try {
            byte[] bytes = Files.readAllBytes(file);
            String found = Checksums.sha256(bytes);
            if (!found.equals(manifest.getSpecSha256())) {
                throw new CorruptArtefactException(
                        file, "checksum mismatch (expected " + manifest.getSpecSha256() + ", found " + found + ")");
            }
            return JobSpec.parseFrom(bytes);
        } catch (NoSuchFileException e) {
            throw new CorruptArtefactException(
                    file, "missing (the manifest names a spec with sha256 " + manifest.getSpecSha256() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    public Path dir() {
        return dir;
    }

    /** Where activations beyond the host's memory budget go while the run is open (emptied when it is opened again). */
    @Override
    public Path spillDir() {
        return dir.resolve(SPILL_DIR);
    }

    /** Deletes the files of a spill folder (only activations live there); how many there were. */
    private static int removeSpills(Path spill) {
        if (!Files.isDirectory(spill)) {
            return 0;
        }
        try (var files = Files.list(spill)) {
            int n = 0;
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
                n++;
            }
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot empty the spill folder " + spill, e);
        }
    }

    public String jobId() {
        return manifest.getJobId();
    }

    public JobSpec spec() {
        return spec;
    }

    /** The manifest as last written. */
    public RunManifest manifest() {
        return manifest;
    }

    /** The job's event log. */
    public EventLog events() {
        return events;
    }

    /** What {@link #open} repaired (one line each); empty when the directory was intact. */
    public List<String> repairs() {
        return repairs;
    }

    /** The artefact name of decoder layer {@code layer}: {@code layer-03}. */
    public static String layerName(int layer) {
        return String.format(Locale.ROOT, "layer-%02d", layer);
    }

    /** Commits decoder layer {@code layer} as {@code layers/layer-NN.safetensors} (see {@link #commitArtefact}). */
    public Artefact commitLayer(int layer, AtomicFiles.ChannelWriter writer) {
        return commitArtefact(layerName(layer), LAYERS_DIR + "/" + layerName(layer) + ".safetensors", writer);
    }

    /** The verified file of decoder layer {@code layer} (see {@link #verifiedArtefact}). */
    @Override
    public Path verifiedLayer(int layer) {
        return verifiedArtefact(layerName(layer));
    }

    /** Commits layer {@code layer} ({@link #commitLayer}) and marks it completed; nothing is staged. */
    @Override
    public StagedLayer commit(int layer, AtomicFiles.ChannelWriter writer) {
        commitLayer(layer, writer);
        markLayerCompleted(layer);
        return null;
    }

    /**
     * Commits the checkpoint of layer {@code staged.layer()} that another node wrote at {@code staged.relativePath()}:
     * its size and SHA-256 are checked against what that node reported (CorruptArtefactException when they differ),
     * it is renamed to the layer's place, listed in the manifest and the layer marked completed.
     */
    @Override
    public void adopt(StagedLayer staged) {
        String name = layerName(staged.layer());
        String relativePath = LAYERS_DIR + "/" + name + ".safetensors";
        Artefact artefact = Artefact.newBuilder()
                .setName(name)
                .setRelativePath(relativePath)
                .setSha256(staged.sha256())
                .setSizeBytes(staged.sizeBytes())
                .build();
        Path source = ArtefactChecks.verifiedFile(
                dir, artefact.toBuilder().setRelativePath(staged.relativePath()).build());
        Path target = resolveRelative(relativePath);
        lock.lock();
        try {
            if (find(name).isPresent()) {
                writeManifest(withoutArtefact(manifest.toBuilder(), name).build());
            }
            AtomicFiles.ensureDirectory(target.getParent());
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            AtomicFiles.fsyncDirectory(target.getParent());
            writeManifest(manifest.toBuilder().addArtefacts(artefact).build());
        } catch (IOException e) {
            throw new UncheckedIOException(
                    target + ": cannot be adopted from " + source + " (" + e.getMessage() + ")", e);
        } finally {
            lock.unlock();
        }
        markLayerCompleted(staged.layer());
    }

    @Override
    public Path handoffDir() {
        return dir.resolve(HANDOFF_DIR);
    }

    /**
     * Writes an artefact atomically at {@code relativePath} ('/'-separated, inside the run directory), then records
     * its SHA-256 and size under {@code name} in the manifest. Re-committing a name first drops its old entry, so a
     * crash at any point leaves the name either absent or listed with the checksum of the file on disk.
     */
    public Artefact commitArtefact(String name, String relativePath, AtomicFiles.ChannelWriter writer) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("artefact name '" + name + "' must be letters, digits, '.', '_' or '-'");
        }
        Path target = resolveRelative(relativePath);
        lock.lock();
        try {
            for (Artefact existing : manifest.getArtefactsList()) {
                if (existing.getRelativePath().equals(relativePath)
                        && !existing.getName().equals(name)) {
                    throw new IllegalArgumentException(
                            dir + ": " + relativePath + " already holds artefact " + existing.getName());
                }
            }
            if (find(name).isPresent()) {
                writeManifest(withoutArtefact(manifest.toBuilder(), name).build());
            }
            AtomicFiles.ensureDirectory(target.getParent());
            Artefact artefact = AtomicFiles.write(
                    target,
                    writer,
                    temp -> Artefact.newBuilder()
                            .setName(name)
                            .setRelativePath(relativePath)
                            .setSha256(Checksums.sha256(temp))
                            .setSizeBytes(Files.size(temp))
                            .build());
            writeManifest(manifest.toBuilder().addArtefacts(artefact).build());
            return artefact;
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot be committed (" + e.getMessage() + ")", e);
        } finally {
            lock.unlock();
        }
    }

    private static RunManifest.Builder withoutArtefact(RunManifest.Builder builder, String name) {
        List<Artefact> kept = builder.getArtefactsList().stream()
                .filter(a -> !a.getName().equals(name))
                .toList();
        return builder.clearArtefacts().addAllArtefacts(kept);
    }

    private Path resolveRelative(String relativePath) {
        Path relative = Path.of(relativePath).normalize();
        boolean inside = !relativePath.isEmpty()
                && !relative.isAbsolute()
                && !relative.startsWith("..")
                && relative.toString().equals(relativePath)
                && !AtomicFiles.isTempFile(relative)
                && !RESERVED.contains(relative.toString());
        if (!inside) {
            throw new IllegalArgumentException("artefact path '" + relativePath
                    + "' must be a normalised path inside the run directory, not a temporary or reserved file");
        }
        return dir.resolve(relative);
    }

    /** Whether the manifest lists an artefact {@code name} (its file is not checked). */
    public boolean hasArtefact(String name) {
        return find(name).isPresent();
    }

    private Optional<Artefact> find(String name) {
        return manifest.getArtefactsList().stream()
                .filter(a -> a.getName().equals(name))
                .findFirst();
    }

    /**
     * The file of artefact {@code name} after checking that its size and SHA-256 match the manifest; otherwise a
     * {@link CorruptArtefactException} naming the file: "missing", "truncated: 1234 of 5678 bytes", "5700 bytes,
     * expected 5678" or "checksum mismatch (expected …, found …)". An unknown name is an IllegalArgumentException.
     */
    public Path verifiedArtefact(String name) {
        return ArtefactChecks.verifiedFile(dir, listed(name));
    }

    /** The verified content of artefact {@code name}, read once and checked in memory (for small artefacts). */
    public byte[] verifiedBytes(String name) {
        return ArtefactChecks.verifiedBytes(dir, listed(name));
    }

    private Artefact listed(String name) {
        return find(name)
                .orElseThrow(() -> new IllegalArgumentException(
                        dir + ": no artefact named '" + name + "' in manifest.pb (committed: "
                                + manifest.getArtefactsList().stream()
                                        .map(Artefact::getName)
                                        .toList() + ")"));
    }

    /** Records {@code layer} as completed (kept ascending, without duplicates). */
    public void markLayerCompleted(int layer) {
        if (layer < 0) {
            throw new IllegalArgumentException("layer must be ≥ 0, got " + layer);
        }
        updateManifest(builder -> {
            TreeSet<Integer> layers = new TreeSet<>(builder.getCompletedLayersList());
            layers.add(layer);
            builder.clearCompletedLayers().addAllCompletedLayers(layers);
        });
    }

    /** Whether {@link #markLayerCompleted} recorded {@code layer}. */
    public boolean isLayerCompleted(int layer) {
        return manifest.getCompletedLayersList().contains(layer);
    }

    /** Records the job's state in the manifest. */
    public void setState(JobState state) {
        updateManifest(builder -> builder.setState(state));
    }

    /**
     * Applies {@code change} to the manifest (e.g. policy step and random state at a checkpoint) and writes it
     * atomically. The job id and spec checksum cannot be changed.
     */
    public void updateManifest(Consumer<RunManifest.Builder> change) {
        lock.lock();
        try {
            RunManifest.Builder builder = manifest.toBuilder();
            change.accept(builder);
            if (!builder.getJobId().equals(manifest.getJobId())
                    || !builder.getSpecSha256().equals(manifest.getSpecSha256())) {
                throw new IllegalArgumentException(dir + ": a manifest update may not change job_id or spec_sha256");
            }
            writeManifest(builder.build());
        } finally {
            lock.unlock();
        }
    }

    private void writeManifest(RunManifest next) {
        AtomicFiles.write(dir.resolve(MANIFEST_FILE), next.toByteArray());
        manifest = next;
    }

    /** Commits the run's report as {@code report.pb}. */
    public Artefact commitReport(RunReport report) {
        byte[] bytes = report.toByteArray();
        return commitArtefact(
                REPORT_NAME, REPORT_FILE, channel -> AtomicFiles.writeFully(channel, ByteBuffer.wrap(bytes)));
    }

    /** The committed report, verified; empty when none was committed. */
    public Optional<RunReport> report() {
        if (!hasArtefact(REPORT_NAME)) {
            return Optional.empty();
        }
        byte[] bytes = verifiedBytes(REPORT_NAME);
        try {
            return Optional.of(RunReport.parseFrom(bytes));
        } catch (InvalidProtocolBufferException e) {
            throw new CorruptArtefactException(dir.resolve(REPORT_FILE), "cannot be parsed as a RunReport");
        }
    }

    @Override
    public void close() {
        try {
            events.close();
        } finally {
            owner.close();
        }
    }

    @Override
    public String toString() {
        return "RunDirectory[" + dir + ", job " + jobId() + "]";
    }
}
