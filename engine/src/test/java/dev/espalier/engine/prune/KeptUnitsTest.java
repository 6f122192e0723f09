package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.engine.model.LlamaConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KeptUnitsTest {
    private static final LlamaConfig.LayerDims GQA = new LlamaConfig.LayerDims(8, 4, 172);

    @Test
    void compactDimsFollowTheKeptGroups() {
        KeptUnits kept = new KeptUnits(new int[] {2, 3, 6, 7}, new int[] {0, 5, 171});
        assertArrayEquals(new int[] {1, 3}, kept.kvHeads(GQA));
        assertEquals(new LlamaConfig.LayerDims(4, 2, 3), kept.dims(GQA));
    }

    @Test
    void groupsMustKeepEqualNumbersOfQueryHeads() {
        KeptUnits uneven = new KeptUnits(new int[] {0, 1, 2}, new int[] {0});
        assertThrows(IllegalArgumentException.class, () -> uneven.dims(GQA));
    }

    /** A layer whose attention was pruned away earlier (0 heads) can still lose channels. */
    @Test
    void layerWithoutAttentionKeepsOnlyChannels() {
        LlamaConfig.LayerDims noAttention = new LlamaConfig.LayerDims(0, 0, 10);
        KeptUnits kept = new KeptUnits(new int[0], new int[] {1, 4});
        assertArrayEquals(new int[0], kept.kvHeads(noAttention));
        assertEquals(new LlamaConfig.LayerDims(0, 0, 2), kept.dims(noAttention));
    }

    @Test
    void metadataRoundTrip() {
        KeptUnits kept = new KeptUnits(new int[] {0, 1, 4, 5}, new int[0]);
        KeptUnits back = KeptUnits.fromMetadata(kept.toMetadata());
        assertArrayEquals(kept.queryHeads(), back.queryHeads());
        assertArrayEquals(kept.channels(), back.channels());
        assertNull(KeptUnits.fromMetadata(Map.of("format", "pt")));
    }
}
