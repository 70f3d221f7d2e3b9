// Pooling, upsampling and padding of NCHW planes, forward and backward.
// Forward kernels gather (one thread per output); backward kernels of ops
// whose windows overlap scatter with atomicAdd into a zeroed gradient.

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

// Bilinear taps with align_corners = false, as the CPU kernel.
__device__ __forceinline__ void taps(long long o, long long factor, long long len, long long* i0, long long* i1, float* w) {
    float source = fmaxf(((float)o + 0.5f) / (float)factor - 0.5f, 0.0f);
    long long a = min((long long)floorf(source), len - 1);
    *i0 = a;
    *i1 = min(a + 1, len - 1);
    *w = source - (float)a;
}

extern "C" __global__ void upsample_f32(const float* in, float* out, long long planes, long long h, long long w, long long factor, int bilinear) {
    const long long oh = h * factor, ow = w * factor, total = planes * oh * ow;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (oh * ow), o = i % (oh * ow), oy = o / ow, ox = o % ow;
        const float* src = in + plane * h * w;
        if (!bilinear) {
            out[i] = src[(oy / factor) * w + ox / factor];
            continue;
        }
        long long y0, y1, x0, x1;
        float wy, wx;
        taps(oy, factor, h, &y0, &y1, &wy);
        taps(ox, factor, w, &x0, &x1, &wx);
        float top = src[y0 * w + x0] * (1.0f - wx) + src[y0 * w + x1] * wx;
        float bottom = src[y1 * w + x0] * (1.0f - wx) + src[y1 * w + x1] * wx;
        out[i] = top * (1.0f - wy) + bottom * wy;
    }
}

extern "C" __global__ void upsample_backward_f32(const float* grad_out, float* grad_in, long long planes, long long h, long long w, long long factor, int bilinear) {
    const long long oh = h * factor, ow = w * factor, total = planes * oh * ow;
    GRID_STRIDE_LOOP(i, total) {
        long long plane = i / (oh * ow), o = i % (oh * ow), oy = o / ow, ox = o % ow;
        float* dst = grad_in + plane * h * w;
        float g = grad_out[i];
        if (!bilinear) {
            atomicAdd(&dst[(oy / factor) * w + ox / factor], g);
            continue;
        }
        long long y0, y1, x0, x1;
        float wy, wx;
        taps(oy, factor, h, &y0, &y1, &wy);
        taps(ox, factor, w, &x0, &x1, &wx);
        atomicAdd(&dst[y0 * w + x0], g * (1.0f - wy) * (1.0f - wx));
        atomicAdd(&dst[y0 * w + x1], g * (1.0f - wy) * wx);
        atomicAdd(&dst[y1 * w + x0], g * wy * (1.0f - wx));
        atomicAdd(&dst[y1 * w + x1], g * wy * wx);
    }
}

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
