// The kernels of Espalier's CUDA backend that no library call provides, compiled at run time by NVRTC
// (CudaKernels). Matrices are row-major with a row stride in elements; one block per row where a row is reduced,
// with a fixed reduction tree, so results do not depend on scheduling. Each mirrors ReferenceOps's arithmetic.

#define BLOCK 256

__device__ double block_sum(double v, double* shared) {
    int t = threadIdx.x;
    shared[t] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) shared[t] += shared[t + s];
        __syncthreads();
    }
    double r = shared[0];
    __syncthreads();
    return r;
}

__device__ double block_max(double v, double* shared) {
    int t = threadIdx.x;
    shared[t] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) shared[t] = fmax(shared[t], shared[t + s]);
        __syncthreads();
    }
    double r = shared[0];
    __syncthreads();
    return r;
}

// out[r] = x[r] * (float)(1 / sqrt(mean(x[r]^2) + eps)) * w, the mean in f64. Grid: rows.
extern "C" __global__ void rms_norm(const float* x, long long xs, const float* w, float eps, float* out,
                                    long long os, int d) {
    __shared__ double shared[BLOCK];
    const float* row = x + blockIdx.x * xs;
    double ss = 0;
    for (int c = threadIdx.x; c < d; c += BLOCK) ss += (double) row[c] * (double) row[c];
    ss = block_sum(ss, shared);
    float inv = (float) (1.0 / sqrt(ss / d + (double) eps));
    float* o = out + blockIdx.x * os;
    for (int c = threadIdx.x; c < d; c += BLOCK) o[c] = row[c] * inv * w[c];
}

// Rotate-half RoPE in place; the angle is the f32 product position * invFreq[i]. Grid: rows x heads.
extern "C" __global__ void rope(float* x, long long xs, int head_dim, int start, const float* inv_freq) {
    int half = head_dim / 2;
    float position = (float) (start + (int) blockIdx.x);
    float* base = x + blockIdx.x * xs + blockIdx.y * head_dim;
    for (int i = threadIdx.x; i < half; i += BLOCK) {
        float angle = position * inv_freq[i];
        float c = (float) cos((double) angle);
        float s = (float) sin((double) angle);
        float x0 = base[i];
        float x1 = base[i + half];
        base[i] = x0 * c - x1 * s;
        base[i + half] = x1 * c + x0 * s;
    }
}

// Causal (optionally sliding-window) softmax of scale * scores in place, max and sum in f64. Grid: rows.
extern "C" __global__ void causal_softmax(float* scores, long long ss, int t, int first_query, float scale,
                                          int window) {
    __shared__ double shared[BLOCK];
    float* row = scores + blockIdx.x * ss;
    long long position = (long long) first_query + blockIdx.x;
    long long vis = position + 1 < t ? position + 1 : t;
    int visible = vis < 0 ? 0 : (int) vis;
    int first = 0;
    if (window > 0) {
        long long f = position - window + 1;
        first = f < 0 ? 0 : (f > visible ? visible : (int) f);
    }
    double m = -__longlong_as_double(0x7ff0000000000000LL); // -inf without headers
    for (int c = first + threadIdx.x; c < visible; c += BLOCK) m = fmax(m, (double) scale * (double) row[c]);
    m = block_max(m, shared);
    double sum = 0;
    for (int c = first + threadIdx.x; c < visible; c += BLOCK) sum += exp((double) scale * (double) row[c] - m);
    sum = block_sum(sum, shared);
    for (int c = threadIdx.x; c < t; c += BLOCK) {
        row[c] = c >= first && c < visible ? (float) (exp((double) scale * (double) row[c] - m) / sum) : 0.0f;
    }
}

// out = silu(gate) * up, in f64 as the reference. Grid: rows.
extern "C" __global__ void silu_mul(const float* gate, long long gs, const float* up, long long us, float* out,
                                    long long os, int d) {
    for (int c = threadIdx.x; c < d; c += BLOCK) {
        double g = gate[blockIdx.x * gs + c];
        out[blockIdx.x * os + c] = (float) (g / (1 + exp(-g)) * (double) up[blockIdx.x * us + c]);
    }
}

// y += x. Grid: rows.
extern "C" __global__ void add(const float* x, long long xs, float* y, long long ys, int d) {
    for (int c = threadIdx.x; c < d; c += BLOCK) y[blockIdx.x * ys + c] += x[blockIdx.x * xs + c];
}

// y[r] += bias. Grid: rows.
extern "C" __global__ void add_row_vector(const float* bias, float* y, long long ys, int d) {
    for (int c = threadIdx.x; c < d; c += BLOCK) y[blockIdx.x * ys + c] += bias[c];
}

// y[r] *= scale. Grid: rows.
extern "C" __global__ void mul_row_vector(const float* scale, float* y, long long ys, int d) {
    for (int c = threadIdx.x; c < d; c += BLOCK) y[blockIdx.x * ys + c] *= scale[c];
}

// g[r][c] = g[c][r] for c < r: fills the lower triangle from the upper one. Grid: rows.
extern "C" __global__ void mirror_upper_f32(float* g, int n) {
    int r = blockIdx.x;
    for (int c = threadIdx.x; c < r; c += BLOCK) g[(long long) r * n + c] = g[(long long) c * n + r];
}

extern "C" __global__ void mirror_upper_f64(double* g, int n) {
    int r = blockIdx.x;
    for (int c = threadIdx.x; c < r; c += BLOCK) g[(long long) r * n + c] = g[(long long) c * n + r];
}

// a[r][c] = 0 for c > r. Grid: rows.
extern "C" __global__ void zero_upper_f32(float* a, int n) {
    int r = blockIdx.x;
    for (int c = r + 1 + threadIdx.x; c < n; c += BLOCK) a[(long long) r * n + c] = 0.0f;
}

extern "C" __global__ void zero_upper_f64(double* a, int n) {
    int r = blockIdx.x;
    for (int c = r + 1 + threadIdx.x; c < n; c += BLOCK) a[(long long) r * n + c] = 0.0;
}

// out = transpose(in), n x n. Grid: rows.
extern "C" __global__ void transpose_f64(const double* in, double* out, int n) {
    int r = blockIdx.x;
    for (int c = threadIdx.x; c < n; c += BLOCK) out[(long long) c * n + r] = in[(long long) r * n + c];
}

// out (rows, d) f64 contiguous = in (rows, d) f32 with row stride xs. Grid: rows.
extern "C" __global__ void widen_f32_f64(const float* in, long long xs, double* out, int d) {
    for (int c = threadIdx.x; c < d; c += BLOCK) out[(long long) blockIdx.x * d + c] = in[blockIdx.x * xs + c];
}
