// Shared definitions of fresco's CUDA kernels (compiled with NVRTC at run
// time; see mod.rs). Every kernel computes in f32 and indexes with 64-bit
// integers, so tensors past 2^31 elements work.

#define FRESCO_MAX_RANK 6

// NVRTC compiles without the C math headers.
#define INFINITY __int_as_float(0x7f800000)

// A strided view of up to FRESCO_MAX_RANK dimensions. Must match
// `Layout` in mod.rs field for field.
struct Layout {
    long long rank;
    long long shape[FRESCO_MAX_RANK];
    long long strides[FRESCO_MAX_RANK];
    long long offset;
};

// Storage offset of row-major element `index` of the view.
__device__ __forceinline__ long long strided_offset(const Layout& l, long long index) {
    long long offset = l.offset;
    for (int d = (int)l.rank - 1; d >= 0; --d) {
        long long i = index % l.shape[d];
        index /= l.shape[d];
        offset += i * l.strides[d];
    }
    return offset;
}

#define GRID_STRIDE_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)
