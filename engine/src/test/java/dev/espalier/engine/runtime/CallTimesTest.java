package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CallTimesTest {

    @Test
    void callsAddUpByKindWithoutTheirLayerNumbers() {
        assertEquals("solve q_proj", CallTimes.kind("solve q_proj of layer 12"));
        assertEquals("forward", CallTimes.kind("forward layer 3"));
        assertEquals("extract problems", CallTimes.kind("extract problems of layer 0"));
        assertEquals("embed", CallTimes.kind("embed"));
        CallTimes times = new CallTimes();
        assertTrue(times.isEmpty());
        times.add("forward layer 0", 1_000_000_000L);
        times.add("accumulate layer 0", 2_500_000_000L);
        times.add("forward layer 1", 500_000_000L);
        assertEquals("accumulate 2.5 s (1), forward 1.5 s (2)", times.describe());
    }
}
