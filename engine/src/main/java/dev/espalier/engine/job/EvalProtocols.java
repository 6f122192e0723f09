package dev.espalier.engine.job;

import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.eval.PerplexityResult;

/** Conversions between the engine's perplexity types and their protobuf forms. */
public final class EvalProtocols {
    private EvalProtocols() {}

    public static PerplexityProtocol fromProto(dev.espalier.protocol.v1.PerplexityProtocol p) {
        return switch (p) {
            case PERPLEXITY_PROTOCOL_SEQ128 -> PerplexityProtocol.SEQ128;
            case PERPLEXITY_PROTOCOL_FULL -> PerplexityProtocol.FULL;
            default -> PerplexityProtocol.STREAM;
        };
    }

    public static dev.espalier.protocol.v1.PerplexityProtocol toProto(PerplexityProtocol p) {
        return switch (p) {
            case STREAM -> dev.espalier.protocol.v1.PerplexityProtocol.PERPLEXITY_PROTOCOL_STREAM;
            case SEQ128 -> dev.espalier.protocol.v1.PerplexityProtocol.PERPLEXITY_PROTOCOL_SEQ128;
            case FULL -> dev.espalier.protocol.v1.PerplexityProtocol.PERPLEXITY_PROTOCOL_FULL;
        };
    }

    public static dev.espalier.protocol.v1.PerplexityResult toProto(PerplexityResult r) {
        return dev.espalier.protocol.v1.PerplexityResult.newBuilder()
                .setDataset(r.dataset())
                .setProtocol(toProto(r.protocol()))
                .setTokensUsed(r.tokensUsed())
                .setTokensScored(r.tokensScored())
                .setMeanNll(r.meanNll())
                .setPerplexity(r.perplexity())
                .setWindow(r.window())
                .build();
    }
}
