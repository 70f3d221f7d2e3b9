//! The CUDA kernel sources compile with NVRTC and define every kernel the
//! launchers look up. NVRTC needs no GPU, so this runs wherever the CUDA
//! toolkit's `libnvrtc` is installed; elsewhere it says why it skipped.

use kernels::cuda::{compile, CudaError, KERNELS};

#[test]
fn kernel_sources_compile_and_define_every_launched_kernel() {
    let ptx = match compile() {
        Ok(ptx) => ptx.to_src(),
        Err(CudaError::Unavailable(reason)) => {
            println!("skipped: {reason}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    for name in KERNELS {
        assert!(ptx.contains(&format!(".entry {name}(")), "kernel {name} missing from the PTX");
    }
}
