// C = alpha·A·B + beta·C with any row and column strides on all three
// operands (so transposes are free), shared-memory tiled: a 64×64 tile of C
// per block of 16×16 threads, each thread accumulating a 4×4 sub-tile in
// registers while 64×16 and 16×64 slices of A and B pass through shared
// memory.

#define TILE 64
#define DEPTH 16

struct Matrix {
    long long rows, cols, row_stride, col_stride, offset;
};

extern "C" __global__ void sgemm_f32(const float* a, Matrix ma, const float* b, Matrix mb, float* c, Matrix mc, float alpha, float beta) {
    __shared__ float as[DEPTH][TILE];
    __shared__ float bs[DEPTH][TILE];
    const long long m = ma.rows, k = ma.cols, n = mb.cols;
    const long long row0 = (long long)blockIdx.y * TILE, col0 = (long long)blockIdx.x * TILE;
    const int tx = threadIdx.x, ty = threadIdx.y, t = ty * 16 + tx;
    float acc[4][4] = {{0.0f}};
    for (long long k0 = 0; k0 < k; k0 += DEPTH) {
        // 256 threads load 64×16 values of each operand, 4 apiece.
        for (int e = t; e < TILE * DEPTH; e += 256) {
            int r = e / DEPTH, kk = e % DEPTH;
            long long gr = row0 + r, gk = k0 + kk;
            as[kk][r] = (gr < m && gk < k) ? a[ma.offset + gr * ma.row_stride + gk * ma.col_stride] : 0.0f;
            int cc = e % TILE, kb = e / TILE;
            long long gc = col0 + cc, gkb = k0 + kb;
            bs[kb][cc] = (gkb < k && gc < n) ? b[mb.offset + gkb * mb.row_stride + gc * mb.col_stride] : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < DEPTH; ++kk) {
            float av[4], bv[4];
            for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
            for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i) {
        long long r = row0 + ty + 16 * i;
        if (r >= m) continue;
        for (int j = 0; j < 4; ++j) {
            long long col = col0 + tx + 16 * j;
            if (col >= n) continue;
            float* slot = &c[mc.offset + r * mc.row_stride + col * mc.col_stride];
            *slot = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *slot;
        }
    }
}
