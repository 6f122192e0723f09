package dev.espalier.engine.eval.zeroshot;

import dev.espalier.engine.forward.KvCache;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Log-likelihoods of encoded requests through the model's own forward pass. Requests with the same context share one
 * prefill of it: its last logits row scores every continuation's first token, then each continuation runs alone
 * against the cached context (the cache truncated back to the context between them). A request longer than
 * {@code maxLength + 1} tokens is left-truncated as the harness does ({@code (context + continuation)[-(max_length +
 * 1):][:-1]}) and runs alone; a continuation longer than {@code maxLength} itself keeps only its last {@code maxLength}
 * tokens scored (the harness's slicing is undefined there). Each request's score depends only on its own tokens, never on what it was batched with;
 * sums are f64, in token order.
 */
public final class LoglikelihoodScorer {
    private final LlamaForward forward;
    private final TensorOps ops;
    private final int maxLength;
    private final KvCache cache;

    /** @param maxLength the most positions one pass holds (the harness's max_length: the model's context) */
    public LoglikelihoodScorer(LlamaForward forward, TensorOps ops, int maxLength) {
        if (maxLength > forward.maxTokens()) {
            throw new IllegalArgumentException(
                    "max length " + maxLength + " exceeds the forward pass's " + forward.maxTokens() + " tokens");
        }
        this.forward = forward;
        this.ops = ops;
        this.maxLength = maxLength;
        this.cache = forward.newCache(maxLength);
    }

    /** Scores {@code requests}; the results are in the same order. */
    public Loglikelihood[] score(List<EncodedRequest> requests) {
        Loglikelihood[] out = new Loglikelihood[requests.size()];
        Map<IntBuffer, List<Integer>> byContext = new LinkedHashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            EncodedRequest r = requests.get(i);
            if (fits(r)) {
                byContext
                        .computeIfAbsent(IntBuffer.wrap(r.context()), k -> new ArrayList<>())
                        .add(i);
            } else {
                out[i] = scoreTruncated(r);
            }
        }
        for (List<Integer> group : byContext.values()) {
            scoreSharingContext(requests, group, out);
        }
        return out;
    }

    private boolean fits(EncodedRequest r) {
        return r.context().length + r.continuation().length - 1 <= maxLength;
    }

    private void scoreSharingContext(List<EncodedRequest> requests, List<Integer> group, Loglikelihood[] out) {
        int[] context = requests.get(group.getFirst()).context();
        cache.clear();
        Tensor last =
                forward.forward(context, cache, null, LayerTap.NONE, true); // (1, vocab): predicts each first token
        double[] firstLogprob = new double[group.size()];
        boolean[] firstGreedy = new boolean[group.size()];
        int argmax = argmax(last, 0);
        for (int g = 0; g < group.size(); g++) {
            int first = requests.get(group.get(g)).continuation()[0];
            firstLogprob[g] = -crossEntropy(last, new int[] {first})[0];
            firstGreedy[g] = argmax == first;
        }
        for (int g = 0; g < group.size(); g++) {
            int[] continuation = requests.get(group.get(g)).continuation();
            double sum = firstLogprob[g];
            boolean greedy = firstGreedy[g];
            if (continuation.length > 1) {
                cache.truncate(context.length);
                Tensor logits = forward.forward(
                        Arrays.copyOf(continuation, continuation.length - 1), cache, null, LayerTap.NONE, false);
                int[] targets = Arrays.copyOfRange(continuation, 1, continuation.length);
                double[] nll = crossEntropy(logits, targets);
                for (int t = 0; t < targets.length; t++) {
                    sum -= nll[t];
                    greedy &= argmax(logits, t) == targets[t];
                }
            }
            out[group.get(g)] = new Loglikelihood(sum, greedy, continuation.length);
        }
    }

    /** Scores the continuation tokens that the last {@code maxLength + 1} tokens predict (all, unless the continuation alone is longer). */
    private Loglikelihood scoreTruncated(EncodedRequest r) {
        int[] all = new int[r.context().length + r.continuation().length];
        System.arraycopy(r.context(), 0, all, 0, r.context().length);
        System.arraycopy(r.continuation(), 0, all, r.context().length, r.continuation().length);
        int[] input = Arrays.copyOfRange(all, all.length - (maxLength + 1), all.length - 1);
        int scoredTokens = Math.min(r.continuation().length, input.length);
        int[] targets = Arrays.copyOfRange(all, all.length - scoredTokens, all.length);
        cache.clear();
        Tensor logits = forward.forward(input, cache, null, LayerTap.NONE, false);
        Tensor scored = logits.rowSlice(input.length - scoredTokens, input.length);
        double[] nll = crossEntropy(scored, targets);
        double sum = 0;
        boolean greedy = true;
        for (int t = 0; t < scoredTokens; t++) {
            sum -= nll[t];
            greedy &= argmax(scored, t) == targets[t];
        }
        return new Loglikelihood(sum, greedy, scoredTokens);
    }

    private double[] crossEntropy(Tensor logits, int[] targets) {
        double[] nll = new double[targets.length];
        ops.softmaxCrossEntropy(logits.rowSlice(0, targets.length), targets, nll);
        return nll;
    }

    /** The first index of the largest logit of {@code row} (torch's argmax on ties). */
    private static int argmax(Tensor logits, int row) {
        int best = 0;
        float max = logits.get(row, 0);
        for (int c = 1; c < logits.cols(); c++) {
            float v = logits.get(row, c);
            if (v > max) {
                max = v;
                best = c;
            }
        }
        return best;
    }
}
