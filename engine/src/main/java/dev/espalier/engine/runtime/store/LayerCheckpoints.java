package dev.espalier.engine.runtime.store;

import dev.espalier.engine.io.AtomicFiles;
import java.nio.file.Path;

/**
 * Where one job's layer checkpoints are read and written, as its device workers see them: the job's own
 * {@link RunDirectory}, or, for the stages a node hosts for a job running on another node, {@link StageCheckpoints}
 * (files staged in the shared run folder that the job's node then adopts).
 */
public interface LayerCheckpoints {

    /** The checkpoint file of completed layer {@code layer}, after its size and SHA-256 are checked. */
    Path verifiedLayer(int layer);

    /**
     * Writes layer {@code layer}'s checkpoint atomically (temporary file, fsync, rename). Null when the layer is now
     * committed and completed; otherwise the staged file, which counts only once the job's node has adopted it
     * ({@link #adopt}).
     */
    StagedLayer commit(int layer, AtomicFiles.ChannelWriter writer);

    /** Commits a layer another node staged: checks its size and SHA-256, moves it in place, marks the layer completed. */
    void adopt(StagedLayer staged);

    /** Where activations beyond the host's memory budget go. */
    Path spillDir();

    /** Where activations bound for a stage on another node are written (the run folder every node shares). */
    Path handoffDir();
}
