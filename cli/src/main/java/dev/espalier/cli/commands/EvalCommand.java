package dev.espalier.cli.commands;

import dev.espalier.engine.data.TextCorpus;
import dev.espalier.engine.data.TextRange;
import dev.espalier.engine.eval.PerplexityEvaluator;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;
import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.eval.zeroshot.TaskData;
import dev.espalier.engine.eval.zeroshot.TaskResult;
import dev.espalier.engine.eval.zeroshot.ZeroShotReport;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.job.ZeroShotScoring;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.FaultInjector;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.TensorOps;
import dev.espalier.protocol.v1.ZeroShotSettings;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
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
            "  ./espalier eval --model ../shared/models/stories260K/stories260K.bin \\",
            "      --data ../shared/data/tinystories/tinystories_val_sample.txt --range 0.5:1",
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
        TaskOptions zeroShot;
    }

    @Option(
            names = {"--range", "--eval-range"},
            paramLabel = "START:END",
            converter = RangeConverter.class,
            description = "Perplexity: score only this part of --data, e.g. 0.5:1 or 0:400KB (fractions with a decimal"
                    + " point or byte offsets; an empty side, 0 or 1 is the file's start or end). Both ends move forward to the"
                    + " next line start, so no line is split and 0:0.5 and 0.5:1 share no line (default: the whole"
                    + " file).")
    TextRange range;

    /** Reads --range START:END ({@link TextRange}). */
    static final class RangeConverter implements picocli.CommandLine.ITypeConverter<TextRange> {
        @Override
        public TextRange convert(String value) {
            return JobInputOptions.rangeOf("--range", value);
        }
    }

    @Option(
            names = "--devices",
            defaultValue = "cpu",
            description =
                    "Zero-shot: the device workers scoring the tasks, e.g. cpu, cpu:2 (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(
            names = "--protocol",
            defaultValue = "stream",
            description = "Perplexity protocol: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PerplexityProtocol protocol;

    @Option(
            names = "--seqlen",
            defaultValue = "0",
            paramLabel = "N",
            description = "Perplexity: windows of N tokens for the stream and full protocols (default: the model's"
                    + " context).")
    int seqlen;

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
        if (range != null && input.data == null) {
            throw new IllegalArgumentException("--range applies to perplexity on --data, not to zero-shot tasks");
        }
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
            int[] stream = tokenizer.encode(TextCorpus.read(data, range), true);
            int window = protocol.window(model.config(), seqlen);
            PerplexityResult result;
            try (LlamaForward forward = new LlamaForward(model, ops, window, window);
                    ConsoleProgress progress = new ConsoleProgress("eval", common.showProgress())) {
                result = PerplexityEvaluator.evaluate(
                        forward, data.toString(), stream, protocol, maxTokens, null, progress);
            }
            out.printf(
                    Locale.ROOT,
                    "dataset %s%s: %d tokens used, %d scored, windows of %d%n",
                    result.dataset(),
                    range == null ? "" : " range " + range.text(),
                    result.tokensUsed(),
                    result.tokensScored(),
                    result.window());
            out.println(result.summaryLine());
        }
        return 0;
    }

    private int zeroShot(TaskOptions o) {
        if (!o.any()) {
            throw new IllegalArgumentException("--tasks or --task-file is needed to run zero-shot tasks");
        }
        if (common.backend != CommonOptions.Backend.CPU || common.threads != null) {
            throw new IllegalArgumentException(
                    "--backend and --threads apply to perplexity (--data); zero-shot tasks run on the device workers"
                            + " (--devices cpu or cpu:N)");
        }
        ZeroShotSettings settings = o.toSettings();
        DeviceSpec deviceSpec = DeviceSpec.of(JobSpecs.devicesOf(devices));
        List<TaskData> tasks = ZeroShotScoring.load(settings);
        PrintWriter out = spec.commandLine().getOut();
        List<TaskResult> results;
        try (LlamaModel model = modelOptions.loadModel();
                Devices workers = Devices.start(deviceSpec);
                TaskBars bars = new TaskBars(common.showProgress())) {
            Tokenizer tokenizer = modelOptions.loadTokenizer(model);
            ModelRef ref = workers.models().register("eval/model", model);
            try (Devices.JobDevices session =
                    workers.open("eval", deviceSpec, ref, 1, null, DType.F32, FaultInjector.NONE)) {
                results = ZeroShotScoring.score(
                        workers, session, ref, tokenizer, tasks, ZeroShotScoring.batchSize(settings), bars::next);
            } finally {
                workers.models().release(ref);
            }
        }
        for (TaskData task : tasks) {
            out.printf(
                    Locale.ROOT,
                    "task %s: %d items from %s%n",
                    task.name(),
                    task.items().size(),
                    task.file());
        }
        ZeroShotReport.table(results).forEach(out::println);
        out.println(ZeroShotReport.summaryLine(results));
        return 0;
    }

    /** One progress bar per task, the last closed when the next begins. */
    private static final class TaskBars implements AutoCloseable {
        private final boolean enabled;
        private ConsoleProgress current;

        TaskBars(boolean enabled) {
            this.enabled = enabled;
        }

        ProgressListener next(String task) {
            close();
            current = new ConsoleProgress(task, enabled);
            return current;
        }

        @Override
        public void close() {
            if (current != null) {
                current.close();
            }
        }
    }
}
