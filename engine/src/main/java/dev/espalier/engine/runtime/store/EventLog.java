package dev.espalier.engine.runtime.store;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.protocol.v1.JobEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A job's event log: length-delimited {@link JobEvent} protobufs (varint length, then the message), sequences dense
 * from 1, each append forced to disk before it returns. On open, the longest valid prefix is kept: a torn or garbled
 * tail (short record, unparsable bytes, wrong job id, sequence out of order) is truncated and counted in
 * {@link #repairedBytes()}. Appends are serialised; readers take snapshots and may wait for new events.
 */
public final class EventLog implements AutoCloseable {
    private final Path file;
    private final String jobId;
    private final List<JobEvent> events;
    private final long repairedBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition appended = lock.newCondition();
    private FileChannel channel; // opened on first append
    private long end; // bytes of valid records

    private EventLog(Path file, String jobId, List<JobEvent> events, long end, long repairedBytes) {
        this.file = file;
        this.jobId = jobId;
        this.events = events;
        this.end = end;
        this.repairedBytes = repairedBytes;
    }

    /** Reads {@code file} (creating it when missing), truncating an invalid tail durably. */
    public static EventLog open(Path file, String jobId) {
        try {
            if (!Files.exists(file)) {
                AtomicFiles.write(file, new byte[0]);
            }
            byte[] bytes = Files.readAllBytes(file);
            List<JobEvent> events = new ArrayList<>();
            long validEnd = parseValidPrefix(bytes, jobId, events);
            if (validEnd < bytes.length) {
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    channel.truncate(validEnd);
                    channel.force(true);
                }
            }
            return new EventLog(file, jobId, events, validEnd, bytes.length - validEnd);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    /**
     * The whole events of {@code file} from {@code fromSequence} on, read without opening the log: what a node of a
     * cluster sees of a job another node is writing. A record still being written is left for the next read; nothing
     * is repaired. Empty when the file does not exist.
     */
    public static List<JobEvent> readCommitted(Path file, String jobId, long fromSequence) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            List<JobEvent> events = new ArrayList<>();
            parseValidPrefix(bytes, jobId, events);
            int from = (int) Math.min(events.size(), Math.max(0, fromSequence - 1));
            return List.copyOf(events.subList(from, events.size()));
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    private static long parseValidPrefix(byte[] bytes, String jobId, List<JobEvent> out) {
        int offset = 0;
        while (offset < bytes.length) {
            try {
                CodedInputStream in = CodedInputStream.newInstance(bytes, offset, bytes.length - offset);
                int length = in.readRawVarint32();
                int header = in.getTotalBytesRead();
                if (length < 0 || length > bytes.length - offset - header) {
                    break; // torn: the record's bytes did not all reach the disk
                }
                JobEvent event = JobEvent.parseFrom(in.readRawBytes(length));
                if (event.getSequence() != out.size() + 1L || !event.getJobId().equals(jobId)) {
                    break; // garbage that happens to parse (e.g. zero-filled blocks)
                }
                out.add(event);
                offset += header + length;
            } catch (IOException e) {
                break; // truncated varint or unparsable message
            }
        }
        return offset;
    }

    /**
     * Appends {@code event} with this log's job id, the next sequence number and, when unset, the current time;
     * returns it once it is on disk.
     */
    public JobEvent append(JobEvent.Builder event) {
        lock.lock();
        try {
            JobEvent built = event.setJobId(jobId)
                    .setSequence(events.size() + 1L)
                    .setTimeMs(event.getTimeMs() != 0 ? event.getTimeMs() : System.currentTimeMillis())
                    .build();
            byte[] body = built.toByteArray();
            ByteBuffer record =
                    ByteBuffer.allocate(CodedOutputStream.computeUInt32SizeNoTag(body.length) + body.length);
            CodedOutputStream header = CodedOutputStream.newInstance(record);
            header.writeUInt32NoTag(body.length);
            header.flush();
            record.put(body).flip();
            writeRecord(record);
            events.add(built);
            appended.signalAll();
            return built;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot append event (" + e.getMessage() + ")", e);
        } finally {
            lock.unlock();
        }
    }

    private void writeRecord(ByteBuffer record) throws IOException {
        if (channel == null) {
            channel = FileChannel.open(file, StandardOpenOption.WRITE);
        }
        try {
            channel.position(end);
            AtomicFiles.writeFully(channel, record);
            channel.force(true);
            end = channel.position();
        } catch (IOException e) {
            channel.truncate(end); // keep the log a sequence of whole records
            throw e;
        }
    }

    /** Sequence of the last event; 0 when there is none. */
    public long lastSequence() {
        lock.lock();
        try {
            return events.size();
        } finally {
            lock.unlock();
        }
    }

    /** The events with sequence ≥ {@code fromSequence} (1 or less: all), oldest first. */
    public List<JobEvent> eventsFrom(long fromSequence) {
        lock.lock();
        try {
            int from = (int) Math.min(events.size(), Math.max(0, fromSequence - 1));
            return List.copyOf(events.subList(from, events.size()));
        } finally {
            lock.unlock();
        }
    }

    /** Waits until an event after {@code sequence} exists or the timeout passes; returns whether one exists. */
    public boolean awaitAfter(long sequence, long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (events.size() <= sequence) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = appended.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes of an invalid tail that {@link #open} truncated; 0 when the log was intact. */
    public long repairedBytes() {
        return repairedBytes;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (channel != null) {
                channel.close();
                channel = null;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot be closed (" + e.getMessage() + ")", e);
        } finally {
            lock.unlock();
        }
    }
}
