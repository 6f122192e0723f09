package dev.espalier.engine.prune.policy;

/**
 * The three kinds of structural unit that carry a keep-probability. Each kind has its own keep budget, projection
 * and learning rate; units of one kind have equal cost (every key/value group of a model has the same width, every
 * FFN channel the same), which is why the official code budgets in units, not parameters.
 */
public enum UnitKind {
    /** A key/value head with the query heads that share it (one GQA group): the official code's attention unit. */
    HEAD,
    /** One FFN intermediate channel (a row of gate/up, a column of down). */
    CHANNEL,
    /** A whole decoder layer (skipped: the residual stream passes through). Not in the official code. */
    LAYER
}
