//! What every launcher shares: the grid of a grid-stride kernel. The
//! launchers themselves live in each op family's folder beside its CUDA
//! source and CPU kernel (`elementwise/cuda_kernel.rs` by
//! `elementwise/elementwise.cu`, and so on), each taking device buffers and
//! the geometry its kernel needs, as the CPU kernels take slices.

use cudarc::driver::LaunchConfig;

/// Threads per block of the grid-stride kernels.
const BLOCK: u32 = 256;

/// A grid-stride launch over `n` items (capped: each thread loops).
pub(crate) fn items(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, 65_535) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}
