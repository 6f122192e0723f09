package dev.espalier.engine.prune.structured;

/**
 * What one attention unit of structured pruning is.
 * <ul>
 *   <li>{@link #KV_GROUP}: a key/value head with all of its query heads (with MHA, one head). Removing it removes
 *       perGroup query rows blocks of q_proj, one block of k_proj and v_proj, and perGroup column blocks of o_proj:
 *       (2·perGroup + 2)·headDim·hidden parameters.</li>
 *   <li>{@link #QUERY_IN_GROUP}: query heads inside the groups, every group keeping the same number. The unit is a
 *       <em>slice</em>: the r-th best query head of every group (ranked by score within its group), numKvHeads query
 *       heads at once, 2·numKvHeads·headDim·hidden parameters (q rows and o columns). The key/value heads stay; their
 *       2·numKvHeads·headDim·hidden parameters count as prunable but fixed. Needs perGroup ≥ 2.</li>
 * </ul>
 */
public enum HeadGranularity {
    KV_GROUP,
    QUERY_IN_GROUP
}
