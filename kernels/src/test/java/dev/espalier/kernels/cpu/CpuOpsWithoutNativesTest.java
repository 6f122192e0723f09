package dev.espalier.kernels.cpu;

import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.TensorOpsContractTest;

/** The CPU backend with OpenBLAS switched off (its Java paths only) still meets the whole contract. */
class CpuOpsWithoutNativesTest extends TensorOpsContractTest {

    @Override
    protected TensorOps createBackend() {
        return new CpuOps(2, false);
    }
}
