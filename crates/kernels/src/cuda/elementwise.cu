// Element-wise kernels over strided (and broadcast: stride 0) views, writing
// contiguous outputs. The op codes match `UnaryCode` and `BinaryCode` in
// elementwise.rs.

extern "C" __global__ void unary_f32(float* out, const float* a, Layout la, int op, float p0, float p1, long long n) {
    GRID_STRIDE_LOOP(i, n) {
        float x = a[strided_offset(la, i)];
        float y;
        switch (op) {
            case 0: y = x; break;                                   // copy
            case 1: y = -x; break;                                  // neg
            case 2: y = expf(x); break;                             // exp
            case 3: y = logf(x); break;                             // log
            case 4: y = sqrtf(x); break;                            // sqrt
            case 5: y = fabsf(x); break;                            // abs
            case 6: y = x * x; break;                               // square
            case 7: y = 1.0f / x; break;                            // recip
            case 8: y = x > 0.0f ? x : 0.0f; break;                 // relu
            case 9: y = x > 0.0f ? x : p0 * x; break;               // leaky relu
            case 10: y = tanhf(x); break;                           // tanh
            case 11: y = 1.0f / (1.0f + expf(-x)); break;           // sigmoid
            case 12: y = powf(x, p0); break;                        // powf
            case 13: y = fminf(fmaxf(x, p0), p1); break;            // clamp
            case 14: y = x + p0; break;                             // add scalar
            case 15: y = x * p0; break;                             // mul scalar
            case 16: y = x > 0.0f ? 1.0f : 0.0f; break;             // step
            case 17: y = (float)((x > 0.0f) - (x < 0.0f)); break;   // sign
            default: y = __int_as_float(0x7fc00000); break;         // unknown: NaN
        }
        out[i] = y;
    }
}

extern "C" __global__ void binary_f32(float* out, const float* a, Layout la, const float* b, Layout lb, int op, long long n) {
    GRID_STRIDE_LOOP(i, n) {
        float x = a[strided_offset(la, i)];
        float y = b[strided_offset(lb, i)];
        float r;
        switch (op) {
            case 0: r = x + y; break;
            case 1: r = x - y; break;
            case 2: r = x * y; break;
            case 3: r = x / y; break;
            case 4: r = fmaxf(x, y); break;
            case 5: r = fminf(x, y); break;
            case 6: r = x > y ? 1.0f : 0.0f; break;
            case 7: r = x >= y ? 1.0f : 0.0f; break;
            case 8: r = x == y ? 1.0f : 0.0f; break;
            default: r = __int_as_float(0x7fc00000); break;
        }
        out[i] = r;
    }
}

extern "C" __global__ void fill_f32(float* out, float value, long long n) {
    GRID_STRIDE_LOOP(i, n) { out[i] = value; }
}

// out[view_o i] = a[view_a i]: copies one strided view into another (cat).
extern "C" __global__ void scatter_copy_f32(float* out, Layout lo, const float* a, Layout la, long long n) {
    GRID_STRIDE_LOOP(i, n) { out[strided_offset(lo, i)] = a[strided_offset(la, i)]; }
}
