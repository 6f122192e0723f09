"""torch.matmul TFLOP/s for square f32 and bf16 products on cuda:0, printed like CudaGemmBenchmark's table.

Same protocol as the Java side: inputs in device memory, 3 untimed runs, best of 10 timed ones (each
synchronised), 2n^3 operations; torch returns bf16 for bf16 inputs where CudaOps returns f32. TF32 is off so that f32 means f32, as cuBLAS is called by CudaOps (COMPUTE_32F).
"""
import sys
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
print(torch.cuda.get_device_name(0), "torch", torch.__version__, "CUDA", torch.version.cuda)
print("path      in         n       best        rate")
for n in [int(a) for a in sys.argv[1:]] or [4096, 8192]:
    for name, dtype in (("F32", torch.float32), ("BF16", torch.bfloat16)):
        a = torch.rand(n, n, device="cuda", dtype=dtype) * 2 - 1
        for _ in range(3):
            torch.matmul(a, a)
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(10):
            start = time.perf_counter()
            torch.matmul(a, a)
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        print(f"{'torch':<9} {name:<5} {n:6d} {best * 1e3:10.3f} ms {2 * n**3 / best / 1e12:8.1f} TFLOP/s")
