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

/// Every element-wise variant has a case in its generated CUDA switch, with
/// its own expression: no GPU or NVRTC needed.
#[test]
fn every_elementwise_variant_has_a_generated_case() {
    use kernels::cuda::program_source;
    use kernels::elementwise::{BinaryOp, UnaryOp};
    let source = program_source();
    let unary = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Recip,
        UnaryOp::Relu,
        UnaryOp::LeakyRelu(0.2),
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Powf(3.0),
        UnaryOp::Clamp(-1.0, 2.0),
        UnaryOp::AddScalar(0.5),
        UnaryOp::MulScalar(4.0),
        UnaryOp::StepPositive,
        UnaryOp::Sign,
    ];
    assert_eq!(unary.len(), UnaryOp::CUDA.len());
    for op in unary {
        let (code, p0, p1) = op.cuda_code();
        let (name, expr) = UnaryOp::CUDA[code as usize - 1];
        assert!(format!("{op:?}").starts_with(name), "{op:?} got the case of {name}");
        assert!(source.contains(&format!("case {code}: y = ({expr}); break; /* {name} */")), "{op:?}");
        match op {
            UnaryOp::LeakyRelu(s) | UnaryOp::Powf(s) | UnaryOp::AddScalar(s) | UnaryOp::MulScalar(s) => {
                assert_eq!((p0, p1), (s as f32, 0.0))
            }
            UnaryOp::Clamp(lo, hi) => assert_eq!((p0, p1), (lo as f32, hi as f32)),
            _ => assert_eq!((p0, p1), (0.0, 0.0)),
        }
    }
    let binary = BinaryOp::ALL;
    assert_eq!(binary.len(), BinaryOp::CUDA.len());
    for op in binary {
        let (code, _, _) = op.cuda_code();
        let (name, expr) = BinaryOp::CUDA[code as usize];
        assert_eq!(format!("{op:?}"), name);
        assert!(source.contains(&format!("case {code}: r = ({expr}); break; /* {name} */")), "{op:?}");
    }
}
