//! GEMM against the definition, on random shapes, strides (transposed and
//! padded views) and values, in f32 and f64.

use kernels::gemm::{gemm, gemm_reference, MatMut, MatRef, MatrixSource};
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

/// Deterministic values in [-1, 1] with period `modulus`.
fn pattern(len: usize, step: usize, modulus: usize) -> Vec<f32> {
    let half = (modulus / 2) as f32;
    (0..len).map(|i| ((i * step % modulus) as f32 - half) / half).collect()
}

/// Runs `C = alpha·A·B + beta·C` (C starting as `c0`) fast and by the
/// definition, and checks they agree to 1e-4 relative.
fn assert_large_gemm_matches(alpha: f32, a: &MatRef<'_, f32>, b: &MatRef<'_, f32>, beta: f32, c0: Vec<f32>) {
    let (m, n) = (a.rows(), b.cols());
    let (mut fast, mut slow) = (c0.clone(), c0);
    gemm(alpha, a, b, beta, MatMut::row_major(&mut fast, m, n));
    gemm_reference(alpha, a, b, beta, MatMut::row_major(&mut slow, m, n));
    let worst = fast.iter().zip(&slow).map(|(f, s)| (f - s).abs() / (1.0 + s.abs())).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "{m}x{}x{n}: worst relative error {worst}", a.cols());
}

#[test]
fn large_square_crosses_every_block_boundary() {
    // 700 > MC, KC and NC/2 blocks, with ragged edges everywhere; C starts as
    // NaN, which beta = 0 must never read.
    let (m, k, n) = (701, 777, 689);
    let (a, b) = (pattern(m * k, 37, 101), pattern(k * n, 53, 89));
    assert_large_gemm_matches(
        1.0,
        &MatRef::row_major(&a, m, k),
        &MatRef::row_major(&b, k, n),
        0.0,
        vec![f32::NAN; m * n],
    );
}

#[test]
fn large_transposed_operands_cross_every_packing_run() {
    // Aᵀ stored column-major and B row-major with M and N past the 256-value
    // packing runs and MC, so runs split mid-panel; beta ≠ 0 reads C back.
    let (m, k, n) = (530, 70, 611);
    let (a, b) = (pattern(m * k, 29, 97), pattern(k * n, 31, 83));
    let at = MatRef::row_major(&a, k, m).t();
    assert_large_gemm_matches(0.5, &at, &MatRef::row_major(&b, k, n), -1.5, pattern(m * n, 1, 7));
}

#[test]
fn column_major_b_packs_whole_and_partial_panels() {
    // Bᵀ stored row-major (B's columns contiguous, as the Gram matrix's Fᵀ),
    // N past several 64-column panels with a partial last one, K past one
    // 384-deep slice.
    let (m, k, n) = (37, 400, 611);
    let (a, b) = (pattern(m * k, 29, 97), pattern(k * n, 31, 83));
    let bt = MatRef::row_major(&b, n, k).t();
    assert_large_gemm_matches(1.0, &MatRef::row_major(&a, m, k), &bt, 0.0, vec![f32::NAN; m * n]);
}

#[test]
fn wide_output_spans_several_column_blocks_and_depth_slices() {
    // N past NC (2048) with a ragged last panel, K past KC so later slices
    // accumulate onto the first, and few rows so each block is dealt out in
    // column runs: the shared packed B is refilled for every block and slice.
    let (m, k, n) = (13, 400, 2100);
    let (a, b) = (pattern(m * k, 41, 103), pattern(k * n, 43, 79));
    assert_large_gemm_matches(
        1.0,
        &MatRef::row_major(&a, m, k),
        &MatRef::row_major(&b, k, n),
        0.25,
        pattern(m * n, 1, 5),
    );
}

#[test]
fn small_output_over_a_long_depth_sums_split_slices() {
    // A Gram-like product (few outputs, K far past KC) takes the split-K
    // path: slices are computed apart and summed, then alpha and beta apply.
    let (m, k, n) = (20, 5000, 24);
    let (a, b) = (pattern(m * k, 47, 107), pattern(n * k, 59, 73));
    let bt = MatRef::row_major(&b, n, k).t();
    assert_large_gemm_matches(0.75, &MatRef::row_major(&a, m, k), &bt, 0.5, pattern(m * n, 1, 9));
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

/// A left operand packed once ([`PackedRows`]) gives the same product as the
/// row-major matrix it was packed from, to the bit (the same panels reach
/// the same microkernel), over several depth blocks and a partial last
/// panel of rows; read as an ordinary source it is that matrix.
fn packed_rows_agree<T: kernels::gemm::GemmFloat + std::fmt::Debug>() {
    use kernels::gemm::PackedRows;
    for (m, k, n) in [(13, 800, 70), (6, 5, 3), (512, 512, 64), (1, 1, 1)] {
        let a: Vec<T> = pattern(m * k, 7, 29).iter().map(|&v| T::from_f64(v as f64)).collect();
        let b: Vec<T> = pattern(k * n, 5, 31).iter().map(|&v| T::from_f64(v as f64)).collect();
        let mut packed = vec![T::ZERO; PackedRows::<T>::packed_len(m, k)];
        PackedRows::pack(&a, m, k, &mut packed);
        let view = PackedRows::view(&packed, m, k);
        // The product takes the panels in place: every depth block is
        // offered whole, from every panel of rows; other blocks are refused.
        let kc = view.depth_block();
        for k0 in (0..k).step_by(kc) {
            let kcur = kc.min(k - k0);
            for row0 in (0..m).step_by(T::MR) {
                let panels = view.packed_panels(row0, k0, kcur, kc).expect("a whole depth block");
                assert!(panels.len() >= (m - row0).div_ceil(T::MR) * T::MR * kcur);
            }
            assert!(view.packed_panels(0, k0, kcur, kc + 1).is_none(), "another blocking is refused");
        }
        let (mut plain, mut from_packed) = (vec![T::ZERO; m * n], vec![T::ZERO; m * n]);
        let bm = MatRef::row_major(&b, k, n);
        gemm(T::ONE, &MatRef::row_major(&a, m, k), &bm, T::ZERO, MatMut::row_major(&mut plain, m, n));
        gemm(T::ONE, &view, &bm, T::ZERO, MatMut::row_major(&mut from_packed, m, n));
        let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&from_packed), bits(&plain), "{m}x{k}x{n}");
        let mut row = vec![T::ZERO; k];
        view.read_row(m - 1, 0, k, &mut row, 1);
        assert_eq!(bits(&row), bits(&a[(m - 1) * k..]), "last row of {m}x{k}");
        let mut col = vec![T::ZERO; m];
        view.read_col(k - 1, 0, m, &mut col, 1);
        let expected: Vec<T> = (0..m).map(|i| a[i * k + k - 1]).collect();
        assert_eq!(bits(&col), bits(&expected), "last column of {m}x{k}");
    }
}

#[test]
fn a_left_operand_packed_once_gives_the_same_product() {
    packed_rows_agree::<f32>();
    packed_rows_agree::<f64>();
}
