package dev.espalier.engine.runtime;

import dev.espalier.protocol.v1.JobSpec;

/** Typed access to a job's {@code method_options}, with defaults and errors that name the option. */
final class JobOptions {
    private JobOptions() {}

    static int intOption(JobSpec spec, String name, int defaultValue) {
        String v = spec.getMethodOptionsMap().get(name);
        if (v == null) {
            return defaultValue;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("option " + name + " must be an integer, got \"" + v + "\"");
        }
    }
}
