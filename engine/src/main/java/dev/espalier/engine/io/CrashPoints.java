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

    /**
     * Marks point {@code point}: kills the JVM there when {@code espalier.crashAt} names it, and sends this process
     * {@code espalier.signals} SIGTERMs (default 1) there when {@code espalier.signalAt} names it (the run then stops as
     * a user's Ctrl-C would stop it).
     */
    public static void reach(String point) {
        String crash = System.getProperty("espalier.crashAt");
        String signal = System.getProperty("espalier.signalAt");
        if ((crash == null || crash.isEmpty()) && (signal == null || signal.isEmpty())) {
            return;
        }
        int reached = COUNTS.computeIfAbsent(point, p -> new AtomicInteger()).incrementAndGet();
        if (names(crash, point, reached)) {
            killSelf();
        }
        if (names(signal, point, reached)) {
            terminateSelf(Integer.getInteger("espalier.signals", 1));
        }
    }

    private static boolean names(String spec, String point, int reached) {
        if (spec == null || spec.isEmpty()) {
            return false;
        }
        String[] parts = spec.split("#");
        return parts[0].equals(point) && reached == (parts.length > 1 ? Integer.parseInt(parts[1]) : 1);
    }

    private static void terminateSelf(int signals) {
        try {
            for (int i = 0; i < signals; i++) {
                new ProcessBuilder(
                                "kill",
                                "-TERM",
                                Long.toString(ProcessHandle.current().pid()))
                        .start()
                        .waitFor();
                Thread.sleep(300); // lets the handler run before the job goes on
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot signal this process", e);
        }
    }

    private static void killSelf() {
        try {
            new ProcessBuilder(
                            "kill", "-9", Long.toString(ProcessHandle.current().pid()))
                    .start()
                    .waitFor();
            Thread.sleep(10_000);
        } catch (Exception e) {
            // fall through to halt
        }
        Runtime.getRuntime().halt(137);
    }
}
