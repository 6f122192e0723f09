package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.protocol.v1.PolicySnapshot;
import org.junit.jupiter.api.Test;

class PolicyStateTest {
    private static final UnitLayout LAYOUT = new UnitLayout(new int[] {2, 1}, new int[] {3, 2}, true);

    private static PolicyState sample() {
        PolicyState s = PolicyState.of(
                LAYOUT,
                -8_123_456_789L,
                new double[] {0.1, Math.nextUp(0.2), 1},
                new double[] {0, 0.3333333333333333, 0.7, 1e-300, 0.99},
                new double[] {0.5, 0.25});
        s.setBaseline(2.718281828459045);
        s.advance(1234);
        return s;
    }

    @Test
    void roundTripsBitForBit() {
        PolicyState s = sample();
        byte[] bytes = s.toBytes();
        PolicyState back = PolicyState.fromBytes(bytes);
        assertEquals(s, back);
        assertArrayEquals(bytes, back.toBytes());
        assertEquals(1234, back.step());
        assertEquals(Double.doubleToLongBits(2.718281828459045), Double.doubleToLongBits(back.baseline()));
        assertEquals(LAYOUT, back.layout());
        assertArrayEquals(bytes, sample().toBytes(), "equal states serialise to equal bytes");
    }

    @Test
    void rejectsAnotherFormatVersionAndBadProbabilities() {
        PolicySnapshot p = sample().toSnapshot();
        assertThrows(
                IllegalArgumentException.class,
                () -> PolicyState.fromSnapshot(p.toBuilder().setFormatVersion(2).build()));
        assertThrows(
                IllegalArgumentException.class,
                () -> PolicyState.fromSnapshot(
                        p.toBuilder().setChannelKeepProbabilities(0, 1.5).build()));
        assertThrows(
                IllegalArgumentException.class,
                () -> PolicyState.fromSnapshot(
                        p.toBuilder().addHeadKeepProbabilities(0.5).build()));
        assertThrows(IllegalArgumentException.class, () -> PolicyState.fromBytes(new byte[] {(byte) 0xff, 1, 2}));
    }

    @Test
    void restoreRejectsACheckpointOfAnotherLayout() {
        PolicyGradientPruner pruner = new PolicyGradientPruner(
                PolicyGradientConfig.official(10, 0.5, 1e-3),
                PolicyState.uniform(new UnitLayout(new int[] {2, 1}, new int[] {3, 2}, false), 1, 0.5, 0.5, 1));
        assertThrows(IllegalArgumentException.class, () -> pruner.restore(sample().toBytes()));
    }
}
