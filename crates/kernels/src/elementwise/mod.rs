//! Element-wise unary and binary operations over strided operands with
//! broadcasting (a broadcast dimension has stride 0).
//!
//! Each op is a small type with a scalar and a SIMD form; the driver coalesces
//! dimensions, then runs unit-stride inner loops as vectors (both operands
//! contiguous, or one of them a broadcast scalar) and anything else as scalars.
//! [`binary_assign`] is the in-place form of [`binary`], run the same way.
//! Large outputs are split across threads by rows.

pub(crate) mod cuda_kernel;

use std::marker::PhantomData;

use rayon::prelude::*;

use crate::element::{Float, SimdVector};
use crate::strided::{coalesce, contiguous_strides, row_offsets, Strided};

/// The type of an op's parameter in the enums below.
macro_rules! op_parameter {
    ($name:ident) => {
        f64
    };
}

/// Defines an op enum and, from the same list, its GPU form: each variant
/// with its CUDA C expression. `cuda::program_source` generates the switch
/// of the op's CUDA kernel from `CUDA`, and `cuda_code` gives a variant's
/// case, so a variant cannot exist without its GPU kernel.
macro_rules! element_ops {
    (
        $(#[$enum_doc:meta])* $enum:ident, first code $first:literal:
        $( $(#[$doc:meta])* $name:ident $( ( $($param:ident),+ ) )? => $cuda:literal, )+
    ) => {
        $(#[$enum_doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum $enum {
            $( $(#[$doc])* $name $( ( $( op_parameter!($param) ),+ ) )?, )+
        }

        impl $enum {
            /// Each variant's name and CUDA C expression, in code order:
            /// variant `k` (from 0) is case `k + first code` of the kernel's
            /// switch. Parameters are `p0` and `p1`, in declaration order.
            pub const CUDA: &'static [(&'static str, &'static str)] = &[ $( (stringify!($name), $cuda), )+ ];

            /// The variant's case in the CUDA kernel's switch, and its
            /// parameters (0 where it has fewer than two).
            pub fn cuda_code(self) -> (i32, f32, f32) {
                let mut code = $first;
                $(
                    #[allow(unused_parens)]
                    if let $enum::$name $( ( $($param),+ ) )? = self {
                        let params: &[f64] = &[ $( $( $param ),+ )? ];
                        let param = |i: usize| params.get(i).map_or(0.0, |&p| p as f32);
                        return (code, param(0), param(1));
                    }
                    code += 1;
                )+
                unreachable!("{self:?}: every variant is listed above (code {code})")
            }
        }
    };
}

element_ops! {
    /// Element-wise functions of one argument. Parameters are f64 and
    /// converted to the element type. The CUDA expressions give `y` from `x`.
    UnaryOp, first code 1:
    /// −x
    Neg => "-x",
    /// eˣ
    Exp => "expf(x)",
    /// ln x
    Log => "logf(x)",
    /// √x
    Sqrt => "sqrtf(x)",
    /// |x|
    Abs => "fabsf(x)",
    /// x²
    Square => "x * x",
    /// 1/x
    Recip => "1.0f / x",
    /// max(x, 0)
    Relu => "x > 0.0f ? x : 0.0f",
    /// x for x > 0, slope·x otherwise
    LeakyRelu(slope) => "x > 0.0f ? x : p0 * x",
    /// tanh x
    Tanh => "tanhf(x)",
    /// 1 / (1 + e⁻ˣ)
    Sigmoid => "1.0f / (1.0f + expf(-x))",
    /// xᵖ
    Powf(exponent) => "powf(x, p0)",
    /// min(max(x, lo), hi)
    Clamp(lo, hi) => "fminf(fmaxf(x, p0), p1)",
    /// x + c
    AddScalar(c) => "x + p0",
    /// x · c
    MulScalar(c) => "x * p0",
    /// 1 where x > 0, else 0 (the derivative of relu)
    StepPositive => "x > 0.0f ? 1.0f : 0.0f",
    /// −1, 0 or 1
    Sign => "(float)((x > 0.0f) - (x < 0.0f))",
}

element_ops! {
    /// Element-wise functions of two arguments. The CUDA expressions give
    /// the result from `x` (a) and `y` (b).
    BinaryOp, first code 0:
    /// a + b
    Add => "x + y",
    /// a − b
    Sub => "x - y",
    /// a · b
    Mul => "x * y",
    /// a / b
    Div => "x / y",
    /// max(a, b)
    Max => "fmaxf(x, y)",
    /// min(a, b)
    Min => "fminf(x, y)",
    /// 1 where a > b, else 0
    Gt => "x > y ? 1.0f : 0.0f",
    /// 1 where a ≥ b, else 0
    Ge => "x >= y ? 1.0f : 0.0f",
    /// 1 where a == b, else 0
    Eq => "x == y ? 1.0f : 0.0f",
    /// a · [b > 0]: a gradient passed where b is positive (the ReLU's rule,
    /// with b its input or output), in one pass instead of a mask and a
    /// product; NaN or infinite a gives NaN where b ≤ 0, as that product did
    PassWherePositive => "x * (y > 0.0f ? 1.0f : 0.0f)",
}

impl Eq for BinaryOp {}

impl BinaryOp {
    /// Every binary op, in declaration order (the order of [`BinaryOp::CUDA`]).
    pub const ALL: [BinaryOp; 10] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Eq,
        BinaryOp::PassWherePositive,
    ];
}

/// Evaluates `$body` with `$kernel` bound to the kernel of the binary op
/// `$op` (one list for the out-of-place and in-place drivers).
macro_rules! with_binary_kernel {
    ($op:expr, |$kernel:ident| $body:expr) => {
        match $op {
            BinaryOp::Add => {
                let $kernel = &AddK;
                $body
            }
            BinaryOp::Sub => {
                let $kernel = &SubK;
                $body
            }
            BinaryOp::Mul => {
                let $kernel = &MulK;
                $body
            }
            BinaryOp::Div => {
                let $kernel = &DivK;
                $body
            }
            BinaryOp::Max => {
                let $kernel = &MaxK;
                $body
            }
            BinaryOp::Min => {
                let $kernel = &MinK;
                $body
            }
            BinaryOp::Gt => {
                let $kernel = &GtK;
                $body
            }
            BinaryOp::Ge => {
                let $kernel = &GeK;
                $body
            }
            BinaryOp::Eq => {
                let $kernel = &EqK;
                $body
            }
            BinaryOp::PassWherePositive => {
                let $kernel = &PassWherePositiveK;
                $body
            }
        }
    };
}

trait UnaryKernel<T: Float>: Sync {
    fn scalar(&self, x: T) -> T;
    fn vector(&self, x: T::Vector) -> T::Vector;
}

trait BinaryKernel<T: Float>: Sync {
    fn scalar(&self, a: T, b: T) -> T;
    fn vector(&self, a: T::Vector, b: T::Vector) -> T::Vector;
}

macro_rules! unary_kernel {
    ($name:ident { $($field:ident),* } |$s:ident, $x:ident| scalar: $scalar:expr, vector: $vector:expr) => {
        struct $name<T> { $($field: T,)* _t: PhantomData<T> }
        impl<T: Float> UnaryKernel<T> for $name<T> {
            #[inline(always)]
            #[allow(unused_variables)]
            fn scalar(&self, $x: T) -> T { let $s = self; $scalar }
            #[inline(always)]
            #[allow(unused_variables)]
            fn vector(&self, $x: T::Vector) -> T::Vector { let $s = self; $vector }
        }
    };
}

macro_rules! binary_kernel {
    ($name:ident |$a:ident, $b:ident| scalar: $scalar:expr, vector: $vector:expr) => {
        struct $name;
        impl<T: Float> BinaryKernel<T> for $name {
            #[inline(always)]
            fn scalar(&self, $a: T, $b: T) -> T {
                $scalar
            }
            #[inline(always)]
            fn vector(&self, $a: T::Vector, $b: T::Vector) -> T::Vector {
                $vector
            }
        }
    };
}

fn splat<T: Float>(x: T) -> T::Vector {
    T::Vector::splat(x)
}

unary_kernel!(NegK {} |s, x| scalar: -x, vector: -x);
unary_kernel!(ExpK {} |s, x| scalar: x.exp(), vector: x.exp());
unary_kernel!(LogK {} |s, x| scalar: x.ln(), vector: x.ln());
unary_kernel!(SqrtK {} |s, x| scalar: x.sqrt(), vector: x.sqrt());
unary_kernel!(AbsK {} |s, x| scalar: x.abs(), vector: x.abs());
unary_kernel!(SquareK {} |s, x| scalar: x * x, vector: x * x);
unary_kernel!(RecipK {} |s, x| scalar: T::ONE / x, vector: splat(T::ONE) / x);
unary_kernel!(ReluK {} |s, x| scalar: if x > T::ZERO { x } else { T::ZERO }, vector: x.max(splat(T::ZERO)));
unary_kernel!(LeakyReluK { slope } |s, x|
    scalar: if x > T::ZERO { x } else { s.slope * x },
    vector: x.max(splat(T::ZERO)) + splat(s.slope) * x.min(splat(T::ZERO)));
unary_kernel!(TanhK {} |s, x| scalar: x.tanh(), vector: x.tanh());
unary_kernel!(SigmoidK {} |s, x|
    scalar: T::ONE / (T::ONE + (-x).exp()),
    vector: splat(T::ONE) / (splat(T::ONE) + (-x).exp()));
unary_kernel!(PowfK { exponent } |s, x|
scalar: x.powf(s.exponent),
vector: {
    let mut values = [T::ZERO; 16];
    // SAFETY: 16 ≥ LANES for every Float type.
    unsafe { x.store(values.as_mut_ptr()) };
    for v in values.iter_mut().take(T::LANES) {
        *v = v.powf(s.exponent);
    }
    // SAFETY: as above.
    unsafe { T::Vector::load(values.as_ptr()) }
});
unary_kernel!(ClampK { lo, hi } |s, x|
    scalar: if x < s.lo { s.lo } else if x > s.hi { s.hi } else { x },
    vector: x.max(splat(s.lo)).min(splat(s.hi)));
unary_kernel!(AddScalarK { c } |s, x| scalar: x + s.c, vector: x + splat(s.c));
unary_kernel!(MulScalarK { c } |s, x| scalar: x * s.c, vector: x * splat(s.c));
unary_kernel!(StepPositiveK {} |s, x|
    scalar: if x > T::ZERO { T::ONE } else { T::ZERO },
    vector: x.gt_mask(splat(T::ZERO)));
unary_kernel!(SignK {} |s, x|
    scalar: if x > T::ZERO { T::ONE } else if x < T::ZERO { -T::ONE } else { T::ZERO },
    vector: x.gt_mask(splat(T::ZERO)) - splat(T::ZERO).gt_mask(x));

binary_kernel!(AddK |a, b| scalar: a + b, vector: a + b);
binary_kernel!(SubK |a, b| scalar: a - b, vector: a - b);
binary_kernel!(MulK |a, b| scalar: a * b, vector: a * b);
binary_kernel!(DivK |a, b| scalar: a / b, vector: a / b);
binary_kernel!(MaxK |a, b| scalar: if a >= b { a } else { b }, vector: a.max(b));
binary_kernel!(MinK |a, b| scalar: if a <= b { a } else { b }, vector: a.min(b));
binary_kernel!(GtK |a, b| scalar: if a > b { T::ONE } else { T::ZERO }, vector: a.gt_mask(b));
binary_kernel!(GeK |a, b| scalar: if a >= b { T::ONE } else { T::ZERO }, vector: a.ge_mask(b));
binary_kernel!(EqK |a, b| scalar: if a == b { T::ONE } else { T::ZERO }, vector: a.eq_mask(b));
binary_kernel!(PassWherePositiveK |a, b|
    scalar: a * if b > T::ZERO { T::ONE } else { T::ZERO },
    vector: a * b.gt_mask(splat(T::ZERO)));

/// Outputs below this many elements run on the calling thread.
const PARALLEL_THRESHOLD: usize = 1 << 15;

/// `out[i] = op(input[i])`, where `out` is contiguous with `shape`.
///
/// # Panics
/// If a layout is out of bounds or `out` has the wrong length.
pub fn unary<T: Float>(op: UnaryOp, shape: &[usize], input: Strided<'_, T>, out: &mut [T]) {
    let f = T::from_f64;
    match op {
        UnaryOp::Neg => unary_with(&NegK { _t: PhantomData }, shape, input, out),
        UnaryOp::Exp => unary_with(&ExpK { _t: PhantomData }, shape, input, out),
        UnaryOp::Log => unary_with(&LogK { _t: PhantomData }, shape, input, out),
        UnaryOp::Sqrt => unary_with(&SqrtK { _t: PhantomData }, shape, input, out),
        UnaryOp::Abs => unary_with(&AbsK { _t: PhantomData }, shape, input, out),
        UnaryOp::Square => unary_with(&SquareK { _t: PhantomData }, shape, input, out),
        UnaryOp::Recip => unary_with(&RecipK { _t: PhantomData }, shape, input, out),
        UnaryOp::Relu => unary_with(&ReluK { _t: PhantomData }, shape, input, out),
        UnaryOp::LeakyRelu(slope) => unary_with(&LeakyReluK { slope: f(slope), _t: PhantomData }, shape, input, out),
        UnaryOp::Tanh => unary_with(&TanhK { _t: PhantomData }, shape, input, out),
        UnaryOp::Sigmoid => unary_with(&SigmoidK { _t: PhantomData }, shape, input, out),
        UnaryOp::Powf(p) => unary_with(&PowfK { exponent: f(p), _t: PhantomData }, shape, input, out),
        UnaryOp::Clamp(lo, hi) => unary_with(&ClampK { lo: f(lo), hi: f(hi), _t: PhantomData }, shape, input, out),
        UnaryOp::AddScalar(c) => unary_with(&AddScalarK { c: f(c), _t: PhantomData }, shape, input, out),
        UnaryOp::MulScalar(c) => unary_with(&MulScalarK { c: f(c), _t: PhantomData }, shape, input, out),
        UnaryOp::StepPositive => unary_with(&StepPositiveK { _t: PhantomData }, shape, input, out),
        UnaryOp::Sign => unary_with(&SignK { _t: PhantomData }, shape, input, out),
    }
}

/// `out[i] = op(lhs[i], rhs[i])` with broadcasting, where `out` is contiguous
/// with `shape` and each operand has one stride per dimension of `shape`.
///
/// # Panics
/// If a layout is out of bounds or `out` has the wrong length.
pub fn binary<T: Float>(op: BinaryOp, shape: &[usize], lhs: Strided<'_, T>, rhs: Strided<'_, T>, out: &mut [T]) {
    with_binary_kernel!(op, |kernel| binary_with(kernel, shape, lhs, rhs, out))
}

/// `lhs[i] = op(lhs[i], rhs[i])` in place: the form of [`binary`] whose
/// output is its contiguous left operand (for a buffer nobody else reads,
/// such as a gradient about to be replaced). `rhs` has one stride per
/// dimension of `shape` (0 where it is broadcast).
///
/// # Panics
/// If `rhs`'s layout is out of bounds or `lhs` has the wrong length.
pub fn binary_assign<T: Float>(op: BinaryOp, shape: &[usize], lhs: &mut [T], rhs: Strided<'_, T>) {
    with_binary_kernel!(op, |kernel| binary_assign_with(kernel, shape, lhs, rhs))
}

/// `acc ← acc + scale·x` in place over two runs of one length (an axpy),
/// each product rounded before the sum as the separate multiply and add
/// kernels round them, so the result equals theirs bit for bit. In
/// parallel for long runs.
///
/// # Panics
/// If the runs' lengths differ.
pub fn add_scaled_assign<T: Float>(acc: &mut [T], x: &[T], scale: T) {
    assert_eq!(acc.len(), x.len(), "add_scaled: runs of {} and {} values", acc.len(), x.len());
    let run = |(acc, x): (&mut [T], &[T])| {
        let lanes = T::LANES;
        let whole = acc.len() / lanes * lanes;
        let s = T::Vector::splat(scale);
        for i in (0..whole).step_by(lanes) {
            // SAFETY: i + LANES ≤ whole ≤ both runs' length.
            unsafe {
                let sum = T::Vector::load(acc.as_ptr().add(i)) + T::Vector::load(x.as_ptr().add(i)) * s;
                sum.store(acc.as_mut_ptr().add(i));
            }
        }
        for (a, &v) in acc[whole..].iter_mut().zip(&x[whole..]) {
            *a += v * scale;
        }
    };
    if acc.len() < 2 * PARALLEL_THRESHOLD {
        run((acc, x));
    } else {
        acc.par_chunks_mut(PARALLEL_THRESHOLD).zip(x.par_chunks(PARALLEL_THRESHOLD)).for_each(run);
    }
}

/// Copies a strided layout into contiguous `out` (the `contiguous()` kernel).
pub fn copy_strided<T: Float>(shape: &[usize], input: Strided<'_, T>, out: &mut [T]) {
    unary_with(&MulScalarK { c: T::ONE, _t: PhantomData }, shape, input, out)
}

/// Runs `body(row range, out chunk)` over rows of `inner` elements, in
/// parallel for large outputs.
fn for_rows<T: Send>(out: &mut [T], inner: usize, body: impl Fn(usize, &mut [T]) + Sync) {
    let rows_per_chunk = (PARALLEL_THRESHOLD / inner.max(1)).max(1);
    if out.len() < 2 * PARALLEL_THRESHOLD {
        out.chunks_mut(inner * rows_per_chunk).enumerate().for_each(|(i, c)| body(i * rows_per_chunk, c));
    } else {
        out.par_chunks_mut(inner * rows_per_chunk).enumerate().for_each(|(i, c)| body(i * rows_per_chunk, c));
    }
}

fn unary_with<T: Float, K: UnaryKernel<T>>(kernel: &K, shape: &[usize], input: Strided<'_, T>, out: &mut [T]) {
    input.check("unary", shape);
    let count: usize = shape.iter().product();
    assert_eq!(out.len(), count, "unary: output of {} for shape {shape:?}", out.len());
    if count == 0 {
        return;
    }
    let out_strides = contiguous_strides(shape);
    let (shape, strides) = coalesce(shape, &[input.strides, &out_strides]);
    let inner = *shape.last().unwrap();
    let in_stride = *strides[0].last().unwrap();
    let data = input.data;
    for_rows(out, inner, |first_row, chunk| {
        for (r, run) in chunk.chunks_mut(inner).enumerate() {
            let [offset] = row_offsets(&shape, [&strides[0]], first_row + r);
            let start = input.offset + offset;
            if in_stride == 1 {
                unary_run(kernel, &data[start..start + inner], run);
            } else {
                for (j, slot) in run.iter_mut().enumerate() {
                    *slot = kernel.scalar(data[start + j * in_stride]);
                }
            }
        }
    });
}

#[inline(always)]
fn unary_run<T: Float, K: UnaryKernel<T>>(kernel: &K, src: &[T], dst: &mut [T]) {
    let lanes = T::LANES;
    let body = dst.len() / lanes * lanes;
    for (d, s) in dst[..body].chunks_exact_mut(lanes).zip(src.chunks_exact(lanes)) {
        // SAFETY: both chunks hold exactly LANES values.
        unsafe { kernel.vector(T::Vector::load(s.as_ptr())).store(d.as_mut_ptr()) };
    }
    for (d, &s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = kernel.scalar(s);
    }
}

fn binary_with<T: Float, K: BinaryKernel<T>>(
    kernel: &K,
    shape: &[usize],
    lhs: Strided<'_, T>,
    rhs: Strided<'_, T>,
    out: &mut [T],
) {
    lhs.check("binary", shape);
    rhs.check("binary", shape);
    let count: usize = shape.iter().product();
    assert_eq!(out.len(), count, "binary: output of {} for shape {shape:?}", out.len());
    if count == 0 {
        return;
    }
    let out_strides = contiguous_strides(shape);
    let (shape, strides) = coalesce(shape, &[lhs.strides, rhs.strides, &out_strides]);
    let inner = *shape.last().unwrap();
    let (ls, rs) = (*strides[0].last().unwrap(), *strides[1].last().unwrap());
    for_rows(out, inner, |first_row, chunk| {
        for (r, run) in chunk.chunks_mut(inner).enumerate() {
            let [lo, ro] = row_offsets(&shape, [&strides[0], &strides[1]], first_row + r);
            let (l0, r0) = (lhs.offset + lo, rhs.offset + ro);
            match (ls, rs) {
                (1, 1) => binary_run(kernel, &lhs.data[l0..l0 + inner], &rhs.data[r0..r0 + inner], run),
                (1, 0) => binary_run_scalar_rhs(kernel, &lhs.data[l0..l0 + inner], rhs.data[r0], run),
                (0, 1) => binary_run_scalar_lhs(kernel, lhs.data[l0], &rhs.data[r0..r0 + inner], run),
                _ => {
                    for (j, slot) in run.iter_mut().enumerate() {
                        *slot = kernel.scalar(lhs.data[l0 + j * ls], rhs.data[r0 + j * rs]);
                    }
                }
            }
        }
    });
}

fn binary_assign_with<T: Float, K: BinaryKernel<T>>(kernel: &K, shape: &[usize], lhs: &mut [T], rhs: Strided<'_, T>) {
    rhs.check("binary", shape);
    let count: usize = shape.iter().product();
    assert_eq!(lhs.len(), count, "binary: in-place operand of {} for shape {shape:?}", lhs.len());
    if count == 0 {
        return;
    }
    let own_strides = contiguous_strides(shape);
    let (shape, strides) = coalesce(shape, &[rhs.strides, &own_strides]);
    let inner = *shape.last().unwrap();
    let rs = *strides[0].last().unwrap();
    let lanes = T::LANES;
    for_rows(lhs, inner, |first_row, chunk| {
        for (r, run) in chunk.chunks_mut(inner).enumerate() {
            let [ro] = row_offsets(&shape, [&strides[0]], first_row + r);
            let r0 = rhs.offset + ro;
            if rs == 0 {
                // A broadcast scalar, as vectors like `binary_run_scalar_rhs`.
                let b = rhs.data[r0];
                let bv = T::Vector::splat(b);
                let body = inner / lanes * lanes;
                for d in run[..body].chunks_exact_mut(lanes) {
                    // SAFETY: the chunk holds exactly LANES values; the store
                    // overwrites the values just loaded from it.
                    unsafe { kernel.vector(T::Vector::load(d.as_ptr()), bv).store(d.as_mut_ptr()) };
                }
                for d in &mut run[body..] {
                    *d = kernel.scalar(*d, b);
                }
            } else if rs == 1 {
                let b = &rhs.data[r0..r0 + inner];
                let body = inner / lanes * lanes;
                for (d, y) in run[..body].chunks_exact_mut(lanes).zip(b.chunks_exact(lanes)) {
                    // SAFETY: both chunks hold exactly LANES values; the
                    // store overwrites the values just loaded from `d`.
                    unsafe {
                        kernel.vector(T::Vector::load(d.as_ptr()), T::Vector::load(y.as_ptr())).store(d.as_mut_ptr())
                    };
                }
                for (d, &y) in run[body..].iter_mut().zip(&b[body..]) {
                    *d = kernel.scalar(*d, y);
                }
            } else {
                for (j, slot) in run.iter_mut().enumerate() {
                    *slot = kernel.scalar(*slot, rhs.data[r0 + j * rs]);
                }
            }
        }
    });
}

#[inline(always)]
fn binary_run<T: Float, K: BinaryKernel<T>>(kernel: &K, a: &[T], b: &[T], dst: &mut [T]) {
    let lanes = T::LANES;
    let body = dst.len() / lanes * lanes;
    for ((d, x), y) in dst[..body].chunks_exact_mut(lanes).zip(a.chunks_exact(lanes)).zip(b.chunks_exact(lanes)) {
        // SAFETY: all three chunks hold exactly LANES values.
        unsafe { kernel.vector(T::Vector::load(x.as_ptr()), T::Vector::load(y.as_ptr())).store(d.as_mut_ptr()) };
    }
    for ((d, &x), &y) in dst[body..].iter_mut().zip(&a[body..]).zip(&b[body..]) {
        *d = kernel.scalar(x, y);
    }
}

#[inline(always)]
fn binary_run_scalar_rhs<T: Float, K: BinaryKernel<T>>(kernel: &K, a: &[T], b: T, dst: &mut [T]) {
    let lanes = T::LANES;
    let body = dst.len() / lanes * lanes;
    let bv = T::Vector::splat(b);
    for (d, x) in dst[..body].chunks_exact_mut(lanes).zip(a.chunks_exact(lanes)) {
        // SAFETY: both chunks hold exactly LANES values.
        unsafe { kernel.vector(T::Vector::load(x.as_ptr()), bv).store(d.as_mut_ptr()) };
    }
    for (d, &x) in dst[body..].iter_mut().zip(&a[body..]) {
        *d = kernel.scalar(x, b);
    }
}

#[inline(always)]
fn binary_run_scalar_lhs<T: Float, K: BinaryKernel<T>>(kernel: &K, a: T, b: &[T], dst: &mut [T]) {
    let lanes = T::LANES;
    let body = dst.len() / lanes * lanes;
    let av = T::Vector::splat(a);
    for (d, y) in dst[..body].chunks_exact_mut(lanes).zip(b.chunks_exact(lanes)) {
        // SAFETY: both chunks hold exactly LANES values.
        unsafe { kernel.vector(av, T::Vector::load(y.as_ptr())).store(d.as_mut_ptr()) };
    }
    for (d, &y) in dst[body..].iter_mut().zip(&b[body..]) {
        *d = kernel.scalar(a, y);
    }
}
