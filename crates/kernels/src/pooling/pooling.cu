// Max and average pooling of NCHW planes, forward and backward. Forward
// kernels gather (one thread per output); the backward of overlapping
// windows scatters with atomicAdd into a zeroed gradient.

struct Pool {
    long long planes, height, width, out_h, out_w;
    long long kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

extern "C" __global__ void max_pool_f32(const float* in, float* out, int* indices, Pool p) {
    const long long total = p.planes * p.out_h * p.out_w;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (p.out_h * p.out_w), o = i % (p.out_h * p.out_w);
        long long y0 = (o / p.out_w) * p.stride_h - p.pad_h, x0 = (o % p.out_w) * p.stride_w - p.pad_w;
        float best = -INFINITY;
        long long arg = -1;
        for (long long ky = 0; ky < p.kernel_h; ++ky) {
            long long y = y0 + ky;
            if (y < 0 || y >= p.height) continue;
            for (long long kx = 0; kx < p.kernel_w; ++kx) {
                long long x = x0 + kx;
                if (x < 0 || x >= p.width) continue;
                float v = in[(plane * p.height + y) * p.width + x];
                if (arg < 0 || v > best || isnan(v)) { best = v; arg = y * p.width + x; }
            }
        }
        out[i] = best;
        indices[i] = (int)arg;
    }
}

extern "C" __global__ void max_pool_backward_f32(const float* grad_out, const int* indices, float* grad_in, Pool p) {
    const long long total = p.planes * p.out_h * p.out_w;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (p.out_h * p.out_w);
        if (indices[i] >= 0) atomicAdd(&grad_in[plane * p.height * p.width + indices[i]], grad_out[i]);
    }
}

__device__ __forceinline__ float window_count(const Pool& p, long long y0, long long x0, int include_pad) {
    if (include_pad) {
        long long y1 = min(y0 + p.kernel_h, p.height + p.pad_h), x1 = min(x0 + p.kernel_w, p.width + p.pad_w);
        return (float)((y1 - y0) * (x1 - x0));
    }
    long long ya = max(y0, 0LL), xa = max(x0, 0LL);
    long long yb = min(y0 + p.kernel_h, p.height), xb = min(x0 + p.kernel_w, p.width);
    return (float)(max(yb - ya, 0LL) * max(xb - xa, 0LL));
}

extern "C" __global__ void avg_pool_f32(const float* in, float* out, Pool p, int include_pad) {
    const long long total = p.planes * p.out_h * p.out_w;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (p.out_h * p.out_w), o = i % (p.out_h * p.out_w);
        long long y0 = (o / p.out_w) * p.stride_h - p.pad_h, x0 = (o % p.out_w) * p.stride_w - p.pad_w;
        float sum = 0.0f;
        for (long long y = max(y0, 0LL); y < min(y0 + p.kernel_h, p.height); ++y)
            for (long long x = max(x0, 0LL); x < min(x0 + p.kernel_w, p.width); ++x) sum += in[(plane * p.height + y) * p.width + x];
        float count = window_count(p, y0, x0, include_pad);
        out[i] = count > 0.0f ? sum / count : 0.0f;
    }
}

extern "C" __global__ void avg_pool_backward_f32(const float* grad_out, float* grad_in, Pool p, int include_pad) {
    const long long total = p.planes * p.out_h * p.out_w;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (p.out_h * p.out_w), o = i % (p.out_h * p.out_w);
        long long y0 = (o / p.out_w) * p.stride_h - p.pad_h, x0 = (o % p.out_w) * p.stride_w - p.pad_w;
        float count = window_count(p, y0, x0, include_pad);
        if (count <= 0.0f) continue;
        float share = grad_out[i] / count;
        for (long long y = max(y0, 0LL); y < min(y0 + p.kernel_h, p.height); ++y)
            for (long long x = max(x0, 0LL); x < min(x0 + p.kernel_w, p.width); ++x) atomicAdd(&grad_in[(plane * p.height + y) * p.width + x], share);
    }
}
