// Upsampling of NCHW planes by an integer factor (nearest or bilinear),
// forward (gather) and backward (scatter with atomicAdd).

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
