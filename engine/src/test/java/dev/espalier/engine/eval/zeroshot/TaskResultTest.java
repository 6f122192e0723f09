package dev.espalier.engine.eval.zeroshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** acc, acc_norm and their standard errors on hand-computed cases. */
class TaskResultTest {

    private static Loglikelihood ll(double v) {
        return new Loglikelihood(v, false, 1);
    }

    private static TaskItem.Choice item(int gold, String... choices) {
        return new TaskItem.Choice(
                1,
                java.util.Arrays.stream(choices)
                        .map(c -> new Request("q", " " + c))
                        .toList(),
                gold,
                List.of(choices));
    }

    @Test
    void accNormDividesByTheChoicesLengthInCharacters() {
        // "a" at -2 (per char -2) against "bbbb" at -4 (per char -1): acc picks 0, acc_norm picks 1
        TaskData data = new TaskData("t", Path.of("t"), List.of(item(1, "a", "bbbb"), item(0, "a", "bbbb")));
        TaskResult r = TaskResult.of(
                data, List.of(new Loglikelihood[] {ll(-2), ll(-4)}, new Loglikelihood[] {ll(-2), ll(-4)}));
        assertEquals(0.5, r.acc());
        assertEquals(0.5, r.accNorm());
        assertEquals(Math.sqrt(0.25 / 1), r.accStderr(), 1e-15); // sample std of {0, 1} / sqrt(2)
        assertEquals(0.5, r.chance());
    }

    @Test
    void tiesGoToTheFirstChoiceAsNumpysArgmax() {
        assertEquals(0, TaskResult.argmax(new Loglikelihood[] {ll(-1), ll(-1)}, null));
        assertEquals(1, TaskResult.argmax(new Loglikelihood[] {ll(-3), ll(-1), ll(-1)}, null));
    }

    @Test
    void meanStderrIsTheSampleStandardDeviationOverRootN() {
        // 3 ones of 10: mean 0.3, sample variance 10/9 * 0.21
        assertEquals(Math.sqrt(0.21 * 10 / 9) / Math.sqrt(10), TaskResult.meanStderr(3, 10), 1e-15);
    }
}
