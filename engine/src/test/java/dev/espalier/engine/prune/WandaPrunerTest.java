package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class WandaPrunerTest {

    @Test
    void scoresWeightTimesInputNormWithinEachRow() {
        try (Arena arena = Arena.ofConfined()) {
            // Input column norms: column 0 tiny, column 1 large, column 2 medium.
            Tensor x = Tensor.ofFloats(arena, new float[] {0.01f, 10f, 1f, 0.01f, 10f, 1f}, 2, 3);
            // Row 0: the largest |w| sits on the tiny input, so Wanda drops it while magnitude would not.
            Tensor w = Tensor.ofFloats(arena, new float[] {5f, 1f, 2f, 1f, 1f, 1f}, 2, 3);
            WandaPruner wanda = new WandaPruner();
            wanda.addBatch(x, null);
            LinearPruner.PruneOutcome outcome =
                    wanda.prune(w, SparsityPattern.UNSTRUCTURED, 1.0 / 3, new ReferenceOps());
            assertEquals(2, outcome.zeros());
            float[] expected = {0f, 1f, 2f, 0f, 1f, 1f};
            float[] actual = w.toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 0f, "weight " + i);
            }
        }
    }

    @Test
    void magnitudeDropsSmallestOverTheWholeMatrix() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.ofFloats(arena, new float[] {5f, -0.5f, 2f, 0.1f, -3f, 4f}, 2, 3);
            LinearPruner.PruneOutcome outcome =
                    new MagnitudePruner().prune(w, SparsityPattern.UNSTRUCTURED, 0.5, new ReferenceOps());
            assertEquals(3, outcome.zeros());
            float[] actual = w.toFloatArray();
            float[] expected = {5f, 0f, 0f, 0f, -3f, 4f};
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 0f, "weight " + i);
            }
        }
    }
}
