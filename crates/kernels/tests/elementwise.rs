//! Element-wise ops and reductions against scalar references, on random
//! shapes, broadcast patterns and permuted (non-contiguous) layouts.

use kernels::elementwise::{binary, copy_strided, unary, BinaryOp, UnaryOp};
use kernels::reduce::{reduce, sum_slice, ReduceOp};
use kernels::strided::{contiguous_strides, Strided};
use proptest::prelude::*;

/// A random shape of rank 1–4 with a random permutation of its storage order.
fn layout() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..7, 1..5)
        .prop_flat_map(|shape| {
            let rank = shape.len();
            (Just(shape), Just((0..rank).collect::<Vec<_>>()).prop_shuffle())
        })
        .prop_map(|(shape, order)| {
            // Store dimensions in `order` (outermost first), so strides are permuted.
            let mut strides = vec![0; shape.len()];
            let mut step = 1;
            for &d in order.iter().rev() {
                strides[d] = step;
                step *= shape[d];
            }
            (shape, strides)
        })
}

fn index_offset(index: &[usize], strides: &[usize]) -> usize {
    index.iter().zip(strides).map(|(i, s)| i * s).sum()
}

fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut all = vec![vec![]];
    for &n in shape {
        all = all.into_iter().flat_map(|p| (0..n).map(move |i| [p.clone(), vec![i]].concat())).collect();
    }
    all
}

fn unary_reference(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Abs => x.abs(),
        UnaryOp::Square => x * x,
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                s * x
            }
        }
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryOp::Powf(p) => x.powf(p),
        UnaryOp::Clamp(lo, hi) => x.clamp(lo, hi),
        UnaryOp::AddScalar(c) => x + c,
        UnaryOp::MulScalar(c) => x * c,
        UnaryOp::StepPositive => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        UnaryOp::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
    }
}

fn unary_ops() -> impl Strategy<Value = UnaryOp> {
    prop_oneof![
        Just(UnaryOp::Neg),
        Just(UnaryOp::Exp),
        Just(UnaryOp::Log),
        Just(UnaryOp::Sqrt),
        Just(UnaryOp::Abs),
        Just(UnaryOp::Square),
        Just(UnaryOp::Recip),
        Just(UnaryOp::Relu),
        Just(UnaryOp::Tanh),
        Just(UnaryOp::Sigmoid),
        Just(UnaryOp::StepPositive),
        Just(UnaryOp::Sign),
        (0.0f64..0.5).prop_map(UnaryOp::LeakyRelu),
        (-2.0f64..3.0).prop_map(UnaryOp::Powf),
        (-1.0f64..0.0, 0.0f64..1.0).prop_map(|(a, b)| UnaryOp::Clamp(a, b)),
        (-2.0f64..2.0).prop_map(UnaryOp::AddScalar),
        (-2.0f64..2.0).prop_map(UnaryOp::MulScalar),
    ]
}

fn binary_reference(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max => a.max(b),
        BinaryOp::Min => a.min(b),
        BinaryOp::Gt => (a > b) as u8 as f64,
        BinaryOp::Ge => (a >= b) as u8 as f64,
        BinaryOp::Eq => (a == b) as u8 as f64,
        BinaryOp::PassWherePositive => a * (b > 0.0) as u8 as f64,
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs()) || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn unary_matches_scalar_reference(op in unary_ops(), (shape, strides) in layout(), seed in any::<u32>()) {
        let count: usize = shape.iter().product();
        // Positive inputs for log/sqrt/powf, signed for the rest.
        let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Powf(_));
        let data: Vec<f64> = (0..count).map(|i| {
            let v = (((i as u64 * 2654435761 + seed as u64) % 2000) as f64 - 1000.0) / 250.0;
            if positive { v.abs() + 0.1 } else if v == 0.0 { 0.5 } else { v }
        }).collect();
        let data32: Vec<f32> = data.iter().map(|&v| v as f32).collect();
        let mut out = vec![0.0f64; count];
        let mut out32 = vec![0.0f32; count];
        unary(op, &shape, Strided { data: &data, offset: 0, strides: &strides }, &mut out);
        unary(op, &shape, Strided { data: &data32, offset: 0, strides: &strides }, &mut out32);
        let out_strides = contiguous_strides(&shape);
        for index in indices(&shape) {
            let expected = unary_reference(op, data[index_offset(&index, &strides)]);
            let at = index_offset(&index, &out_strides);
            prop_assert!(close(out[at], expected, 1e-12), "{op:?} f64 at {index:?}: {} vs {expected}", out[at]);
            prop_assert!(close(out32[at] as f64, expected, 2e-5), "{op:?} f32 at {index:?}: {} vs {expected}", out32[at]);
        }
    }

    #[test]
    fn binary_broadcasts_like_numpy(
        op in prop_oneof![Just(BinaryOp::Add), Just(BinaryOp::Sub), Just(BinaryOp::Mul), Just(BinaryOp::Div),
                          Just(BinaryOp::Max), Just(BinaryOp::Min), Just(BinaryOp::Gt), Just(BinaryOp::Ge), Just(BinaryOp::Eq),
                          Just(BinaryOp::PassWherePositive)],
        (shape, strides) in layout(),
        broadcast_mask in any::<u8>(),
        seed in any::<u32>(),
    ) {
        let count: usize = shape.iter().product();
        let lhs: Vec<f32> = (0..count).map(|i| (((i as u64 * 40503 + seed as u64) % 17) as f32 - 8.0) / 4.0).collect();
        // rhs: broadcast (stride 0) along the dimensions picked by the mask.
        let rhs_shape: Vec<usize> = shape.iter().enumerate().map(|(d, &n)| if broadcast_mask >> d & 1 == 1 { 1 } else { n }).collect();
        let rhs_contig = contiguous_strides(&rhs_shape);
        let rhs_strides: Vec<usize> = rhs_contig.iter().zip(&rhs_shape).map(|(&s, &n)| if n == 1 { 0 } else { s }).collect();
        let rhs: Vec<f32> = (0..rhs_shape.iter().product::<usize>()).map(|i| (((i * 7 + 3) % 11) as f32 - 5.0) / 2.0 + 0.25).collect();
        let mut out = vec![0.0f32; count];
        binary(op, &shape, Strided { data: &lhs, offset: 0, strides: &strides }, Strided { data: &rhs, offset: 0, strides: &rhs_strides }, &mut out);
        let out_strides = contiguous_strides(&shape);
        for index in indices(&shape) {
            let a = lhs[index_offset(&index, &strides)] as f64;
            let b = rhs[index_offset(&index, &rhs_strides)] as f64;
            let got = out[index_offset(&index, &out_strides)] as f64;
            prop_assert!(close(got, binary_reference(op, a, b), 1e-6), "{op:?}({a}, {b}) = {got}");
        }
    }

    #[test]
    fn reductions_match_reference(op in prop_oneof![Just(ReduceOp::Sum), Just(ReduceOp::Max), Just(ReduceOp::Min)],
                                  (shape, strides) in layout(), axes in any::<u8>(), seed in any::<u32>()) {
        let count: usize = shape.iter().product();
        let data: Vec<f64> = (0..count).map(|i| (((i as u64 * 2246822519 + seed as u64) % 1000) as f64 - 500.0) / 100.0).collect();
        let reduced: Vec<bool> = (0..shape.len()).map(|d| axes >> d & 1 == 1).collect();
        let kept_shape: Vec<usize> = shape.iter().zip(&reduced).filter(|(_, &r)| !r).map(|(&n, _)| n).collect();
        let mut out = vec![f64::NAN; kept_shape.iter().product()];
        reduce(op, &shape, Strided { data: &data, offset: 0, strides: &strides }, &reduced, &mut out);
        let mut expected = vec![match op { ReduceOp::Sum => 0.0, ReduceOp::Max => f64::NEG_INFINITY, ReduceOp::Min => f64::INFINITY }; out.len()];
        let kept_strides = contiguous_strides(&kept_shape);
        for index in indices(&shape) {
            let kept: Vec<usize> = index.iter().zip(&reduced).filter(|(_, &r)| !r).map(|(&i, _)| i).collect();
            let slot = &mut expected[index_offset(&kept, &kept_strides)];
            let v = data[index_offset(&index, &strides)];
            *slot = match op { ReduceOp::Sum => *slot + v, ReduceOp::Max => slot.max(v), ReduceOp::Min => slot.min(v) };
        }
        for (g, e) in out.iter().zip(&expected) {
            prop_assert!(close(*g, *e, 1e-12), "{op:?} over {reduced:?} of {shape:?}: {g} vs {e}");
        }
    }
}

#[test]
fn copy_strided_transposes() {
    let data: Vec<f32> = (0..6).map(|i| i as f32).collect();
    let mut out = vec![0.0; 6];
    // A 3x2 view of a 2x3 row-major matrix (its transpose).
    copy_strided(&[3, 2], Strided { data: &data, offset: 0, strides: &[1, 3] }, &mut out);
    assert_eq!(out, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
}

#[test]
fn max_propagates_nan_and_large_sums_are_accurate() {
    let mut data = vec![1.0f32; 100_000];
    data[77_777] = f32::NAN;
    let mut out = [0.0f32];
    reduce(ReduceOp::Max, &[100_000], Strided { data: &data, offset: 0, strides: &[1] }, &[true], &mut out);
    assert!(out[0].is_nan());
    let ones = vec![1.0f32; 3_000_001];
    assert_eq!(sum_slice(&ones), 3_000_001.0);
}

#[test]
fn large_parallel_binary_matches_serial() {
    let n = 300_000;
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let b = [2.0f32];
    let mut out = vec![0.0f32; n];
    binary(
        BinaryOp::Mul,
        &[n],
        Strided { data: &a, offset: 0, strides: &[1] },
        Strided { data: &b, offset: 0, strides: &[0] },
        &mut out,
    );
    assert!(out.iter().enumerate().all(|(i, &v)| v == i as f32));
}
