package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SparsityPatternTest {

    @Test
    void parsesUnstructuredAndNm() {
        assertEquals(SparsityPattern.UNSTRUCTURED, SparsityPattern.parse("unstructured"));
        assertEquals(new SparsityPattern(2, 4), SparsityPattern.parse("2:4"));
        assertEquals(0.5, SparsityPattern.parse("4:8").impliedSparsity(), 1e-12);
    }

    @Test
    void rejectsMalformedPatterns() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparsityPattern.parse("2-4"));
        assertTrue(e.getMessage().contains("2-4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SparsityPattern.parse("4:4"));
        assertThrows(IllegalArgumentException.class, () -> SparsityPattern.parse("0:4"));
    }

    @Test
    void validatesSparsityAgainstPattern() {
        assertEquals(0.5, SparsityPattern.parse("2:4").validate(0.5), 1e-12);
        assertEquals(0.5, SparsityPattern.parse("2:4").validate(Double.NaN), 1e-12);
        IllegalArgumentException nm = assertThrows(
                IllegalArgumentException.class,
                () -> SparsityPattern.parse("2:4").validate(0.6));
        assertTrue(nm.getMessage().contains("0.5"), nm.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SparsityPattern.UNSTRUCTURED.validate(0));
        assertThrows(IllegalArgumentException.class, () -> SparsityPattern.UNSTRUCTURED.validate(1));
        assertThrows(IllegalArgumentException.class, () -> SparsityPattern.UNSTRUCTURED.validate(Double.NaN));
    }
}
