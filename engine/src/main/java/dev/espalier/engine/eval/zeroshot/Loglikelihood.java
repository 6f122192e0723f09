package dev.espalier.engine.eval.zeroshot;

/**
 * The score of one {@link Request}: the sum of the natural-log probabilities of its continuation tokens, whether every
 * one of them is the argmax of its logits (the harness's {@code is_greedy}), and how many tokens were scored.
 */
public record Loglikelihood(double logprob, boolean greedy, int tokens) {}
