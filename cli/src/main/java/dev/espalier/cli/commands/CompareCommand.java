package dev.espalier.cli.commands;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.report.CompareReport;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.SparsityPattern;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code espalier compare}: a grid of methods × sparsities (and patterns) on one model, each cell a normal resumable
 * job run here or on a node, then one paper-style table of perplexities and zero-shot accuracies with the dense model
 * first ({@code compare.md}, {@code compare.json}) and plots. Cells already done are reused, cells interrupted resume.
 */
@Command(
        name = "compare",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = {
            "Prune one model by several methods at several sparsities (each cell a resumable run under <out>/cells/),",
            "then write <out>/compare.md (a table: the dense model first, best per column in bold), compare.json and",
            "PNG plots. A cell whose report.json exists is reused; an interrupted one resumes. With --node or --home,",
            "cells are submitted to a running node (`espalier serve --allow-out <out>`) and followed there."
        },
        footer = {
            "",
            "Examples:",
            "  ./espalier compare --model ../shared/models/stories260K/stories260K.bin \\",
            "      --methods magnitude,wanda,sparsegpt,alps --sparsities 0.5,0.6,0.7 --patterns unstructured,2:4 \\",
            "      --calib ../shared/data/c4/c4_validation_2k.jsonl --calib-samples 64 --devices cpu:2 \\",
            "      --eval-data ../shared/data/tinystories/tinystories_val_sample.txt --eval-max-tokens 20480 \\",
            "      --tasks piqa,arc_easy,winogrande --task-limit 500 --out out/compare",
            "  ./espalier compare ... --out runs/compare --node 127.0.0.1:7070   # cells run on the node"
        })
public final class CompareCommand implements Callable<Integer> {

    @Mixin
    MemoryBudgetOptions memory;

    @Mixin
    JobInputOptions inputs;

    @Option(
            names = "--methods",
            required = true,
            split = ",",
            paramLabel = "<method>",
            converter = JobSpecOptions.MethodConverter.class,
            completionCandidates = JobSpecOptions.MethodNames.class,
            description = "Methods to compare, comma-separated: ${COMPLETION-CANDIDATES}.")
    List<PruneMethod> methods;

    @Option(
            names = "--sparsities",
            split = ",",
            defaultValue = "0.5",
            paramLabel = "<fraction>",
            description = "Sparsities of the unstructured pattern, comma-separated (default: ${DEFAULT-VALUE}).")
    List<Double> sparsities;

    @Option(
            names = "--patterns",
            split = ",",
            defaultValue = "unstructured",
            paramLabel = "<pattern>",
            converter = JobSpecOptions.PatternConverter.class,
            description =
                    "Patterns, comma-separated: unstructured (at each --sparsities), 2:4, 4:8 (default: ${DEFAULT-VALUE}).")
    List<SparsityPattern> patterns;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "<dir>",
            description = "Folder of the comparison: cells/<method>-<sparsity>/, compare.md, compare.json, *.png.")
    Path out;

    @Option(names = "--quiet", description = "No progress bars.")
    boolean quiet;

    @Mixin
    NodeClientOptions node;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path folder = out.toAbsolutePath().normalize();
        List<String> skipped = new ArrayList<>();
        List<CompareGrid.Cell> cells =
                CompareGrid.cells(inputs.toSpec(), methods, patterns, sparsities, folder, skipped);
        JobSpecOptions.checkInputsExist(cells.getFirst().spec());
        skipped.forEach(s -> err.println("espalier compare: skipped " + s));
        stdout.printf("%d cells in %s%n", cells.size(), folder);
        List<CompareGrid.Cell> todo = new ArrayList<>();
        for (CompareGrid.Cell cell : cells) {
            if (finished(cell).isPresent()) {
                stdout.println("cell " + cell.name() + ": reused " + cell.reportFile());
            } else {
                todo.add(cell);
            }
        }
        int exit = todo.isEmpty() ? 0 : node.named() ? onNode(todo) : locally(todo, stdout, err);
        if (exit >= 128) {
            return exit; // interrupted: the cells resume on the next run
        }
        List<CompareReport.Cell> done = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (CompareGrid.Cell cell : cells) {
            Optional<RunReport> report = finished(cell);
            if (report.isPresent()) {
                done.add(new CompareReport.Cell(cell.method(), cell.pattern(), cell.sparsity(), report.get()));
            } else {
                missing.add(cell.name());
            }
        }
        if (!done.isEmpty()) {
            write(folder, done, stdout);
        }
        if (!missing.isEmpty()) {
            err.println("espalier compare: error: " + missing.size() + " cell(s) did not finish: "
                    + String.join(", ", missing) + " (run the same command again to retry them)");
            return 1;
        }
        return exit;
    }

    /** The cell's report when it has finished with the spec asked for now; a cell of another spec is refused. */
    private static Optional<RunReport> finished(CompareGrid.Cell cell) {
        if (!Files.isRegularFile(cell.reportFile())) {
            return Optional.empty();
        }
        RunReport.Builder report = RunReport.newBuilder();
        try {
            JsonFormat.parser().merge(Files.readString(cell.reportFile(), StandardCharsets.UTF_8), report);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(cell.reportFile() + ": not a run report (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(cell.reportFile() + ": cannot be read", e);
        }
        List<String> differences = differences(report.getSpec(), cell.spec());
        if (!differences.isEmpty()) {
            throw new IllegalArgumentException(cell.dir() + " holds a run of other settings ("
                    + String.join(", ", differences)
                    + " differ from this command's); give another --out, or remove that cell to run it again");
        }
        return Optional.of(report.build());
    }

    /** The spec fields in which {@code done} and {@code wanted} differ, devices aside (a cell may move between them). */
    static List<String> differences(JobSpec done, JobSpec wanted) {
        JobSpec a = done.toBuilder().clearDevices().build();
        JobSpec b = wanted.toBuilder().clearDevices().build();
        List<String> fields = new ArrayList<>();
        for (var field : JobSpec.getDescriptor().getFields()) {
            boolean same = field.isRepeated()
                    ? a.getRepeatedFieldCount(field) == b.getRepeatedFieldCount(field)
                            && a.getField(field).equals(b.getField(field))
                    : a.hasField(field) == b.hasField(field)
                            && a.getField(field).equals(b.getField(field));
            if (!same) {
                fields.add(field.getName());
            }
        }
        return fields;
    }

    /** Runs the cells one after the other in this process; a failed cell is reported and the others still run. */
    private int locally(List<CompareGrid.Cell> todo, PrintWriter stdout, PrintWriter err) throws Exception {
        int exit = 0;
        for (CompareGrid.Cell cell : todo) {
            stdout.println("cell " + cell.name() + ": running");
            stdout.flush();
            AtomicFiles.ensureDirectory(cell.dir());
            JobSpec spec = cell.spec();
            String jobId = RunDirectory.jobIdOf(cell.runDir()).orElse("compare-" + UUID.randomUUID());
            int code;
            try (RunDirectory run = RunDirectory.openOrCreate(cell.runDir(), jobId, spec)) {
                code = LocalJobRunner.run(run, stdout, err, !quiet, memory.bytes());
                if (code == 0) {
                    saveReport(cell, run.report().orElseThrow());
                }
            } catch (Exception e) {
                err.println("espalier compare: cell " + cell.name() + " failed: " + e.getMessage());
                exit = 1;
                continue;
            }
            if (code != 0) {
                return code;
            }
        }
        return exit;
    }

    /** Submits the cells to the node at once (its queue runs them as its slots allow), then follows each to its end. */
    private int onNode(List<CompareGrid.Cell> todo) {
        return node.run(spec, client -> new NodeCells(client, spec.commandLine().getOut(), quiet).run(todo));
    }

    static void saveReport(CompareGrid.Cell cell, RunReport report) {
        try {
            AtomicFiles.write(
                    cell.reportFile(), JsonFormat.printer().print(report).getBytes(StandardCharsets.UTF_8));
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void write(Path folder, List<CompareReport.Cell> done, PrintWriter stdout) {
        List<String> plots = CompareReport.writePlots(folder, done);
        StringBuilder md = new StringBuilder(CompareReport.markdown(done));
        for (String plot : plots) {
            md.append("\n![").append(plot).append("](").append(plot).append(")\n");
        }
        AtomicFiles.write(folder.resolve("compare.md"), md.toString().getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(
                folder.resolve("compare.json"), CompareReport.json(done).getBytes(StandardCharsets.UTF_8));
        stdout.print(CompareReport.markdown(done));
        stdout.println("wrote " + folder.resolve("compare.md") + ", compare.json and " + String.join(", ", plots));
    }
}
