package dev.espalier.cli.commands;

import dev.espalier.engine.eval.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A console progress bar (with ETA) on stderr, fed by a {@link ProgressListener}; silent when disabled. */
public final class ConsoleProgress implements ProgressListener, AutoCloseable {
    private final String task;
    private final boolean enabled;
    private ProgressBar bar;

    public ConsoleProgress(String task, boolean enabled) {
        this.task = task;
        this.enabled = enabled;
    }

    @Override
    public synchronized void progress(long done, long total) {
        if (!enabled) {
            return;
        }
        if (bar == null) {
            bar = new ProgressBarBuilder()
                    .setTaskName(task)
                    .setInitialMax(total)
                    .setStyle(ProgressBarStyle.ASCII)
                    .setConsumer(new ConsoleProgressBarConsumer(System.err))
                    .build();
        }
        bar.maxHint(total);
        bar.stepTo(done);
    }

    @Override
    public synchronized void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
