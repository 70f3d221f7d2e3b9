// Reductions over any set of axes. `kept` walks the output elements and
// `reduced` the elements folded into each (offsets add, as both views share
// the input's strides). Op codes: 0 sum, 1 max, 2 min (NaN propagates).

__device__ __forceinline__ float combine(int op, float acc, float x) {
    if (op == 0) return acc + x;
    if (isnan(acc) || isnan(x)) return __int_as_float(0x7fc00000);
    return op == 1 ? fmaxf(acc, x) : fminf(acc, x);
}

__device__ __forceinline__ float identity(int op) {
    return op == 0 ? 0.0f : (op == 1 ? -INFINITY : INFINITY);
}

// One thread per output: for short reductions over many outputs.
extern "C" __global__ void reduce_rows_f32(float* out, const float* in, Layout kept, Layout reduced, int op, long long outputs, long long count) {
    GRID_STRIDE_LOOP(o, outputs) {
        long long base = strided_offset(kept, o);
        float acc = identity(op);
        for (long long r = 0; r < count; ++r) acc = combine(op, acc, in[base + strided_offset(reduced, r)]);
        out[o] = acc;
    }
}

// One block per output: for long reductions (a loss summed over an image).
// Threads stride over the reduced elements, then a tree in shared memory.
extern "C" __global__ void reduce_blocks_f32(float* out, const float* in, Layout kept, Layout reduced, int op, long long count) {
    __shared__ float partial[256];
    long long base = strided_offset(kept, blockIdx.x);
    float acc = identity(op);
    for (long long r = threadIdx.x; r < count; r += blockDim.x) acc = combine(op, acc, in[base + strided_offset(reduced, r)]);
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] = combine(op, partial[threadIdx.x], partial[threadIdx.x + half]);
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}
