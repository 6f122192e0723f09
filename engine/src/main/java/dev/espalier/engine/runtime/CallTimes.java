package dev.espalier.engine.runtime;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Wall time a device worker spent in one job's calls, by kind of call ("forward", "accumulate", "solve down_proj",
 * ...): the layer numbers are dropped from a call's description so that a run's time adds up per kind. Logged when the
 * session closes, so that {@code run.log} says where a run's time went.
 */
final class CallTimes {
    private final Map<String, long[]> byKind = new LinkedHashMap<>(); // kind -> {calls, nanoseconds}

    /** Adds one call described as {@code what} (e.g. "solve q_proj of layer 3") that took {@code nanos}. */
    void add(String what, long nanos) {
        long[] t = byKind.computeIfAbsent(kind(what), k -> new long[2]);
        t[0]++;
        t[1] += nanos;
    }

    static String kind(String what) {
        return what.replaceAll(" of layer \\d+$| layer \\d+$", "");
    }

    boolean isEmpty() {
        return byKind.isEmpty();
    }

    /** "forward 12.3 s (64), accumulate 40.1 s (64), ...": seconds and number of calls, longest first. */
    String describe() {
        StringJoiner j = new StringJoiner(", ");
        byKind.entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]))
                .forEach(e -> j.add(String.format(
                        Locale.ROOT, "%s %.1f s (%d)", e.getKey(), e.getValue()[1] / 1e9, e.getValue()[0])));
        return j.toString();
    }
}
