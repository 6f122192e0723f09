package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CosineScheduleTest {

    @Test
    void officialScheduleStartsAtTheFullRateAndAnnealsToZero() {
        CosineSchedule s = CosineSchedule.official(2e-3, 15_000);
        assertEquals(2e-3, s.lr(0), 0.0);
        assertEquals(1e-3, s.lr(7_500), 1e-15);
        assertEquals(2e-3 * (1 + Math.cos(Math.PI * 14_999 / 15_000)) / 2, s.lr(14_999), 1e-18);
        assertEquals(0.0, s.lr(15_000), 1e-18);
        assertEquals(0.0, s.lr(20_000), 0.0);
    }

    @Test
    void warmUpRisesLinearlyFromZeroThenAnnealsToTheFloor() {
        CosineSchedule s = new CosineSchedule(1.0, 110, 10, 0.1);
        assertEquals(0.0, s.lr(0), 0.0);
        assertEquals(0.5, s.lr(5), 1e-15);
        assertEquals(1.0, s.lr(10), 1e-15);
        assertEquals(0.55, s.lr(60), 1e-12);
        assertEquals(0.1, s.lr(110), 1e-15);
        assertEquals(0.1, s.lr(500), 0.0);
    }
}
