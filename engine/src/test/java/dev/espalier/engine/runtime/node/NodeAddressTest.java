package dev.espalier.engine.runtime.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.engine.job.CancellationToken;
import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.job.JobExecutors;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NodeAddressTest {

    @Test
    void parsesHostPortBracketedIpv6AndBarePort() {
        assertEquals(new NodeAddress("127.0.0.1", 7070), NodeAddress.parse("127.0.0.1:7070"));
        assertEquals(new NodeAddress("::1", 80), NodeAddress.parse("[::1]:80"));
        assertEquals("[::1]:80", NodeAddress.parse("[::1]:80").toString());
        assertEquals(new NodeAddress("127.0.0.1", 9000), NodeAddress.parse(" 9000\n"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NodeAddress.parse("host:"));
        assertEquals("node address 'host:' must be host:port, e.g. 127.0.0.1:7070", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NodeAddress.parse("host:70000"));
    }

    @Test
    void wildcardBindIsReachedThroughLoopback() {
        assertEquals(new NodeAddress("127.0.0.1", 5), NodeAddress.forLocalClient("0.0.0.0", 5));
        assertEquals(new NodeAddress("127.0.0.2", 5), NodeAddress.forLocalClient("127.0.0.2", 5));
    }

    @Test
    void methodLabelsRoundTripAndRegisteredExecutorsReplaceTheFallback() throws Exception {
        assertEquals("wanda-sp", PruneMethods.label(PruneMethod.PRUNE_METHOD_WANDA_SP));
        assertEquals("policy-gradient", PruneMethods.label(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT));
        for (PruneMethod method : PruneMethod.values()) {
            if (method != PruneMethod.UNRECOGNIZED && method != PruneMethod.PRUNE_METHOD_UNSPECIFIED) {
                assertEquals(method, JobSpecs.methodOf(PruneMethods.label(method)));
            }
        }
        assertEquals(PruneMethod.PRUNE_METHOD_WANDA_SP, JobSpecs.methodOf("WANDA_SP"));
        assertThrows(IllegalArgumentException.class, () -> JobSpecs.methodOf("obs"));

        JobSpec unknown = JobSpec.newBuilder().setMethodValue(99).build();
        UnsupportedOperationException e = assertThrows(
                UnsupportedOperationException.class,
                () -> new JobExecutors(Map.of()).forSpec(unknown).run(unknown, null, null, new CancellationToken()));
        assertEquals("method unrecognized is not available in this build", e.getMessage());
        JobExecutor mine = (spec, run, events, cancel) -> {};
        assertEquals(mine, new JobExecutors(Map.of(PruneMethod.UNRECOGNIZED, mine)).forSpec(unknown));
    }
}
