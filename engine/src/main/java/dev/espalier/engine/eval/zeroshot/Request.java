package dev.espalier.engine.eval.zeroshot;

/**
 * One loglikelihood request as lm-evaluation-harness makes it: the log-probability of {@code continuation} given
 * {@code context}. A multiple-choice continuation already carries the harness's target delimiter (one space).
 */
public record Request(String context, String continuation) {}
