package dev.espalier.engine.prune;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Typed reading of a job's method options ({@code --method-option name=value}). Options the pipeline itself reads
 * ({@link #PIPELINE_OPTIONS}) are not the method's and are skipped when checking for unknown names.
 */
public final class MethodOptions {
    public static final Set<String> PIPELINE_OPTIONS = Set.of("window", "max_restarts", "debug_fail_call", "reconstruction_error", "solve_order", "export");

    private final Map<String, String> values;
    private final Set<String> used = new HashSet<>();

    public MethodOptions(Map<String, String> values) {
        this.values = values;
    }

    public int integer(String name, int defaultValue) {
        String v = take(name);
        try {
            return v == null ? defaultValue : Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--method-option " + name + " must be an integer, got \"" + v + "\"");
        }
    }

    public double real(String name, double defaultValue) {
        String v = take(name);
        try {
            return v == null ? defaultValue : Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--method-option " + name + " must be a number, got \"" + v + "\"");
        }
    }

    /** One of {@code choices} (case-insensitive), or the default; the error lists the choices. */
    public String choice(String name, String defaultValue, String... choices) {
        String v = take(name);
        if (v == null) {
            return defaultValue;
        }
        for (String c : choices) {
            if (c.equalsIgnoreCase(v.trim())) {
                return c;
            }
        }
        throw new IllegalArgumentException("--method-option " + name + " must be one of " + String.join(", ", choices) + ", got \"" + v + "\"");
    }

    private String take(String name) {
        used.add(name);
        return values.get(name);
    }

    /** Throws naming the options that no setting of {@code method} (nor the pipeline) reads. */
    public void requireAllUsed(String method) {
        Set<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(used);
        unknown.removeAll(PIPELINE_OPTIONS);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown --method-option for " + method + ": " + String.join(", ", unknown)
                    + (used.isEmpty() ? " (it takes none)" : " (it takes " + String.join(", ", new TreeSet<>(used)) + ")"));
        }
    }
}
