package dev.espalier.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.eval.zeroshot.BatchScorer;
import dev.espalier.engine.eval.zeroshot.LoglikelihoodScorer;
import dev.espalier.engine.eval.zeroshot.RequestEncoder;
import dev.espalier.engine.eval.zeroshot.TaskData;
import dev.espalier.engine.eval.zeroshot.TaskResult;
import dev.espalier.engine.eval.zeroshot.ZeroShotEvaluator;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.FaultInjector;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.protocol.v1.TaskFile;
import dev.espalier.protocol.v1.ZeroShotSettings;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zero-shot scores through the device workers: the same for one and two workers, for batch sizes 1 and 8, and equal to
 * the scorer run on the calling thread; a bad task file is refused before any work.
 */
class ZeroShotScoringTest {
    private static LlamaModel model;
    private static Tokenizer tokenizer;
    private static List<TaskData> tasks;

    @BeforeAll
    static void load() {
        model = ModelLoader.load(SharedFiles.storiesBin(), Arena.ofShared());
        tokenizer = TokenizerLoader.load(SharedFiles.path("models/stories260K/tok512.bin"));
        tasks = ZeroShotScoring.load(ZeroShotSettings.newBuilder()
                .addTasks("arc_easy")
                .addTasks("winogrande")
                .addTasks("boolq")
                .setTaskData(SharedFiles.path("data/zeroshot").toAbsolutePath().toString())
                .setLimit(12)
                .build());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static List<TaskResult> onWorkers(DeviceSpec spec, int batchSize) {
        try (Devices devices = Devices.start(spec)) {
            ModelRef ref = devices.models().register("test/model", model);
            try (Devices.JobDevices session = devices.open("test", spec, ref, 1, null, DType.F32, FaultInjector.NONE)) {
                return ZeroShotScoring.score(
                        devices, session, ref, tokenizer, tasks, batchSize, task -> ProgressListener.NONE);
            } finally {
                devices.models().release(ref);
            }
        }
    }

    @Test
    void oneAndTwoWorkersAndBatchSizesOneAndEightGiveTheSameScores() {
        List<TaskResult> one = onWorkers(new DeviceSpec(1, 2), 8);
        assertEquals(one, onWorkers(new DeviceSpec(2, 1), 8));
        assertEquals(one, onWorkers(new DeviceSpec(2, 1), 1));
        assertEquals(3, one.size());
        assertEquals(12, one.getFirst().items());
    }

    @Test
    void workersScoreAsTheScorerOnTheCallingThread() {
        List<TaskResult> local = new ArrayList<>();
        try (CpuOps ops = new CpuOps(2);
                LlamaForward forward = new LlamaForward(model, ops, 512, 512)) {
            ZeroShotEvaluator evaluator = new ZeroShotEvaluator(
                    BatchScorer.local(new LoglikelihoodScorer(forward, ops, 512)), 1, new RequestEncoder(tokenizer));
            for (TaskData task : tasks) {
                local.add(evaluator.evaluate(task, 8, ProgressListener.NONE));
            }
        }
        assertEquals(local, onWorkers(new DeviceSpec(1, 2), 8));
    }

    @Test
    void aBadTaskFileIsRefusedNamingItsLine(@TempDir Path tmp) throws Exception {
        Path bad = Files.writeString(
                tmp.resolve("mine.jsonl"),
                "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 1}\n{\"query\": \"q\", \"choices\": [\"a\"]}\n");
        Exception e = assertThrows(
                RuntimeException.class,
                () -> ZeroShotScoring.load(ZeroShotSettings.newBuilder()
                        .addTaskFiles(TaskFile.newBuilder().setName("mine").setPath(bad.toString()))
                        .build()));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    }
}
