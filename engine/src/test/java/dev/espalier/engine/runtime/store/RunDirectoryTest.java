package dev.espalier.engine.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.io.PathLock;
import dev.espalier.protocol.v1.Artefact;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunDirectoryTest {

    @TempDir
    Path tmp;

    static JobSpec spec(String model) {
        return JobSpec.newBuilder()
                .setModel(model)
                .setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setSeed(7)
                .setOutput("/out")
                .setRuntime(RuntimeSettings.newBuilder().setWindow(4))
                .build();
    }

    private static AtomicFiles.ChannelWriter bytes(byte[] content) {
        return channel -> AtomicFiles.writeFully(channel, ByteBuffer.wrap(content));
    }

    private static String sha256(byte[] content) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    }

    @Test
    void createdRunReopensWithItsSpecManifestAndEvents() {
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.create(dir, "job-a", spec("/m/a"))) {
            assertEquals("job-a", run.jobId());
            assertEquals(7, run.manifest().getSeed());
            assertEquals(JobState.JOB_STATE_QUEUED, run.manifest().getState());
        }
        assertTrue(RunDirectory.isRunDirectory(dir));
        try (RunDirectory run = RunDirectory.open(dir, spec("/m/a"))) {
            assertEquals(spec("/m/a"), run.spec());
            assertEquals("job-a", run.manifest().getJobId());
            assertEquals(List.of(), run.repairs());
        }
    }

    @Test
    void createRefusesAFolderThatHoldsSomethingElse() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("photos"));
        Files.writeString(dir.resolve("cat.jpg"), "meow");
        RunDirectoryConflictException e = assertThrows(
                RunDirectoryConflictException.class, () -> RunDirectory.create(dir, "job-a", spec("/m/a")));
        assertEquals(
                dir + " is not empty and is not a run directory (it holds cat.jpg); choose a new or empty folder",
                e.getMessage());
        assertEquals(
                List.of("cat.jpg"),
                Files.list(dir).map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void createRefusesAnExistingRun() {
        Path dir = tmp.resolve("run");
        RunDirectory.create(dir, "job-a", spec("/m/a")).close();
        RunDirectoryConflictException e = assertThrows(
                RunDirectoryConflictException.class, () -> RunDirectory.create(dir, "job-b", spec("/m/b")));
        assertEquals(
                dir + " already holds the run of job job-a; open it to resume, or choose a new folder", e.getMessage());
    }

    @Test
    void openRefusesARunThatBelongsToAnotherJob() {
        Path dir = tmp.resolve("run");
        RunDirectory.create(dir, "job-a", spec("/m/a")).close();
        RunDirectoryConflictException e =
                assertThrows(RunDirectoryConflictException.class, () -> RunDirectory.open(dir, spec("/m/b")));
        assertEquals(dir + " belongs to job job-a (spec differs: model /m/a vs /m/b)", e.getMessage());
        JobSpec otherOptions = spec("/m/a").toBuilder()
                .setRuntime(RuntimeSettings.newBuilder().setWindow(8))
                .build();
        e = assertThrows(RunDirectoryConflictException.class, () -> RunDirectory.open(dir, otherOptions));
        assertEquals(dir + " belongs to job job-a (spec differs: runtime window: 4 vs window: 8)", e.getMessage());
    }

    @Test
    void openOrCreateResumesTheSameSpecAndRefusesAnother() {
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.openOrCreate(dir, "job-a", spec("/m/a"))) {
            run.markLayerCompleted(0);
        }
        try (RunDirectory run = RunDirectory.openOrCreate(dir, "job-b", spec("/m/a"))) {
            assertEquals("job-a", run.jobId());
            assertEquals(List.of(0), run.manifest().getCompletedLayersList());
        }
        assertThrows(RunDirectoryConflictException.class, () -> RunDirectory.openOrCreate(dir, "job-b", spec("/m/b")));
    }

    @Test
    void anInterruptedCreateIsNotARunAndCanBeCreatedAgain() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("run"));
        Files.write(dir.resolve(RunDirectory.SPEC_FILE), spec("/m/a").toByteArray());
        Files.write(dir.resolve(AtomicFiles.tempName(RunDirectory.MANIFEST_FILE)), new byte[] {1, 2});
        RunDirectoryConflictException e =
                assertThrows(RunDirectoryConflictException.class, () -> RunDirectory.open(dir));
        assertTrue(e.getMessage().startsWith(dir + " is an unfinished run directory"), e.getMessage());
        try (RunDirectory run = RunDirectory.create(dir, "job-a", spec("/m/a"))) {
            assertEquals("job-a", run.jobId());
        }
        assertEquals(
                List.of("events.log", "lock", "manifest.pb", "spec.pb"),
                Files.list(dir).map(p -> p.getFileName().toString()).sorted().toList());
    }

    @Test
    void aRunDirectoryIsOpenedByOneJobAtATime() {
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.create(dir, "job-a", spec("/m/a"))) {
            PathLock.PathInUseException e =
                    assertThrows(PathLock.PathInUseException.class, () -> RunDirectory.open(dir));
            assertTrue(e.getMessage().startsWith("run directory " + run.dir() + " is in use"), e.getMessage());
        }
        try (RunDirectory again = RunDirectory.open(dir)) {
            assertEquals("job-a", again.jobId());
        }
    }

    @Test
    void tamperedSpecIsReportedNotUsed() throws IOException {
        Path dir = tmp.resolve("run");
        RunDirectory.create(dir, "job-a", spec("/m/a")).close();
        Files.write(dir.resolve(RunDirectory.SPEC_FILE), spec("/m/b").toByteArray());
        CorruptArtefactException e = assertThrows(CorruptArtefactException.class, () -> RunDirectory.open(dir));
        assertTrue(
                e.getMessage().startsWith(dir.resolve("spec.pb") + ": checksum mismatch (expected "), e.getMessage());
    }

    @Test
    void committedArtefactIsRecordedWithItsChecksumAndVerifies() throws Exception {
        byte[] content = "layer three weights".getBytes();
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.create(dir, "job-a", spec("/m/a"))) {
            Artefact artefact = run.commitLayer(3, bytes(content));
            assertEquals("layer-03", artefact.getName());
            assertEquals("layers/layer-03.safetensors", artefact.getRelativePath());
            assertEquals(sha256(content), artefact.getSha256());
            assertEquals(content.length, artefact.getSizeBytes());
        }
        try (RunDirectory run = RunDirectory.open(dir, spec("/m/a"))) {
            assertEquals(List.of(artefactOf(content)), run.manifest().getArtefactsList());
            Path file = run.verifiedLayer(3);
            assertEquals(dir.resolve("layers/layer-03.safetensors"), file);
            assertArrayEquals(content, Files.readAllBytes(file));
        }
    }

    private static Artefact artefactOf(byte[] content) throws Exception {
        return Artefact.newBuilder()
                .setName("layer-03")
                .setRelativePath("layers/layer-03.safetensors")
                .setSha256(sha256(content))
                .setSizeBytes(content.length)
                .build();
    }

    @Test
    void flippedByteIsDetectedByItsChecksum() throws Exception {
        byte[] content = "0123456789".getBytes();
        try (RunDirectory run = RunDirectory.create(tmp.resolve("run"), "job-a", spec("/m/a"))) {
            Path file = run.dir().resolve(run.commitLayer(3, bytes(content)).getRelativePath());
            byte[] flipped = content.clone();
            flipped[4] ^= 0x01;
            Files.write(file, flipped);
            CorruptArtefactException e = assertThrows(CorruptArtefactException.class, () -> run.verifiedLayer(3));
            assertEquals(
                    file + ": checksum mismatch (expected " + sha256(content) + ", found " + sha256(flipped) + ")",
                    e.getMessage());
            assertEquals(file, e.file());
        }
    }

    @Test
    void truncatedAndMissingArtefactsAreDetected() throws IOException {
        try (RunDirectory run = RunDirectory.create(tmp.resolve("run"), "job-a", spec("/m/a"))) {
            Path file = run.dir()
                    .resolve(run.commitLayer(3, bytes("0123456789".getBytes())).getRelativePath());
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(3);
            }
            CorruptArtefactException e = assertThrows(CorruptArtefactException.class, () -> run.verifiedLayer(3));
            assertEquals(file + ": truncated: 3 of 10 bytes", e.getMessage());
            Files.delete(file);
            e = assertThrows(CorruptArtefactException.class, () -> run.verifiedLayer(3));
            assertEquals(file + ": missing (expected 10 bytes)", e.getMessage());
            IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> run.verifiedLayer(4));
            assertEquals(
                    run.dir() + ": no artefact named 'layer-04' in manifest.pb (committed: [layer-03])",
                    unknown.getMessage());
        }
    }

    @Test
    void crashDuringACommitLeavesTheArtefactUncommittedAndTheTempFileIsRemovedOnOpen() throws IOException {
        Path dir = tmp.resolve("run");
        try (RunDirectory run = RunDirectory.create(dir, "job-a", spec("/m/a"))) {
            run.commitLayer(0, bytes(new byte[] {1}));
            assertThrows(
                    UncheckedIOException.class,
                    () -> run.commitLayer(1, channel -> {
                        channel.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
                        throw new IOException("device lost");
                    }));
            assertFalse(run.hasArtefact("layer-01"));
        }
        // a kill -9 in the middle of a write leaves a partial temporary file behind
        Files.write(dir.resolve("layers").resolve(AtomicFiles.tempName("layer-01.safetensors")), new byte[] {9, 9});
        try (RunDirectory run = RunDirectory.open(dir, spec("/m/a"))) {
            assertEquals(List.of("removed 1 temporary file(s) left by an interrupted write"), run.repairs());
            assertEquals(
                    List.of("layer-00"),
                    run.manifest().getArtefactsList().stream()
                            .map(Artefact::getName)
                            .toList());
            assertEquals(
                    List.of("layer-00.safetensors"),
                    Files.list(dir.resolve("layers"))
                            .map(p -> p.getFileName().toString())
                            .toList());
            run.verifiedLayer(0);
        }
    }

    @Test
    void recommittingANameReplacesItsEntry() throws Exception {
        try (RunDirectory run = RunDirectory.create(tmp.resolve("run"), "job-a", spec("/m/a"))) {
            run.commitArtefact("policy", "learner/policy.bin", bytes(new byte[] {1, 2}));
            run.commitArtefact("policy", "learner/policy.bin", bytes(new byte[] {3, 4, 5}));
            assertEquals(1, run.manifest().getArtefactsCount());
            assertEquals(
                    sha256(new byte[] {3, 4, 5}), run.manifest().getArtefacts(0).getSha256());
            assertArrayEquals(new byte[] {3, 4, 5}, run.verifiedBytes("policy"));
        }
    }

    @Test
    void artefactPathsMustStayInsideTheRunAndAvoidItsOwnFiles() {
        try (RunDirectory run = RunDirectory.create(tmp.resolve("run"), "job-a", spec("/m/a"))) {
            for (String path : List.of("../escape.bin", "/abs.bin", "manifest.pb", "events.log", "a/../b.bin", "")) {
                assertThrows(
                        IllegalArgumentException.class, () -> run.commitArtefact("x", path, bytes(new byte[1])), path);
            }
            assertThrows(IllegalArgumentException.class, () -> run.commitArtefact("../x", "x.bin", bytes(new byte[1])));
            assertEquals(0, run.manifest().getArtefactsCount());
        }
    }

    @Test
    void manifestKeepsCompletedLayersPolicyStateAndReport() {
        Path dir = tmp.resolve("run");
        RunReport report = RunReport.newBuilder()
                .setJobId("job-a")
                .setAchievedSparsity(0.5)
                .build();
        try (RunDirectory run = RunDirectory.create(dir, "job-a", spec("/m/a"))) {
            run.markLayerCompleted(2);
            run.markLayerCompleted(0);
            run.markLayerCompleted(2);
            run.updateManifest(
                    m -> m.setPolicyStep(12).setRngState(com.google.protobuf.ByteString.copyFromUtf8("rng")));
            run.setState(JobState.JOB_STATE_RUNNING);
            run.commitReport(report);
            assertThrows(IllegalArgumentException.class, () -> run.updateManifest(m -> m.setJobId("job-b")));
        }
        try (RunDirectory run = RunDirectory.open(dir)) {
            assertEquals(List.of(0, 2), run.manifest().getCompletedLayersList());
            assertTrue(run.isLayerCompleted(2));
            assertFalse(run.isLayerCompleted(1));
            assertEquals(12, run.manifest().getPolicyStep());
            assertEquals("rng", run.manifest().getRngState().toStringUtf8());
            assertEquals(JobState.JOB_STATE_RUNNING, run.manifest().getState());
            assertEquals(report, run.report().orElseThrow());
            assertEquals("job-a", run.manifest().getJobId());
        }
    }
}
