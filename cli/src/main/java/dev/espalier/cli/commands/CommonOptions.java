package dev.espalier.cli.commands;

import dev.espalier.engine.data.DataFormatException;
import dev.espalier.engine.model.ModelFormatException;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine.Option;

/** Options every verb takes: compute backend, threads, verbosity and progress. */
public final class CommonOptions {

    /** The compute backends selectable on the command line. */
    public enum Backend {
        CPU,
        REFERENCE
    }

    @Option(
            names = "--backend",
            defaultValue = "cpu",
            description = "Compute backend: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Backend backend;

    @Option(names = "--threads", description = "CPU threads (default: all cores).")
    Integer threads;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    /** Threads the CPU backend uses: --threads, or every core. */
    public int threadCount() {
        return threads == null ? Runtime.getRuntime().availableProcessors() : threads;
    }

    public TensorOps createOps() {
        int n = threadCount();
        if (n < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + n);
        }
        return switch (backend) {
            case CPU -> new CpuOps(n);
            case REFERENCE -> new ReferenceOps();
        };
    }

    public boolean showProgress() {
        return !quiet;
    }

    /** Whether an exception means the user's input was wrong (exit code 2) rather than the work failing. */
    public static boolean isBadInput(Throwable e) {
        return e instanceof ModelFormatException
                || e instanceof DataFormatException
                || e instanceof IllegalArgumentException
                || e instanceof NoSuchFileException
                || e instanceof UnsupportedOperationException
                || (e instanceof UncheckedIOException u && u.getCause() instanceof NoSuchFileException);
    }
}
