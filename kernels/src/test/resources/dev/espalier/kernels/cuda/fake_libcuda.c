// A stand-in for libcuda.so.1 for tests on hosts without a GPU: cuInit answers CUINIT_STATUS (set with -D), the
// device queries describe FAKE_DEVICES devices. It lets the tests drive the FFM bindings of CudaDriver and the
// messages a user sees, without the NVIDIA driver.
#include <string.h>

#ifndef CUINIT_STATUS
#define CUINIT_STATUS 0
#endif
#ifndef FAKE_DEVICES
#define FAKE_DEVICES 2
#endif

static const char* name_of(int status) {
    switch (status) {
        case 0: return "CUDA_SUCCESS";
        case 34: return "CUDA_ERROR_STUB_LIBRARY";
        case 100: return "CUDA_ERROR_NO_DEVICE";
        case 101: return "CUDA_ERROR_INVALID_DEVICE";
        default: return 0;
    }
}

int cuGetErrorName(int status, const char** out) {
    const char* n = name_of(status);
    if (!n) return 1;
    *out = n;
    return 0;
}

int cuGetErrorString(int status, const char** out) {
    *out = status == 100 ? "no CUDA-capable device is detected" : "fake error";
    return 0;
}

int cuInit(unsigned int flags) { return flags == 0 ? CUINIT_STATUS : 1; }
int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
int cuDeviceGetCount(int* n) { *n = FAKE_DEVICES; return 0; }
int cuDeviceGet(int* d, int ordinal) {
    if (ordinal < 0 || ordinal >= FAKE_DEVICES) return 101;
    *d = ordinal;
    return 0;
}
int cuDeviceGetName(char* name, int len, int d) {
    strncpy(name, d == 0 ? "Fake GPU zero" : "Fake GPU one", len);
    return 0;
}
int cuDeviceTotalMem_v2(unsigned long long* bytes, int d) { *bytes = (80ULL << 30) + d; return 0; }
int cuDeviceGetAttribute(int* v, int attribute, int d) {
    if (attribute == 75) { *v = 9; return 0; }
    if (attribute == 76) { *v = 0; return 0; }
    return 1;
}

// Present so that every binding resolves; never called by the tests.
int cuDevicePrimaryCtxRetain(void** c, int d) { return 999; }
int cuDevicePrimaryCtxRelease_v2(int d) { return 999; }
int cuCtxSetCurrent(void* c) { return 999; }
int cuStreamCreate(void** s, unsigned int f) { return 999; }
int cuStreamSynchronize(void* s) { return 999; }
int cuStreamDestroy_v2(void* s) { return 999; }
int cuMemAlloc_v2(unsigned long long* p, unsigned long long n) { return 999; }
int cuMemFree_v2(unsigned long long p) { return 999; }
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* h, unsigned long long n, void* s) { return 999; }
int cuMemcpyDtoHAsync_v2(void* h, unsigned long long d, unsigned long long n, void* s) { return 999; }
int cuMemsetD8Async(unsigned long long d, unsigned char v, unsigned long long n, void* s) { return 999; }
int cuModuleLoadData(void** m, const void* image) { return 999; }
int cuModuleGetFunction(void** f, void* m, const char* name) { return 999; }
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void* s, void** params, void** extra) { return 999; }
