package dev.espalier.engine.job;

import dev.espalier.protocol.v1.RunReport;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * The wall time a job spends in each of its phases, and the process's peak memory, for the run report. Phases follow
 * one another: starting one ends the last. Times are this process's: a resumed run reports what it did itself.
 */
final class PhaseClock {
    /** A job's phases, as the run report splits its time. */
    enum Phase {
        CALIBRATION,
        PRUNE,
        EVAL
    }

    private static final Path PROC_STATUS = Path.of("/proc/self/status");

    private final long started = System.nanoTime();
    private final Map<Phase, Long> nanos = new EnumMap<>(Phase.class);
    private Phase current;
    private long since;
    private long stopped = -1;

    void start(Phase phase) {
        long now = System.nanoTime();
        endCurrent(now);
        current = phase;
        since = now;
    }

    void stop() {
        stopped = System.nanoTime();
        endCurrent(stopped);
        current = null;
    }

    /** Sets the report's seconds per phase, total seconds and peak memory. */
    void recordInto(RunReport.Builder report) {
        long end = stopped >= 0 ? stopped : System.nanoTime();
        report.setCalibrationSeconds(seconds(nanos.getOrDefault(Phase.CALIBRATION, 0L)))
                .setPruneSeconds(seconds(nanos.getOrDefault(Phase.PRUNE, 0L)))
                .setEvalSeconds(seconds(nanos.getOrDefault(Phase.EVAL, 0L)))
                .setTotalSeconds(seconds(end - started))
                .setPeakHeapBytes(peakHeapBytes())
                .setPeakRssBytes(peakRssBytes());
    }

    private void endCurrent(long now) {
        if (current != null) {
            nanos.merge(current, now - since, Long::sum);
        }
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** The sum of the heap pools' peak usage since the JVM started (tensors live off-heap: see the peak RSS). */
    static long peakHeapBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** The process's peak resident set size (Linux's VmHWM), or 0 where /proc does not tell. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(PROC_STATUS, StandardCharsets.UTF_8)) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
