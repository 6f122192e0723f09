package dev.espalier.engine.eval.zeroshot;

import java.nio.file.Path;
import java.util.List;

/**
 * The metrics of one task, as lm-evaluation-harness aggregates them: acc and acc_norm are means over items, each with
 * the standard error of the mean (sample standard deviation / sqrt(n), the harness's {@code mean_stderr}). A metric
 * that does not apply is NaN: acc_norm for partial scoring and LAMBADA-style tasks, chance and perplexity where
 * there are no choices / no continuation task.
 *
 * @param chance     the accuracy of guessing: the mean over items of 1 / choices
 * @param perplexity LAMBADA style: exp(−mean over items of the continuation's log-likelihood), the harness's
 *                   {@code perplexity} aggregation
 */
public record TaskResult(
        String task,
        Path file,
        int items,
        double acc,
        double accStderr,
        double accNorm,
        double accNormStderr,
        double chance,
        double perplexity) {

    static TaskResult of(TaskData task, List<Loglikelihood[]> scores) {
        List<TaskItem> items = task.items();
        int n = items.size();
        int correct = 0;
        int correctNorm = 0;
        boolean normDefined = true;
        double chance = 0;
        double logprobSum = 0;
        boolean choices = items.getFirst() instanceof TaskItem.Choice;
        for (int i = 0; i < n; i++) {
            Loglikelihood[] s = scores.get(i);
            switch (items.get(i)) {
                case TaskItem.Choice c -> {
                    correct += argmax(s, null) == c.gold() ? 1 : 0;
                    normDefined &= c.choiceTexts() != null;
                    if (c.choiceTexts() != null) {
                        correctNorm += argmax(s, c.choiceTexts()) == c.gold() ? 1 : 0;
                    }
                    chance += 1.0 / s.length;
                }
                case TaskItem.Continuation ignored -> {
                    correct += s[0].greedy() ? 1 : 0;
                    logprobSum += s[0].logprob();
                }
            }
        }
        double acc = (double) correct / n;
        double accNorm = choices && normDefined ? (double) correctNorm / n : Double.NaN;
        return new TaskResult(
                task.name(),
                task.file(),
                n,
                acc,
                meanStderr(correct, n),
                accNorm,
                Double.isNaN(accNorm) ? Double.NaN : meanStderr(correctNorm, n),
                choices ? chance / n : Double.NaN,
                choices ? Double.NaN : Math.exp(-logprobSum / n));
    }

    /** The first choice of highest log-likelihood, divided by its length in characters when {@code texts} is given. */
    static int argmax(Loglikelihood[] scores, List<String> texts) {
        int best = 0;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < scores.length; i++) {
            double v = texts == null ? scores[i].logprob() : scores[i].logprob() / PythonStrings.length(texts.get(i));
            if (v > max || i == 0) {
                max = v;
                best = i;
            }
        }
        return best;
    }

    /** The standard error of the mean of {@code ones} ones and {@code n − ones} zeros: sqrt(p(1 − p) / (n − 1)). */
    static double meanStderr(int ones, int n) {
        if (n < 2) {
            return Double.NaN;
        }
        double p = (double) ones / n;
        return Math.sqrt(p * (1 - p) / (n - 1));
    }
}
