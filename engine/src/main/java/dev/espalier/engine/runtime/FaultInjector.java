package dev.espalier.engine.runtime;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test hook: makes the N-th kernel call of a job fail once (a simulated device fault), to show that supervision
 * restarts the pipeline from its last checkpoint and still gives the same result. Off unless constructed with N > 0.
 */
public final class FaultInjector {
    public static final FaultInjector NONE = new FaultInjector(0);

    private final int failCall;
    private final AtomicInteger calls = new AtomicInteger();

    public FaultInjector(int failCall) {
        this.failCall = failCall;
    }

    /** Throws on the configured call, once. */
    public void beforeCall(int device, String what) {
        if (failCall > 0 && calls.incrementAndGet() == failCall) {
            throw new IllegalStateException(
                    "injected fault in call " + failCall + " (" + what + ") on device " + device);
        }
    }
}
