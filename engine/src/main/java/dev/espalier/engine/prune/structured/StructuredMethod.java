package dev.espalier.engine.prune.structured;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.protocol.v1.StructuredSettings;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Structured pruning of attention units and FFN channels (the hidden size is never pruned) to a target fraction of the
 * prunable parameters removed, by one of three methods:
 * <ul>
 *   <li>{@link Kind#WANDA_SP}: FLAP's structured Wanda, layer by layer on the pruned model's inputs, uniform widths;</li>
 *   <li>{@link Kind#FLAP}: fluctuation metric (WIFV) on the dense model, adaptive global widths, bias compensation;</li>
 *   <li>{@link Kind#GOA}: greedy output approximation (arXiv 2407.19126): output second-moment scores, heads grouped by
 *       attention-map similarity, and — with recovery — every module refit by ridge least squares against the dense
 *       model's outputs from the pruned model's inputs before it is pruned.</li>
 * </ul>
 * Recovery ({@link RecoveringLayer}) is orthogonal to the scores: on by default for GOA, as the paper, and available,
 * off by default, for Wanda-sp and FLAP, which then choose their units on the pruned stream after the earlier refits.
 * Widths are {@link Allocation#UNIFORM} (the same fraction per layer, chosen layer by layer) or {@link Allocation#GLOBAL}
 * (a scoring pass over the dense model ranks every layer's units together; each layer then keeps its share).
 *
 * @param granularity what one attention unit is (a key/value group, or query heads inside the groups)
 * @param ridge       recovery's ridge λ as a fraction of the mean diagonal of the inputs' Gram
 * @param tau         GOA: heads whose attention maps are within this mean Jensen–Shannon divergence are merged; 0: prune
 *                    the allocated number of heads instead
 * @param dataFree    the calibration text is the model's own ({@code --calib self}): GOA then takes the second moment Σ
 *                    of its channel scores from a scoring pass over random token ids, whatever the allocation
 * @param score       GOA: the unit importance ({@link GoaUnitScores.Score}; default depth-2)
 * @param headThreshold GOA: &gt; 0 groups heads by the threshold graph ({@link AttentionMapSimilarity#thresholdPrune})
 *                    joining units within this mean Jensen–Shannon divergence; 0: the greedy rule
 * @param seed        the job's seed (GOA's random score)
 */
public record StructuredMethod(
        Kind kind,
        LlamaConfig config,
        double sparsity,
        Allocation allocation,
        HeadGranularity granularity,
        boolean recovery,
        double ridge,
        double tau,
        boolean dataFree,
        GoaUnitScores.Score score,
        double headThreshold,
        long seed)
        implements LayerMethod {

    public enum Kind {
        WANDA_SP,
        FLAP,
        GOA
    }

    public enum Allocation {
        UNIFORM,
        GLOBAL
    }

    public StructuredMethod {
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException(
                    "--sparsity for structured pruning is the fraction of prunable parameters removed, in [0, 1); got "
                            + sparsity);
        }
    }

    /**
     * The method {@code kind} for {@code config} with its settings (validated by JobSpecs; unset fields take the
     * defaults): {@code allocation} (default: global for FLAP, uniform otherwise, as the papers), {@code heads}
     * (group), {@code recovery} (every kind; default on for GOA, off for Wanda-sp and FLAP), {@code ridge} (0.01), {@code tau} (GOA; 0). A null {@code config}
     * only builds the settings.
     */
    public static StructuredMethod of(Kind kind, LlamaConfig config, double sparsity, StructuredSettings settings) {
        return of(kind, config, sparsity, settings, false, 0);
    }

    /**
     * As {@link #of(Kind, LlamaConfig, double, StructuredSettings)}, for data-free calibration when {@code dataFree},
     * with the job's {@code seed} (GOA's random score).
     */
    public static StructuredMethod of(
            Kind kind, LlamaConfig config, double sparsity, StructuredSettings settings, boolean dataFree, long seed) {
        Allocation allocation = switch (settings.getAllocation()) {
            case ALLOCATION_UNIFORM -> Allocation.UNIFORM;
            case ALLOCATION_GLOBAL -> Allocation.GLOBAL;
            default -> kind == Kind.FLAP ? Allocation.GLOBAL : Allocation.UNIFORM;
        };
        HeadGranularity granularity = settings.getHeads() == StructuredSettings.AttentionUnit.ATTENTION_UNIT_QUERY
                ? HeadGranularity.QUERY_IN_GROUP
                : HeadGranularity.KV_GROUP;
        if (kind != Kind.GOA
                && (settings.hasTau()
                        || settings.getScoreValue() != 0
                        || settings.getHeadGraphValue() != 0
                        || settings.hasHeadThreshold())) {
            throw new IllegalArgumentException(
                    "--method-option tau, score, head_graph, head_threshold apply to goa only, not to " + label(kind));
        }
        GoaUnitScores.Score score = GoaUnitScores.Score.of(settings.getScore());
        double headThreshold = settings.getHeadGraph() == StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD
                ? (settings.hasHeadThreshold() ? settings.getHeadThreshold() : 0.2)
                : 0;
        boolean recovery = settings.hasRecovery() ? settings.getRecovery() : kind == Kind.GOA;
        double ridge = settings.hasRidge() ? settings.getRidge() : 0.01;
        double tau = kind == Kind.GOA && settings.hasTau() ? settings.getTau() : 0;
        if (granularity == HeadGranularity.QUERY_IN_GROUP && config != null) {
            for (LlamaConfig.LayerDims d : config.layers()) {
                if (d.numKvHeads() == 0 || d.numHeads() / d.numKvHeads() < 2) {
                    throw new IllegalArgumentException(
                            "--method-option heads=query needs at least two query heads per key/value head");
                }
            }
        }
        if (!(ridge > 0) || !(tau >= 0)) {
            throw new IllegalArgumentException(
                    "--method-option ridge must be positive and tau non-negative, got " + ridge + " and " + tau);
        }
        if (!(headThreshold >= 0 && headThreshold <= Math.log(2))
                || (headThreshold > 0 && (tau > 0 || granularity != HeadGranularity.KV_GROUP))) {
            throw new IllegalArgumentException("--method-option head_graph=threshold needs heads=group, no tau and a"
                    + " head_threshold in (0, ln 2], got " + headThreshold);
        }
        return new StructuredMethod(
                kind,
                config,
                sparsity,
                allocation,
                granularity,
                recovery,
                ridge,
                tau,
                dataFree,
                score,
                headThreshold,
                seed);
    }

    public static String label(Kind kind) {
        return kind.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    @Override
    public String label() {
        return label(kind);
    }

    @Override
    public String describe() {
        return label() + " structured, " + (int) Math.round(sparsity * 100) + " % of prunable parameters, "
                + allocation.name().toLowerCase(Locale.ROOT)
                + " widths, " + (granularity == HeadGranularity.KV_GROUP ? "key/value groups" : "query heads")
                + " as attention units"
                + (kind == Kind.GOA || recovery ? ", recovery " + (recovery ? "on (ridge " + ridge + ")" : "off") : "")
                + (kind == Kind.GOA
                        ? (tau > 0 ? ", tau " + tau : "")
                                + (score != GoaUnitScores.Score.DEPTH2_SWIGLU ? ", score " + score.label() : "")
                                + (headThreshold > 0 ? ", threshold head graph " + headThreshold : "")
                        : "")
                + (dataFree ? ", data-free" : "");
    }

    @Override
    public int phases() {
        return recovery ? RecoveringLayer.PHASES : 1;
    }

    @Override
    public boolean usesDenseStream() {
        return recovery;
    }

    /** Global widths need the scoring pass; so does data-free GOA, for the Σ of its channel scores. */
    @Override
    public boolean scoresGlobally() {
        return allocation == Allocation.GLOBAL || (dataFree && kind == Kind.GOA);
    }

    /** Whether GOA's channel scores take Σ from the scoring pass (over random token ids) instead of the calibration text. */
    boolean sigmaFromScoringPass() {
        return dataFree && kind == Kind.GOA;
    }

    @Override
    public LayerWork open(
            int layer, DecoderLayerWeights dense, DecoderLayerWeights start, boolean completed, Arena arena) {
        return switch (kind) {
            case WANDA_SP -> new WandaSpLayer(this, layer, dense, start, arena);
            case FLAP -> new FlapLayer(this, layer, dense, start, arena);
            case GOA -> new GoaLayer(this, layer, dense, start, arena);
        };
    }

    /** The units of layer {@code layer} scored by {@code scores}: what the allocation ranks. */
    StructuredAllocation.LayerUnits units(int layer, double[] queryHeadScores, double[] channelScores) {
        return StructuredAllocation.LayerUnits.of(
                config.layer(layer),
                config.hiddenSize(),
                config.headDim(),
                granularity,
                queryHeadScores,
                channelScores);
    }

    /** Global widths from the scoring pass; none (each layer takes its uniform share) with uniform widths. */
    @Override
    public List<LayerAllocation> allocate(List<LayerScores> scores) {
        if (allocation == Allocation.UNIFORM) {
            return List.of();
        }
        List<StructuredAllocation.LayerUnits> units = new ArrayList<>();
        for (LayerScores s : scores) {
            units.add(units(s.layer(), s.heads(), s.channels()));
        }
        // FLAP's adaptive scores are standardised per layer already; the others' scales differ between layers
        StructuredAllocation.Allocation a = StructuredAllocation.global(units, sparsity, kind != Kind.FLAP, 0);
        List<LayerAllocation> out = new ArrayList<>();
        for (int i = 0; i < scores.size(); i++) {
            out.add(new LayerAllocation(
                    scores.get(i).layer(), a.keptHeadUnits()[i].length, a.keptChannels()[i].length));
        }
        return out;
    }
}
