// Convolution by explicit im2col on the device (memory is plentiful there):
// the forward pass and the weight gradient are GEMMs against the column
// matrix, and the input gradient is a GEMM followed by col2im.

struct ConvGeometry {
    long long channels, height, width;        // one image
    long long kernel_h, kernel_w;
    long long stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    long long out_h, out_w;
};

// cols[(c, ky, kx)][(oy, ox)] = image[c][oy·s + ky·d − p][ox·s + kx·d − p], or 0.
extern "C" __global__ void im2col_f32(const float* image, float* cols, ConvGeometry g) {
    const long long pixels = g.out_h * g.out_w;
    const long long total = g.channels * g.kernel_h * g.kernel_w * pixels;
    GRID_STRIDE_LOOP(i, total) {
        long long row = i / pixels, p = i % pixels;
        long long c = row / (g.kernel_h * g.kernel_w), tap = row % (g.kernel_h * g.kernel_w);
        long long ky = tap / g.kernel_w, kx = tap % g.kernel_w;
        long long y = (p / g.out_w) * g.stride_h + ky * g.dil_h - g.pad_h;
        long long x = (p % g.out_w) * g.stride_w + kx * g.dil_w - g.pad_w;
        cols[i] = (y >= 0 && y < g.height && x >= 0 && x < g.width) ? image[(c * g.height + y) * g.width + x] : 0.0f;
    }
}

// The adjoint of im2col: each image pixel gathers the column entries that
// read it (no atomics needed).
extern "C" __global__ void col2im_f32(const float* cols, float* image, ConvGeometry g) {
    const long long pixels = g.out_h * g.out_w;
    const long long total = g.channels * g.height * g.width;
    GRID_STRIDE_LOOP(i, total) {
        long long c = i / (g.height * g.width), yx = i % (g.height * g.width);
        long long y = yx / g.width, x = yx % g.width;
        float sum = 0.0f;
        for (long long ky = 0; ky < g.kernel_h; ++ky) {
            long long ny = y + g.pad_h - ky * g.dil_h;
            if (ny < 0 || ny % g.stride_h != 0) continue;
            long long oy = ny / g.stride_h;
            if (oy >= g.out_h) continue;
            for (long long kx = 0; kx < g.kernel_w; ++kx) {
                long long nx = x + g.pad_w - kx * g.dil_w;
                if (nx < 0 || nx % g.stride_w != 0) continue;
                long long ox = nx / g.stride_w;
                if (ox >= g.out_w) continue;
                long long row = (c * g.kernel_h + ky) * g.kernel_w + kx;
                sum += cols[row * pixels + oy * g.out_w + ox];
            }
        }
        image[i] = sum;
    }
}

// out[n][o][p] += bias[o] over a batch of planes.
extern "C" __global__ void add_bias_f32(float* out, const float* bias, long long channels, long long pixels, long long n) {
    GRID_STRIDE_LOOP(i, n) { out[i] += bias[(i / pixels) % channels]; }
}
