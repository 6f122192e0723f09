package dev.espalier.engine.io;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test hook for kill-and-resume tests: when the system property {@code espalier.crashAt} is {@code name} or
 * {@code name#k}, the k-th time (default first) the job reaches point {@code name} the JVM is killed with SIGKILL —
 * no shutdown hooks, no flushing, exactly like a power cut of the process. Unset, it does nothing.
 */
public final class CrashPoints {
    private static final ConcurrentHashMap<String, AtomicInteger> COUNTS = new ConcurrentHashMap<>();

    private CrashPoints() {}

    public static void reach(String point) {
        String spec = System.getProperty("espalier.crashAt");
        if (spec == null || spec.isEmpty()) {
            return;
        }
        String[] parts = spec.split("#");
        if (!parts[0].equals(point)) {
            return;
        }
        int wanted = parts.length > 1 ? Integer.parseInt(parts[1]) : 1;
        if (COUNTS.computeIfAbsent(point, p -> new AtomicInteger()).incrementAndGet() == wanted) {
            killSelf();
        }
    }

    private static void killSelf() {
        try {
            new ProcessBuilder("kill", "-9", Long.toString(ProcessHandle.current().pid())).start().waitFor();
            Thread.sleep(10_000);
        } catch (Exception e) {
            // fall through to halt
        }
        Runtime.getRuntime().halt(137);
    }
}
