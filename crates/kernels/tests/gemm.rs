//! GEMM against the definition, on random shapes, strides (transposed and
//! padded views) and values, in f32 and f64.

use kernels::gemm::{gemm, gemm_reference, MatMut, MatRef};
use kernels::Float;
use proptest::prelude::*;

/// A matrix stored with a random layout: row-major or column-major, with
/// padding between rows/columns.
#[derive(Debug, Clone)]
struct Stored {
    data: Vec<f64>,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

fn stored(rows: usize, cols: usize) -> impl Strategy<Value = Stored> {
    (any::<bool>(), 0usize..3).prop_flat_map(move |(transposed, pad)| {
        let (row_stride, col_stride) = if transposed { (1, rows + pad) } else { (cols + pad, 1) };
        let len = if rows == 0 || cols == 0 { 0 } else { (rows - 1) * row_stride + (cols - 1) * col_stride + 1 };
        prop::collection::vec(-1.0f64..1.0, len).prop_map(move |data| Stored {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    })
}

fn cast<T: Float>(values: &[f64]) -> Vec<T> {
    values.iter().map(|&v| T::from_f64(v)).collect()
}

fn check<T: kernels::gemm::GemmFloat>(
    a: &Stored,
    b: &Stored,
    alpha: f64,
    beta: f64,
    c0: &[f64],
    tol: f64,
) -> Result<(), TestCaseError> {
    let (m, n) = (a.rows, b.cols);
    let (ad, bd) = (cast::<T>(&a.data), cast::<T>(&b.data));
    let am = MatRef::new(&ad, a.rows, a.cols, a.row_stride, a.col_stride);
    let bm = MatRef::new(&bd, b.rows, b.cols, b.row_stride, b.col_stride);
    let mut fast = cast::<T>(c0);
    let mut slow = fast.clone();
    gemm(T::from_f64(alpha), &am, &bm, T::from_f64(beta), MatMut::row_major(&mut fast, m, n));
    gemm_reference(T::from_f64(alpha), &am, &bm, T::from_f64(beta), MatMut::row_major(&mut slow, m, n));
    for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
        let (f, s) = (f.to_f64(), s.to_f64());
        prop_assert!((f - s).abs() <= tol * (1.0 + s.abs()), "{} element {i}: {f} vs {s}", T::NAME);
    }
    Ok(())
}

fn problem() -> impl Strategy<Value = (Stored, Stored, f64, f64, Vec<f64>)> {
    (1usize..80, 0usize..300, 1usize..150).prop_flat_map(|(m, k, n)| {
        (
            stored(m, k),
            stored(k, n),
            prop_oneof![Just(1.0), -2.0f64..2.0],
            prop_oneof![Just(0.0), Just(1.0), -1.0f64..1.0],
            prop::collection::vec(-1.0f64..1.0, m * n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sgemm_matches_definition((a, b, alpha, beta, c0) in problem()) {
        check::<f32>(&a, &b, alpha, beta, &c0, 1e-4)?;
    }

    #[test]
    fn dgemm_matches_definition((a, b, alpha, beta, c0) in problem()) {
        check::<f64>(&a, &b, alpha, beta, &c0, 1e-12)?;
    }
}

#[test]
fn large_square_crosses_every_block_boundary() {
    // 700 > MC, KC and NC/2 blocks, with ragged edges everywhere.
    let (m, k, n) = (701, 777, 689);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 53 % 89) as f32 - 44.0) / 44.0).collect();
    let (am, bm) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
    let mut fast = vec![f32::NAN; m * n];
    let mut slow = vec![0.0; m * n];
    gemm(1.0, &am, &bm, 0.0, MatMut::row_major(&mut fast, m, n));
    gemm_reference(1.0, &am, &bm, 0.0, MatMut::row_major(&mut slow, m, n));
    let worst = fast.iter().zip(&slow).map(|(f, s)| (f - s).abs() / (1.0 + s.abs())).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "worst relative error {worst}");
}

#[test]
fn large_transposed_operands_cross_every_packing_run() {
    // Aᵀ stored column-major and B row-major with M and N past the 256-value
    // packing runs and MC, so runs split mid-panel; beta ≠ 0 reads C back.
    let (m, k, n) = (530, 70, 611);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 29 % 97) as f32 - 48.0) / 48.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 31 % 83) as f32 - 41.0) / 41.0).collect();
    let at = MatRef::row_major(&a, k, m).t();
    let bm = MatRef::row_major(&b, k, n);
    let c0: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32 - 3.0).collect();
    let (mut fast, mut slow) = (c0.clone(), c0);
    gemm(0.5, &at, &bm, -1.5, MatMut::row_major(&mut fast, m, n));
    gemm_reference(0.5, &at, &bm, -1.5, MatMut::row_major(&mut slow, m, n));
    let worst = fast.iter().zip(&slow).map(|(f, s)| (f - s).abs() / (1.0 + s.abs())).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "worst relative error {worst}");
}

#[test]
fn wide_output_spans_several_column_blocks_and_depth_slices() {
    // N past NC (2048) with a ragged last panel, K past KC so later slices
    // accumulate onto the first, and few rows so each block is dealt out in
    // column runs: the shared packed B is refilled for every block and slice.
    let (m, k, n) = (13, 400, 2100);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 41 % 103) as f32 - 51.0) / 51.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 43 % 79) as f32 - 39.0) / 39.0).collect();
    let (am, bm) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
    let c0: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
    let (mut fast, mut slow) = (c0.clone(), c0);
    gemm(1.0, &am, &bm, 0.25, MatMut::row_major(&mut fast, m, n));
    gemm_reference(1.0, &am, &bm, 0.25, MatMut::row_major(&mut slow, m, n));
    let worst = fast.iter().zip(&slow).map(|(f, s)| (f - s).abs() / (1.0 + s.abs())).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "worst relative error {worst}");
}

#[test]
fn beta_zero_ignores_nan_in_output() {
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let mut c = [f32::NAN; 4];
    gemm(1.0, &MatRef::row_major(&a, 2, 2), &MatRef::row_major(&a, 2, 2), 0.0, MatMut::row_major(&mut c, 2, 2));
    assert_eq!(c, [7.0, 10.0, 15.0, 22.0]);
}

#[test]
#[should_panic(expected = "overlap")]
fn overlapping_output_strides_are_rejected() {
    let mut c = [0.0f32; 8];
    let _ = MatMut::new(&mut c, 2, 4, 1, 1);
}
