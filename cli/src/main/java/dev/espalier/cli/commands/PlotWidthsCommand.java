package dev.espalier.cli.commands;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.report.WidthPlot;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.RunReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code espalier plot-widths}: the per-layer widths structured pruning runs chose, as a table and a PNG. */
@Command(
        name = "plot-widths",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Kept query heads and FFN channels per layer of finished structured pruning runs: a table on "
                + "standard output and a PNG plot.",
        footer = {
            "",
            "Example:",
            "  ./espalier plot-widths --run out/flap30.run,out/goa30.run --label flap,goa --out widths.png"
        })
public final class PlotWidthsCommand implements Callable<Integer> {

    @Option(
            names = "--run",
            required = true,
            split = ",",
            paramLabel = "<run-dir>",
            description = "Run directories (with report.pb).")
    List<Path> runs;

    @Option(
            names = "--label",
            split = ",",
            paramLabel = "<name>",
            description = "One label per run (default: the method).")
    List<String> labels = new ArrayList<>();

    @Option(names = "--title", defaultValue = "Kept heads and channels per layer", description = "Plot title.")
    String title;

    @Option(names = "--out", required = true, paramLabel = "<file.png>", description = "PNG file to write.")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!labels.isEmpty() && labels.size() != runs.size()) {
            throw new IllegalArgumentException(
                    "--label gives " + labels.size() + " labels for " + runs.size() + " runs");
        }
        List<WidthPlot.LayerWidths> methods = new ArrayList<>();
        LlamaConfig dense = null;
        PrintWriter w = spec.commandLine().getOut();
        for (int i = 0; i < runs.size(); i++) {
            Path file = runs.get(i).resolve(RunDirectory.REPORT_FILE);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(file + ": no run report (is the run finished?)");
            }
            RunReport report = RunReport.parseFrom(Files.readAllBytes(file));
            if (dense == null) {
                try (LlamaModel model =
                        ModelLoader.load(Path.of(report.getSpec().getModel()), Arena.ofShared())) {
                    dense = model.config();
                }
            }
            int layers = report.getLayersCount();
            int[] heads = new int[layers];
            int[] channels = new int[layers];
            for (LayerReport l : report.getLayersList()) {
                heads[l.getLayer()] = l.getNumHeads();
                channels[l.getLayer()] = l.getIntermediateSize();
            }
            String label =
                    labels.isEmpty() ? PruneMethods.label(report.getSpec().getMethod()) : labels.get(i);
            methods.add(new WidthPlot.LayerWidths(label, heads, channels));
            w.printf("%-24s heads %-28s channels %s%n", label, Arrays.toString(heads), Arrays.toString(channels));
        }
        int[] denseHeads = dense.layers().stream()
                .mapToInt(LlamaConfig.LayerDims::numHeads)
                .toArray();
        int[] denseChannels = dense.layers().stream()
                .mapToInt(LlamaConfig.LayerDims::intermediateSize)
                .toArray();
        w.printf(
                "%-24s heads %-28s channels %s%n",
                "dense", Arrays.toString(denseHeads), Arrays.toString(denseChannels));
        WidthPlot.writeWidths(out, title, new WidthPlot.LayerWidths("dense", denseHeads, denseChannels), methods);
        w.println("wrote " + out);
        w.flush();
        return 0;
    }
}
