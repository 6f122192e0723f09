package dev.espalier.cli.commands;

import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.generate.Sampler;
import dev.espalier.engine.generate.TextGenerator;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.TensorOps;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code espalier generate}: text from a prompt with a KV cache; temperature 0 is greedy. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Generate text from a prompt (temperature 0 is greedy).",
        footer = {
            "",
            "Examples:",
            "  ./espalier generate --model ../shared/models/stories260K/stories260K.bin --steps 200 --temperature 0",
            "  ./espalier generate --model ../shared/models/stories260K-hf --prompt \"Once upon a time\" \\",
            "      --steps 120 --temperature 0.8 --seed 7"
        })
public final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", defaultValue = "", description = "Text to continue (default: none, start from BOS).")
    String prompt;

    @Option(
            names = "--steps",
            defaultValue = "256",
            paramLabel = "N",
            description = "Positions to run, prompt included (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(
            names = "--temperature",
            defaultValue = "0",
            paramLabel = "T",
            description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "Random seed for sampling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (LlamaModel model = modelOptions.loadModel();
                TensorOps ops = common.createOps()) {
            var tokenizer = modelOptions.loadTokenizer(model);
            int context = model.config().maxPositionEmbeddings();
            steps = Math.min(steps, context);
            out.print(prompt);
            long start = System.nanoTime();
            TextGenerator.Generation g;
            try (LlamaForward forward = new LlamaForward(model, ops, Math.max(1, Math.min(context, steps)), context)) {
                g = new TextGenerator(forward, tokenizer)
                        .generate(prompt, steps, new Sampler(temperature, seed), null, piece -> {
                            out.print(piece);
                            out.flush();
                        });
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            out.println();
            out.printf(
                    Locale.ROOT,
                    "generated=%d tokens_per_s=%.1f%n",
                    g.generatedIds().length,
                    g.generatedIds().length / seconds);
        }
        return 0;
    }
}
