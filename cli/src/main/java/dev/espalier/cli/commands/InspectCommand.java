package dev.espalier.cli.commands;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code espalier inspect <model>}: architecture, per-layer shapes, dtype and parameter count. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Print a model's architecture, shapes, dtype and parameter count.",
        footer = {
            "",
            "Examples:",
            "  ./espalier inspect ../shared/models/stories260K-hf",
            "  ./espalier inspect ../shared/models/stories260K/stories260K.bin"
        })
public final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<model>", description = "A Hugging Face folder or a llama2.c .bin file.")
    Path model;

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (LlamaModel m = ModelLoader.load(model, Arena.ofShared())) {
            LlamaConfig c = m.config();
            out.printf(Locale.ROOT, "model        %s%n", m.source());
            out.printf(
                    Locale.ROOT,
                    "architecture %s (%d layers, hidden %d, head_dim %d, vocab %d, context %d)%n",
                    c.modelType(),
                    c.numLayers(),
                    c.hiddenSize(),
                    c.headDim(),
                    c.vocabSize(),
                    c.maxPositionEmbeddings());
            out.printf(
                    Locale.ROOT,
                    "rope         theta %s%s; rms_norm_eps %s; tied embeddings %s%n",
                    c.ropeTheta(),
                    c.ropeScaling() == null
                            ? ""
                            : ", llama3 scaling x" + c.ropeScaling().factor(),
                    c.rmsNormEps(),
                    c.tieWordEmbeddings());
            out.printf(
                    Locale.ROOT,
                    "biases       attention %s, attention output %s, mlp %s%n",
                    c.attentionBias(),
                    c.attentionOutputBias(),
                    c.mlpBias());
            out.printf(Locale.ROOT, "dtype        %s%n", c.torchDtype());
            out.printf(Locale.ROOT, "parameters   %,d%n", c.parameterCount());
            out.printf(
                    Locale.ROOT,
                    "embedding    %s%n",
                    Arrays.toString(m.embedTokens().shape()));
            for (int l = 0; l < c.numLayers(); l++) {
                LlamaConfig.LayerDims d = c.layer(l);
                DecoderLayerWeights w = m.layer(l);
                out.printf(
                        Locale.ROOT,
                        "layer %-3d    heads %d/%d kv, ffn %d; q %s k %s v %s o %s gate %s up %s down %s%n",
                        l,
                        d.numHeads(),
                        d.numKvHeads(),
                        d.intermediateSize(),
                        Arrays.toString(w.q().shape()),
                        Arrays.toString(w.k().shape()),
                        Arrays.toString(w.v().shape()),
                        Arrays.toString(w.o().shape()),
                        Arrays.toString(w.gate().shape()),
                        Arrays.toString(w.up().shape()),
                        Arrays.toString(w.down().shape()));
            }
            out.printf(
                    Locale.ROOT,
                    "lm_head      %s%s%n",
                    Arrays.toString(m.lmHead().shape()),
                    c.tieWordEmbeddings() ? " (tied)" : "");
        }
        return 0;
    }
}
