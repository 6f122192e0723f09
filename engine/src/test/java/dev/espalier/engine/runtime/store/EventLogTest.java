package dev.espalier.engine.runtime.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class EventLogTest {

    @TempDir
    Path dir;

    private static JobEvent.Builder progress(long done) {
        return JobEvent.newBuilder()
                .setTimeMs(1000 + done)
                .setProgress(
                        Progress.newBuilder().setStage("prune").setDone(done).setTotal(10));
    }

    @Test
    void appendsDenseSequencesThatSurviveReopening() {
        Path file = dir.resolve("events.log");
        try (EventLog log = EventLog.open(file, "job-1")) {
            for (int i = 1; i <= 3; i++) {
                JobEvent event = log.append(progress(i));
                assertEquals(i, event.getSequence());
                assertEquals("job-1", event.getJobId());
                assertEquals(1000 + i, event.getTimeMs());
            }
        }
        try (EventLog log = EventLog.open(file, "job-1")) {
            assertEquals(0, log.repairedBytes());
            assertEquals(
                    List.of(2L, 3L),
                    log.eventsFrom(2).stream().map(JobEvent::getSequence).toList());
            assertEquals(4, log.append(progress(4)).getSequence());
        }
    }

    @Test
    void tornFinalRecordIsTruncatedOnOpen() throws IOException {
        Path file = dir.resolve("events.log");
        try (EventLog log = EventLog.open(file, "job-1")) {
            log.append(progress(1));
            log.append(progress(2));
        }
        long intact = Files.size(file);
        byte[] third = JobEvent.newBuilder(progress(3).build())
                .setJobId("job-1")
                .setSequence(3)
                .build()
                .toByteArray();
        byte[] torn = new byte[1 + third.length / 2];
        torn[0] = (byte) third.length; // the length prefix made it to disk, half of the record did not
        System.arraycopy(third, 0, torn, 1, torn.length - 1);
        Files.write(file, torn, StandardOpenOption.APPEND);

        try (EventLog log = EventLog.open(file, "job-1")) {
            assertEquals(torn.length, log.repairedBytes());
            assertEquals(intact, Files.size(file));
            assertEquals(2, log.lastSequence());
            assertEquals(3, log.append(progress(3)).getSequence());
        }
        try (EventLog log = EventLog.open(file, "job-1")) {
            assertEquals(0, log.repairedBytes());
            assertEquals(3, log.lastSequence());
        }
    }

    /** What another node of a cluster reads while this one is in the middle of writing a record. */
    @Test
    void readCommittedSkipsARecordStillBeingWrittenAndChangesNothing() throws IOException {
        Path file = dir.resolve("events.log");
        assertEquals(List.of(), EventLog.readCommitted(file, "job-1", 1), "no file yet: no events");
        try (EventLog log = EventLog.open(file, "job-1")) {
            log.append(progress(1));
            log.append(progress(2));
        }
        byte[] third = JobEvent.newBuilder(progress(3).build())
                .setJobId("job-1")
                .setSequence(3)
                .build()
                .toByteArray();
        byte[] half = new byte[1 + third.length / 2];
        half[0] = (byte) third.length;
        System.arraycopy(third, 0, half, 1, half.length - 1);
        Files.write(file, half, StandardOpenOption.APPEND);
        long size = Files.size(file);

        assertEquals(
                List.of(1L, 2L),
                EventLog.readCommitted(file, "job-1", 1).stream()
                        .map(JobEvent::getSequence)
                        .toList());
        assertEquals(
                List.of(2L),
                EventLog.readCommitted(file, "job-1", 2).stream()
                        .map(JobEvent::getSequence)
                        .toList());
        assertEquals(List.of(), EventLog.readCommitted(file, "job-1", 3));
        assertEquals(size, Files.size(file), "a reader repairs nothing: the writer may finish the record");

        Files.write(
                file, java.util.Arrays.copyOfRange(third, half.length - 1, third.length), StandardOpenOption.APPEND);
        assertEquals(
                List.of(3L),
                EventLog.readCommitted(file, "job-1", 3).stream()
                        .map(JobEvent::getSequence)
                        .toList());
    }

    @Test
    void zeroFilledTailAndForeignRecordsAreNotTakenForEvents() throws IOException {
        Path file = dir.resolve("events.log");
        try (EventLog log = EventLog.open(file, "job-1")) {
            log.append(progress(1));
        }
        long intact = Files.size(file);
        Files.write(file, new byte[4096], StandardOpenOption.APPEND); // a crash after the file grew, before data landed
        try (EventLog log = EventLog.open(file, "job-1")) {
            assertEquals(4096, log.repairedBytes());
            assertEquals(1, log.lastSequence());
        }
        assertEquals(intact, Files.size(file));
        try (EventLog log = EventLog.open(file, "job-2")) {
            assertEquals(intact, log.repairedBytes()); // the record names another job
            assertEquals(0, log.lastSequence());
        }
    }

    @Test
    void awaitAfterWakesWhenAnEventIsAppended() throws Exception {
        try (EventLog log = EventLog.open(dir.resolve("events.log"), "job-1")) {
            assertFalse(log.awaitAfter(0, 10, TimeUnit.MILLISECONDS));
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                log.append(progress(1));
            });
            assertTrue(log.awaitAfter(0, 10, TimeUnit.SECONDS));
            writer.join();
            assertEquals(1, log.eventsFrom(0).size());
        }
    }
}
