package dev.espalier.cli.commands;

import dev.espalier.engine.job.CancellationToken;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C (SIGINT) and SIGTERM during a run in this process: the first cancels the job, which stops at its next safe
 * point (every committed checkpoint is whole, so the run directory stays resumable) and says how to resume; the second
 * stops the process at once (still resumable: writes are atomic, as after a kill). The previous handlers come back on
 * {@link #close}.
 */
final class InterruptHandler implements AutoCloseable {
    private static final List<String> SIGNALS = List.of("INT", "TERM");

    private final List<Signal> signals = new ArrayList<>();
    private final List<SignalHandler> previous = new ArrayList<>();
    private final AtomicInteger received = new AtomicInteger();
    private volatile String firstSignal;

    private InterruptHandler() {}

    /** Installs the handler for a job running in run directory {@code runDir}, cancelled through {@code cancel}. */
    static InterruptHandler install(CancellationToken cancel, Path runDir, PrintWriter err) {
        InterruptHandler handler = new InterruptHandler();
        for (String name : SIGNALS) {
            Signal signal = new Signal(name);
            handler.signals.add(signal);
            handler.previous.add(Signal.handle(signal, s -> handler.handle(s, cancel, runDir, err)));
        }
        return handler;
    }

    private void handle(Signal signal, CancellationToken cancel, Path runDir, PrintWriter err) {
        if (received.incrementAndGet() == 1) {
            firstSignal = "SIG" + signal.getName();
            err.println("espalier: " + firstSignal + ": stopping at the next safe point; the run stays resumable with"
                    + " `espalier resume " + runDir + "` (press Ctrl-C again to stop at once)");
            err.flush();
            cancel.cancel("interrupted by " + firstSignal);
        } else {
            err.println(
                    "espalier: stopping at once; `espalier resume " + runDir + "` continues from the last checkpoint");
            err.flush();
            Runtime.getRuntime().halt(exitCode(signal.getName()));
        }
    }

    /** The signal that interrupted the run ("SIGINT"), or null when none did. */
    String signal() {
        return firstSignal;
    }

    /** The shell's exit status for a process stopped by {@code signal}: 128 + its number (130 for INT, 143 for TERM). */
    static int exitCode(String signal) {
        return 128 + (signal.endsWith("TERM") ? 15 : 2);
    }

    @Override
    public void close() {
        for (int i = 0; i < signals.size(); i++) {
            Signal.handle(signals.get(i), previous.get(i));
        }
    }
}
