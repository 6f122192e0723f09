package dev.espalier.engine.eval.zeroshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.forward.KvCache;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Scores of stories260K on items of every task, against a brute-force pass over each whole sequence. */
class LoglikelihoodScorerTest {
    private static final Path DIR = SharedFiles.path("data/zeroshot");
    private static final double TOLERANCE =
            1e-4; // f32 forward; the shared-context pass runs the same math in other blocks

    private static LlamaModel model;
    private static CpuOps ops;
    private static LlamaForward forward;
    private static Tokenizer tokenizer;
    private static KvCache cache;

    @BeforeAll
    static void load() {
        model = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
        ops = new CpuOps(2);
        forward = new LlamaForward(model, ops, 512, 512);
        tokenizer = TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.bin"));
        cache = forward.newCache(512);
    }

    @AfterAll
    static void close() {
        forward.close();
        ops.close();
        model.close();
    }

    private static ZeroShotEvaluator evaluator(int maxLength) {
        return new ZeroShotEvaluator(
                BatchScorer.local(new LoglikelihoodScorer(forward, ops, maxLength)), 1, new RequestEncoder(tokenizer));
    }

    /** Sum of log-softmax at the continuation positions of (context + continuation), left-truncated to maxLength + 1, in one pass. */
    private static double bruteForce(EncodedRequest r, int maxLength) {
        int[] all = new int[r.context().length + r.continuation().length];
        System.arraycopy(r.context(), 0, all, 0, r.context().length);
        System.arraycopy(r.continuation(), 0, all, r.context().length, r.continuation().length);
        int[] window = Arrays.copyOfRange(all, Math.max(0, all.length - (maxLength + 1)), all.length);
        int[] input = Arrays.copyOf(window, window.length - 1);
        cache.clear();
        Tensor logits = forward.forward(input, cache, null, LayerTap.NONE, false); // (n, vocab), every position
        double[] nll = new double[input.length];
        ops.softmaxCrossEntropy(logits, Arrays.copyOfRange(window, 1, window.length), nll);
        double sum = 0;
        for (int t = Math.max(0, nll.length - r.continuation().length); t < nll.length; t++) {
            sum -= nll[t];
        }
        return sum;
    }

    private static void assertMatchesBruteForce(TaskData task, int maxLength) {
        List<Loglikelihood[]> scores = evaluator(maxLength).score(task, 4, ProgressListener.NONE);
        RequestEncoder encoder = new RequestEncoder(tokenizer);
        for (int i = 0; i < task.items().size(); i++) {
            List<Request> requests = task.items().get(i).requests();
            for (int c = 0; c < requests.size(); c++) {
                EncodedRequest encoded = encoder.encode(requests.get(c));
                double expected = bruteForce(encoded, maxLength);
                Loglikelihood got = scores.get(i)[c];
                assertEquals(
                        expected,
                        got.logprob(),
                        TOLERANCE * Math.max(1, Math.abs(expected)),
                        task.name() + " item " + i + " choice " + c);
                assertEquals(Math.min(maxLength, encoded.continuation().length), got.tokens());
            }
        }
    }

    @Test
    void everyTaskMatchesTheFullSequenceLogits() {
        for (ZeroShotTask task : ZeroShotTask.values()) {
            assertMatchesBruteForce(TaskLoader.load(task, DIR).limit(3), 512);
        }
    }

    @Test
    void leftTruncatedRequestsMatchTheFullSequenceLogitsOfTheirWindow() {
        TaskData boolq = TaskLoader.load(ZeroShotTask.BOOLQ, DIR).limit(3); // passages of ~200+ tokens
        assertTrue(new RequestEncoder(tokenizer)
                        .encode(boolq.items().getFirst().requests().getFirst())
                        .context()
                        .length
                > 64);
        assertMatchesBruteForce(boolq, 64);
        TaskData longChoice = new TaskData(
                "long",
                Path.of("inline"),
                List.of(new TaskItem.Choice(
                        1,
                        List.of(
                                new Request(
                                        "Once upon a time",
                                        " there was a little girl named Lily. She loved to play outside in the sun."),
                                new Request("Once upon a time", " a cat")),
                        0,
                        List.of("a", "b"))));
        assertMatchesBruteForce(longChoice, 8); // the first continuation alone is longer than the window
    }

    @Test
    void scoresDoNotDependOnTheBatchSize() {
        for (ZeroShotTask task : List.of(ZeroShotTask.WINOGRANDE, ZeroShotTask.ARC_EASY)) {
            TaskData data = TaskLoader.load(task, DIR).limit(16);
            List<Loglikelihood[]> one = evaluator(512).score(data, 1, ProgressListener.NONE);
            List<Loglikelihood[]> eight = evaluator(512).score(data, 8, ProgressListener.NONE);
            for (int i = 0; i < one.size(); i++) {
                assertArrayEquals(one.get(i), eight.get(i), task.label() + " item " + i);
            }
        }
    }

    @Test
    void accuracyAgainstRandomGoldLabelsIsAtChance() {
        TaskData arc = TaskLoader.load(ZeroShotTask.ARC_EASY, DIR).limit(600);
        List<Loglikelihood[]> scores = evaluator(512).score(arc, 8, ProgressListener.NONE);
        Random random = new Random(42);
        List<TaskItem> shuffled = new ArrayList<>();
        for (TaskItem item : arc.items()) {
            TaskItem.Choice c = (TaskItem.Choice) item;
            shuffled.add(new TaskItem.Choice(
                    c.line(), c.requests(), random.nextInt(c.requests().size()), c.choiceTexts()));
        }
        TaskResult r = TaskResult.of(new TaskData("shuffled", arc.file(), shuffled), scores);
        assertEquals(0.25, r.chance(), 1e-12);
        assertEquals(0.25, r.acc(), 3 * r.accStderr(), "acc " + r.acc() + " ± " + r.accStderr());
        assertEquals(0.25, r.accNorm(), 3 * r.accNormStderr(), "acc_norm " + r.accNorm() + " ± " + r.accNormStderr());
    }

    @Test
    void continuationItemsAreGreedyWhenEveryTokenIsTheArgmax() {
        // stories260K continues "Once upon a" with " time" greedily; " banana" is not its argmax
        TaskData data = new TaskData(
                "lambada",
                Path.of("inline"),
                List.of(
                        new TaskItem.Continuation(1, new Request("Once upon a", " time")),
                        new TaskItem.Continuation(2, new Request("Once upon a", " banana"))));
        List<Loglikelihood[]> scores = evaluator(512).score(data, 2, ProgressListener.NONE);
        assertTrue(scores.get(0)[0].greedy());
        assertTrue(!scores.get(1)[0].greedy());
        TaskResult r = TaskResult.of(data, scores);
        assertEquals(0.5, r.acc());
        assertEquals(Math.exp(-(scores.get(0)[0].logprob() + scores.get(1)[0].logprob()) / 2), r.perplexity(), 1e-12);
        assertTrue(Double.isNaN(r.accNorm()));
    }
}
