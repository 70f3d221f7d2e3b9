// Padding of NCHW planes (zero, reflect, replicate), forward and backward.

// Source index of padded coordinate `i` (−1 for a zero border). Modes:
// 0 zero, 1 reflect, 2 replicate, as PadMode.
__device__ __forceinline__ long long pad_source(long long i, long long before, long long len, int mode) {
    long long j = i - before;
    if (j >= 0 && j < len) return j;
    if (mode == 0) return -1;
    if (mode == 2) return j < 0 ? 0 : len - 1;
    return j < 0 ? -j : 2 * (len - 1) - j;
}

struct Padding {
    long long planes, height, width, top, bottom, left, right;
};

extern "C" __global__ void pad_f32(const float* in, float* out, Padding p, int mode) {
    const long long oh = p.height + p.top + p.bottom, ow = p.width + p.left + p.right, total = p.planes * oh * ow;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (oh * ow), o = i % (oh * ow);
        long long y = pad_source(o / ow, p.top, p.height, mode), x = pad_source(o % ow, p.left, p.width, mode);
        out[i] = (y < 0 || x < 0) ? 0.0f : in[(plane * p.height + y) * p.width + x];
    }
}

extern "C" __global__ void pad_backward_f32(const float* grad_out, float* grad_in, Padding p, int mode) {
    const long long oh = p.height + p.top + p.bottom, ow = p.width + p.left + p.right, total = p.planes * oh * ow;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (oh * ow), o = i % (oh * ow);
        long long y = pad_source(o / ow, p.top, p.height, mode), x = pad_source(o % ow, p.left, p.width, mode);
        if (y >= 0 && x >= 0) atomicAdd(&grad_in[(plane * p.height + y) * p.width + x], grad_out[i]);
    }
}
