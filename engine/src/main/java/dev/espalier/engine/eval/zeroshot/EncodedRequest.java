package dev.espalier.engine.eval.zeroshot;

/** A request in token ids: the context (starting with BOS) and the continuation tokens scored after it. */
public record EncodedRequest(int[] context, int[] continuation) {}
