package dev.espalier.cli.commands;

import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.eval.PerplexityEvaluator;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.eval.zeroshot.LoglikelihoodScorer;
import dev.espalier.engine.eval.zeroshot.RequestEncoder;
import dev.espalier.engine.eval.zeroshot.TaskData;
import dev.espalier.engine.eval.zeroshot.TaskLoader;
import dev.espalier.engine.eval.zeroshot.TaskResult;
import dev.espalier.engine.eval.zeroshot.ZeroShotEvaluator;
import dev.espalier.engine.eval.zeroshot.ZeroShotReport;
import dev.espalier.engine.eval.zeroshot.ZeroShotTask;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.kernels.TensorOps;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code espalier eval}: perplexity of a model on a text file under a named protocol, or zero-shot task accuracy. */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = {
            "Perplexity of a model on a text file (--data), or its zero-shot accuracy on multiple-choice tasks (--tasks,",
            "--task-file) scored as lm-evaluation-harness does. The last line printed is machine-readable."
        },
        footer = {
            "",
            "Protocols: stream = [BOS]+encode(file) in windows of the model's context, last partial window kept;",
            "  seq128 = windows of 128 tokens (LLM-Pruner/FLAP); full = windows of the context, partial dropped (SparseGPT/Wanda/ALPS).",
            "Zero-shot: each choice scored by the summed log-probability of \" \" + choice after the harness's prompt;",
            "  acc = argmax of the sum, acc_norm = argmax of sum / characters of the choice; both ± the standard error.",
            "  A --task-file is {\"query\", \"choices\", \"gold\"} (multiple choice) or {\"context\", \"continuation\"} (LAMBADA",
            "  style: acc = every token greedy, ppl = exp(-mean log-likelihood)); a built-in task's name reads that task's format.",
            "",
            "Examples:",
            "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin \\",
            "      --data ../shared/data/tinystories/tinystories_val_sample.txt --protocol stream --max-tokens 20480",
            "  ./espalier eval --model ../shared/models/stories260K-hf --tokenizer ../shared/models/stories260K/tok512.bin \\",
            "      --data ../shared/data/wikitext-2/test.txt --protocol seq128",
            "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin \\",
            "      --tasks piqa,arc_easy,arc_challenge,boolq,hellaswag,winogrande,openbookqa --limit 500",
            "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin --task-file mine=my_task.jsonl"
        })
public final class EvalCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    /** Either a text file for perplexity or zero-shot tasks. */
    static final class Input {
        @Option(
                names = "--data",
                paramLabel = "<file>",
                description = "Perplexity: plain UTF-8 text, or JSON lines with a \"text\" field.")
        Path data;

        @ArgGroup(exclusive = false, multiplicity = "1")
        ZeroShotOptions zeroShot;
    }

    /** The zero-shot tasks to run and how. */
    static final class ZeroShotOptions {
        @Option(
                names = "--tasks",
                split = ",",
                paramLabel = "<task>",
                description =
                        "Zero-shot tasks, comma-separated: piqa, arc_easy, arc_challenge, boolq, hellaswag, winogrande, openbookqa.")
        List<ZeroShotTask> tasks = new ArrayList<>();

        @Option(
                names = "--task-file",
                paramLabel = "NAME=<file.jsonl>",
                description = "A task of your own (repeatable).")
        Map<String, Path> taskFiles = new LinkedHashMap<>();

        @Option(
                names = "--task-data",
                defaultValue = "../shared/data/zeroshot",
                paramLabel = "<dir>",
                description = "Folder of the built-in tasks' files (default: ${DEFAULT-VALUE}).")
        Path taskData;

        @Option(
                names = "--limit",
                defaultValue = "0",
                paramLabel = "N",
                description = "Score only the first N items of each task (default: all).")
        int limit;

        @Option(
                names = "--batch-size",
                defaultValue = "8",
                paramLabel = "N",
                description =
                        "Items encoded and scored together; shared contexts run once per batch (default: ${DEFAULT-VALUE}).")
        int batchSize;
    }

    @Option(
            names = "--protocol",
            defaultValue = "stream",
            description = "Perplexity protocol: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PerplexityProtocol protocol;

    @Option(
            names = "--max-tokens",
            defaultValue = "0",
            paramLabel = "N",
            description = "Perplexity: use only the first N tokens of the stream (default: all).")
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
        return input.data != null ? perplexity() : zeroShot(input.zeroShot);
    }

    private int perplexity() {
        PrintWriter out = spec.commandLine().getOut();
        Path data = input.data;
        try (LlamaModel model = modelOptions.loadModel();
                TensorOps ops = common.createOps()) {
            Tokenizer tokenizer = modelOptions.loadTokenizer(model);
            int[] stream = tokenizer.encode(TextCorpus.read(data), true);
            int window = protocol.window(model.config());
            PerplexityResult result;
            try (LlamaForward forward = new LlamaForward(model, ops, window, window);
                    ConsoleProgress progress = new ConsoleProgress("eval", common.showProgress())) {
                result = PerplexityEvaluator.evaluate(
                        forward, data.toString(), stream, protocol, maxTokens, null, progress);
            }
            out.printf(
                    Locale.ROOT,
                    "dataset %s: %d tokens used, %d scored, windows of %d%n",
                    result.dataset(),
                    result.tokensUsed(),
                    result.tokensScored(),
                    result.window());
            out.println(result.summaryLine());
        }
        return 0;
    }

    private int zeroShot(ZeroShotOptions o) {
        if (o.tasks.isEmpty() && o.taskFiles.isEmpty()) {
            throw new IllegalArgumentException("--tasks or --task-file is needed to run zero-shot tasks");
        }
        if (o.limit < 0 || o.batchSize < 1) {
            throw new IllegalArgumentException(
                    o.limit < 0
                            ? "--limit must be ≥ 0, got " + o.limit
                            : "--batch-size must be ≥ 1, got " + o.batchSize);
        }
        List<TaskData> tasks = new ArrayList<>();
        for (ZeroShotTask task : o.tasks) {
            tasks.add(TaskLoader.load(task, o.taskData).limit(o.limit));
        }
        o.taskFiles.forEach(
                (name, file) -> tasks.add(TaskLoader.loadFile(name, file).limit(o.limit)));
        PrintWriter out = spec.commandLine().getOut();
        List<TaskResult> results = new ArrayList<>();
        try (LlamaModel model = modelOptions.loadModel();
                TensorOps ops = common.createOps()) {
            Tokenizer tokenizer = modelOptions.loadTokenizer(model);
            int maxLength = model.config().maxPositionEmbeddings();
            try (LlamaForward forward = new LlamaForward(model, ops, maxLength, maxLength)) {
                ZeroShotEvaluator evaluator = new ZeroShotEvaluator(
                        new LoglikelihoodScorer(forward, ops, maxLength), new RequestEncoder(tokenizer));
                for (TaskData task : tasks) {
                    try (ConsoleProgress progress = new ConsoleProgress(task.name(), common.showProgress())) {
                        results.add(evaluator.evaluate(task, o.batchSize, progress));
                    }
                    out.printf(
                            Locale.ROOT,
                            "task %s: %d items from %s%n",
                            task.name(),
                            task.items().size(),
                            task.file());
                }
            }
        }
        ZeroShotReport.table(results).forEach(out::println);
        out.println(ZeroShotReport.summaryLine(results));
        return 0;
    }
}
