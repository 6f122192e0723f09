package dev.espalier.cli.commands;

import dev.espalier.engine.runtime.HostActivationStore;
import picocli.CommandLine.Option;

/** {@code --memory-budget}: how much calibration activation data the process holds in memory before spilling it. */
public final class MemoryBudgetOptions {

    @Option(
            names = "--memory-budget",
            paramLabel = "<size>",
            converter = ByteSizeConverter.class,
            description = "Calibration activations held in memory, for all jobs of the process together; beyond it"
                    + " they are spilled to files in the run directory (same results, more disk traffic), e.g. 4GiB"
                    + " (default: a quarter of physical memory).")
    Long memoryBudget;

    /** The budget in bytes: the option's, else {@link HostActivationStore#DEFAULT_BUDGET_BYTES}. */
    long bytes() {
        return memoryBudget != null ? memoryBudget : HostActivationStore.DEFAULT_BUDGET_BYTES;
    }
}
