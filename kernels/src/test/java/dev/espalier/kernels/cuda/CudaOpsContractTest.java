package dev.espalier.kernels.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.TensorOpsContractTest;
import org.junit.jupiter.api.BeforeAll;

/**
 * The CUDA backend on cuda:0 against the contract. Runs only on a host with a GPU and the CUDA libraries; elsewhere
 * every test is skipped and the reason is printed (the one line {@code --devices cuda} would print), unless
 * {@code ESPALIER_REQUIRE_GPU} is set, as {@code scripts/device-check} sets it: then a missing GPU fails.
 */
class CudaOpsContractTest extends TensorOpsContractTest {

    @BeforeAll
    static void requireGpu() {
        String reason = CudaHost.unavailableReason();
        if (reason != null && System.getenv("ESPALIER_REQUIRE_GPU") != null) {
            fail("ESPALIER_REQUIRE_GPU is set but " + reason); // scripts/device-check: a skip must not pass there
        }
        if (reason != null) {
            System.out.println("CudaOpsContractTest skipped: " + reason);
        }
        assumeTrue(reason == null, reason);
    }

    @Override
    protected TensorOps createBackend() {
        return CudaOps.open(0, 2);
    }
}
