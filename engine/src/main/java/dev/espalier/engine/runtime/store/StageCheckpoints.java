package dev.espalier.engine.runtime.store;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.protocol.v1.Artefact;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.RunManifest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * The layer checkpoints of stages a node hosts for a job whose run directory another node holds open: a read-only
 * view of the run's manifest as it was when the stages were opened (which layers are completed, and their checksums),
 * and new checkpoints staged under {@code staged/} for the job's node to {@link RunDirectory#adopt adopt}. The
 * manifest itself is only ever written by the job's node. Spilled activations get a folder of their own, since
 * activation ids are unique per process, not per cluster.
 */
public final class StageCheckpoints implements LayerCheckpoints, AutoCloseable {
    private final Path dir;
    private final RunManifest manifest;
    private final JobSpec spec;
    private final Path spill;

    private StageCheckpoints(Path dir, RunManifest manifest, JobSpec spec, Path spill) {
        this.dir = dir;
        this.manifest = manifest;
        this.spec = spec;
        this.spill = spill;
    }

    /** Reads run directory {@code dir}'s manifest and spec (checked against the manifest's checksum) without locking it. */
    public static StageCheckpoints open(Path dir) {
        RunManifest manifest = RunDirectory.readManifest(dir);
        JobSpec spec = RunDirectory.readSpec(dir, manifest);
        Path spill = dir.resolve(RunDirectory.STAGED_DIR).resolve("spill-" + UUID.randomUUID());
        try {
            AtomicFiles.ensureDirectory(spill);
        } catch (IOException e) {
            throw new UncheckedIOException(spill + ": cannot be created (" + e.getMessage() + ")", e);
        }
        return new StageCheckpoints(dir, manifest, spec, spill);
    }

    public JobSpec spec() {
        return spec;
    }

    public String jobId() {
        return manifest.getJobId();
    }

    /** Whether the manifest read at {@link #open} lists layer {@code layer} as completed. */
    public boolean isLayerCompleted(int layer) {
        return manifest.getCompletedLayersList().contains(layer);
    }

    @Override
    public Path verifiedLayer(int layer) {
        String name = RunDirectory.layerName(layer);
        Artefact artefact = manifest.getArtefactsList().stream()
                .filter(a -> a.getName().equals(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(dir + ": no checkpoint of layer " + layer
                        + " in manifest.pb as read when this node's stages opened"));
        return ArtefactChecks.verifiedFile(dir, artefact);
    }

    /** Writes the checkpoint as {@code staged/layer-NN.safetensors} and says where, with its size and SHA-256. */
    @Override
    public StagedLayer commit(int layer, AtomicFiles.ChannelWriter writer) {
        String relativePath = RunDirectory.STAGED_DIR + "/" + RunDirectory.layerName(layer) + ".safetensors";
        Path target = dir.resolve(relativePath);
        try {
            AtomicFiles.ensureDirectory(target.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot be written (" + e.getMessage() + ")", e);
        }
        return AtomicFiles.write(
                target, writer, temp -> new StagedLayer(layer, relativePath, Checksums.sha256(temp), Files.size(temp)));
    }

    @Override
    public void adopt(StagedLayer staged) {
        throw new UnsupportedOperationException(
                dir + ": only the job's own node commits layers into its manifest, not a node hosting its stages");
    }

    @Override
    public Path spillDir() {
        return spill;
    }

    @Override
    public Path handoffDir() {
        return dir.resolve(RunDirectory.HANDOFF_DIR);
    }

    /** Removes this view's spill folder (its activations are released by then). */
    @Override
    public void close() {
        try {
            AtomicFiles.deleteRecursively(spill);
        } catch (IOException e) {
            throw new UncheckedIOException(spill + ": cannot be removed (" + e.getMessage() + ")", e);
        }
    }
}
