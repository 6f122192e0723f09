package dev.espalier.cli.commands;

import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.eval.PerplexityEvaluator;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.kernels.TensorOps;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code espalier eval}: perplexity of a model on a text file under a named protocol. */
@Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = CliVersion.class,
        description = "Perplexity of a model on a text file. The last line printed is machine-readable.",
        footer = {"", "Protocols: stream = [BOS]+encode(file) in windows of the model's context, last partial window kept;",
                "  seq128 = windows of 128 tokens (LLM-Pruner/FLAP); full = windows of the context, partial dropped (SparseGPT/Wanda/ALPS).",
                "", "Examples:",
                "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin \\",
                "      --data ../shared/data/tinystories/tinystories_val_sample.txt --protocol stream --max-tokens 20480",
                "  ./espalier eval --model ../shared/models/stories260K-hf --tokenizer ../shared/models/stories260K/tok512.bin \\",
                "      --data ../shared/data/wikitext-2/test.txt --protocol seq128"})
public final class EvalCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--data", required = true, paramLabel = "<file>", description = "Plain UTF-8 text, or JSON lines with a \"text\" field.")
    Path data;

    @Option(names = "--protocol", defaultValue = "stream", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PerplexityProtocol protocol;

    @Option(names = "--max-tokens", defaultValue = "0", paramLabel = "N", description = "Use only the first N tokens of the stream (default: all).")
    int maxTokens;

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (maxTokens < 0) {
            throw new IllegalArgumentException("--max-tokens must be ≥ 0, got " + maxTokens);
        }
        PrintWriter out = spec.commandLine().getOut();
        try (LlamaModel model = modelOptions.loadModel(); TensorOps ops = common.createOps()) {
            Tokenizer tokenizer = modelOptions.loadTokenizer(model);
            int[] stream = tokenizer.encode(TextCorpus.read(data), true);
            int window = protocol.window(model.config());
            PerplexityResult result;
            try (LlamaForward forward = new LlamaForward(model, ops, window, window);
                 ConsoleProgress progress = new ConsoleProgress("eval", common.showProgress())) {
                result = PerplexityEvaluator.evaluate(forward, data.toString(), stream, protocol, maxTokens, null, progress);
            }
            out.printf(Locale.ROOT, "dataset %s: %d tokens used, %d scored, windows of %d%n", result.dataset(), result.tokensUsed(),
                    result.tokensScored(), result.window());
            out.println(result.summaryLine());
        }
        return 0;
    }
}
