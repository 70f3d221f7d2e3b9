//! Prints GFLOP/s of SGEMM and 3×3 convolution as plain tables, for the shapes
//! PyTorch's anchor scripts measure. Same as `fresco bench kernels`.
//!
//! ```text
//! cargo run --release --example kernel_gflops            # figures to quote
//! cargo run --release --example kernel_gflops -- --quick # a quick look
//! ```

use fresco::bench::{print_kernel_report, BenchConfig};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    print_kernel_report(if quick { BenchConfig::quick() } else { BenchConfig::standard() });
}
