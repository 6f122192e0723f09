package dev.espalier.engine.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.io.AtomicFiles;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkpoints of stages hosted for a job on another node: read from the manifest as the job's node left it,
 * written only as staged files, and committed by the job's node ({@link RunDirectory#adopt}) after their checksum.
 */
class StageCheckpointsTest {

    @TempDir
    Path tmp;

    private static AtomicFiles.ChannelWriter bytes(byte[] content) {
        return channel -> AtomicFiles.writeFully(channel, ByteBuffer.wrap(content));
    }

    @Test
    void aHostedStageReadsCommittedLayersAndStagesItsOwnForTheJobsNodeToAdopt() throws Exception {
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.create(dir, "job-a", RunDirectoryTest.spec("/m/a"))) {
            assertNull(run.commit(0, bytes(new byte[] {1, 2, 3})), "the job's own run commits in place");
            assertTrue(run.isLayerCompleted(0));

            StagedLayer staged;
            try (StageCheckpoints hosted = StageCheckpoints.open(dir)) {
                assertEquals("job-a", hosted.jobId());
                assertEquals(RunDirectoryTest.spec("/m/a"), hosted.spec());
                assertTrue(hosted.isLayerCompleted(0));
                assertFalse(hosted.isLayerCompleted(1));
                assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(hosted.verifiedLayer(0)));
                assertThrows(IllegalArgumentException.class, () -> hosted.verifiedLayer(1));

                staged = hosted.commit(1, bytes(new byte[] {4, 5}));
                assertEquals(1, staged.layer());
                assertEquals("staged/layer-01.safetensors", staged.relativePath());
                assertEquals(2, staged.sizeBytes());
                assertFalse(run.isLayerCompleted(1), "staging does not touch the manifest");
                assertThrows(UnsupportedOperationException.class, () -> hosted.adopt(null));
                assertTrue(Files.isDirectory(hosted.spillDir()));
                assertEquals(dir.resolve("handoff"), hosted.handoffDir());
            }

            run.adopt(staged);
            assertTrue(run.isLayerCompleted(1));
            assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(run.verifiedLayer(1)));
            assertFalse(Files.exists(dir.resolve(staged.relativePath())), "moved, not copied");
        }
    }

    @Test
    void aStagedFileThatDoesNotMatchWhatItsNodeReportedIsNeverAdopted() throws Exception {
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.create(dir, "job-a", RunDirectoryTest.spec("/m/a"))) {
            StagedLayer staged;
            try (StageCheckpoints hosted = StageCheckpoints.open(dir)) {
                staged = hosted.commit(2, bytes(new byte[] {7, 7, 7}));
            }
            Files.write(dir.resolve(staged.relativePath()), new byte[] {7, 7, 8}); // same size, other bytes
            CorruptArtefactException e = assertThrows(CorruptArtefactException.class, () -> run.adopt(staged));
            assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
            assertFalse(run.isLayerCompleted(2));
            assertFalse(run.hasArtefact(RunDirectory.layerName(2)));
        }
    }
}
