//! Convolution and its gradients against the definition, on random
//! geometries (stride, padding, dilation, rectangular kernels).
//!
//! The gradients are checked through the adjoint identities that define them:
//! `⟨dY, conv(X, W)⟩` is linear in X and in W, so
//! `⟨backward_input(dY), X⟩ = ⟨dY, conv(X, W)⟩ = ⟨backward_weight(X, dY), W⟩`,
//! and additionally element-wise against a direct reference.

use kernels::conv::*;
use proptest::prelude::*;

fn geometry() -> impl Strategy<Value = Conv2dGeometry> {
    (
        // Input channels on both sides of 16: fewer go by col2im, more by
        // the gathered GEMM (where Winograd does not apply).
        (1usize..3, prop_oneof![1usize..5, 16usize..18], 1usize..12, 1usize..12, 1usize..6),
        (1usize..4, 1usize..4, 1usize..3, 1usize..3),
        (0usize..3, 0usize..3, 1usize..3, 1usize..3),
    )
        .prop_map(|((batch, ci, h, w, co), (kh, kw, sy, sx), (py, px, dy, dx))| Conv2dGeometry {
            batch,
            in_channels: ci,
            in_height: h,
            in_width: w,
            out_channels: co,
            kernel_height: kh,
            kernel_width: kw,
            stride: (sy, sx),
            padding: (py, px),
            dilation: (dy, dx),
        })
        .prop_filter("kernel must fit", |g| g.validate().is_ok())
}

fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Direct gradient to the input by scattering the definition.
fn backward_input_reference(g: &Conv2dGeometry, dy: &[f64], w: &[f64]) -> Vec<f64> {
    let (oh, ow) = (g.out_height(), g.out_width());
    let mut dx = vec![0.0; g.input_len()];
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            for y in 0..oh {
                for x in 0..ow {
                    let go = dy[((n * g.out_channels + o) * oh + y) * ow + x];
                    for c in 0..g.in_channels {
                        for ky in 0..g.kernel_height {
                            for kx in 0..g.kernel_width {
                                let iy = (y * g.stride.0 + ky * g.dilation.0) as isize - g.padding.0 as isize;
                                let ix = (x * g.stride.1 + kx * g.dilation.1) as isize - g.padding.1 as isize;
                                if iy < 0 || ix < 0 || iy >= g.in_height as isize || ix >= g.in_width as isize {
                                    continue;
                                }
                                dx[((n * g.in_channels + c) * g.in_height + iy as usize) * g.in_width + ix as usize] +=
                                    go * w[((o * g.in_channels + c) * g.kernel_height + ky) * g.kernel_width + kx];
                            }
                        }
                    }
                }
            }
        }
    }
    dx
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn forward_matches_definition(g in geometry(), seed in any::<u64>(), with_bias in any::<bool>()) {
        let x = values(g.input_len(), seed);
        let w = values(g.weight_len(), seed ^ 1);
        let b = values(g.out_channels, seed ^ 2);
        let bias = with_bias.then_some(&b[..]);
        let mut y = vec![f64::NAN; g.output_len()];
        conv2d_forward(&g, &x, &w, bias, &mut y);
        let reference = conv2d_forward_reference(&g, &x, &w, bias);
        for (i, (a, r)) in y.iter().zip(&reference).enumerate() {
            prop_assert!((a - r).abs() < 1e-12, "element {i}: {a} vs {r}");
        }
        // f32 path too.
        let (x32, w32): (Vec<f32>, Vec<f32>) = (x.iter().map(|&v| v as f32).collect(), w.iter().map(|&v| v as f32).collect());
        let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let mut y32 = vec![f32::NAN; g.output_len()];
        conv2d_forward(&g, &x32, &w32, with_bias.then_some(&b32[..]), &mut y32);
        for (a, r) in y32.iter().zip(&reference) {
            prop_assert!((*a as f64 - r).abs() < 1e-4 * (1.0 + r.abs()));
        }
    }

    #[test]
    fn gradients_match_definition(g in geometry(), seed in any::<u64>()) {
        let x = values(g.input_len(), seed);
        let w = values(g.weight_len(), seed ^ 1);
        let dy = values(g.output_len(), seed ^ 2);
        let mut dx = vec![f64::NAN; g.input_len()];
        let mut dw = vec![f64::NAN; g.weight_len()];
        let mut db = vec![f64::NAN; g.out_channels];
        conv2d_backward_input(&g, &dy, &w, &mut dx);
        conv2d_backward_weight(&g, &x, &dy, &mut dw);
        conv2d_backward_bias(&g, &dy, &mut db);
        let reference = backward_input_reference(&g, &dy, &w);
        for (i, (a, r)) in dx.iter().zip(&reference).enumerate() {
            prop_assert!((a - r).abs() < 1e-12, "dX element {i}: {a} vs {r}");
        }
        let y = conv2d_forward_reference(&g, &x, &w, None);
        let energy = dot(&dy, &y);
        prop_assert!((dot(&dw, &w) - energy).abs() < 1e-9 * (1.0 + energy.abs()), "<dW, W> {} vs {energy}", dot(&dw, &w));
        // dW element-wise: the derivative of <dY, conv(X, W)> along a unit W.
        for probe in 0..g.weight_len().min(7) {
            let mut unit = vec![0.0; g.weight_len()];
            unit[probe] = 1.0;
            let expected = dot(&dy, &conv2d_forward_reference(&g, &x, &unit, None));
            prop_assert!((dw[probe] - expected).abs() < 1e-9 * (1.0 + expected.abs()), "dW[{probe}] {} vs {expected}", dw[probe]);
        }
        let pixels = g.out_height() * g.out_width();
        for (o, &value) in db.iter().enumerate() {
            let expected: f64 = (0..g.batch).map(|n| dy[(n * g.out_channels + o) * pixels..][..pixels].iter().sum::<f64>()).sum();
            prop_assert!((value - expected).abs() < 1e-9);
        }
    }
}

/// A 3×3, stride-1, undilated convolution: VGG's only kind, and the
/// Winograd path's.
fn three_by_three(
    batch: usize,
    inputs: usize,
    height: usize,
    width: usize,
    outputs: usize,
    pad: usize,
) -> Conv2dGeometry {
    Conv2dGeometry {
        batch,
        in_channels: inputs,
        in_height: height,
        in_width: width,
        out_channels: outputs,
        kernel_height: 3,
        kernel_width: 3,
        stride: (1, 1),
        padding: (pad, pad),
        dilation: (1, 1),
    }
}

/// The largest absolute difference between `values` (f32 or f64) and a
/// reference.
fn worst_error<T: Copy + Into<f64>>(values: &[T], reference: &[f64]) -> f64 {
    values.iter().zip(reference).map(|(&a, r)| (a.into() - r).abs()).fold(0.0, f64::max)
}

/// Empty geometries the checks accept (no output channels; an empty image
/// whose padding still fits the kernel) give the definition's results (the
/// bias; zero gradients) on every path instead of a panic or stale values.
#[test]
fn empty_geometries_give_the_definitions_results() {
    for (inputs, height, outputs) in [(3, 0, 4), (3, 5, 0), (17, 0, 4), (17, 5, 0), (17, 0, 17)] {
        let g = Conv2dGeometry {
            batch: 2,
            in_channels: inputs,
            in_height: height,
            in_width: 4,
            out_channels: outputs,
            kernel_height: 1,
            kernel_width: 1,
            stride: (1, 1),
            padding: (1, 1),
            dilation: (1, 1),
        };
        assert!(g.validate().is_ok(), "{g:?}");
        let (x, w, b) = (values(g.input_len(), 3), values(g.weight_len(), 2), values(g.out_channels, 4));
        let mut y = vec![f64::NAN; g.output_len()];
        conv2d_forward(&g, &x, &w, Some(&b), &mut y);
        assert_eq!(y, conv2d_forward_reference(&g, &x, &w, Some(&b)), "{g:?}");
        let mut dx = vec![f64::NAN; g.input_len()];
        conv2d_backward_input(&g, &values(g.output_len(), 1), &w, &mut dx);
        assert!(dx.iter().all(|&v| v == 0.0), "{g:?}: {dx:?}");
        let mut dw = vec![f64::NAN; g.weight_len()];
        conv2d_backward_weight(&g, &x, &values(g.output_len(), 1), &mut dw);
        assert!(dw.iter().all(|&v| v == 0.0), "{g:?}: {dw:?}");
    }
}

/// The col2im input gradient (few input channels) over images tall enough
/// that `T` goes in several blocks of output rows, strided and not.
#[test]
fn col2im_input_gradient_spans_several_blocks() {
    for (stride, height, width) in [(1, 150, 400), (2, 300, 400)] {
        let g = Conv2dGeometry {
            batch: 2,
            in_channels: 3,
            in_height: height,
            in_width: width,
            out_channels: 8,
            kernel_height: 3,
            kernel_width: 3,
            stride: (stride, stride),
            padding: (1, 2),
            dilation: (1, 2),
        };
        let (w, dy) = (values(g.weight_len(), 31), values(g.output_len(), 32));
        let mut dx = vec![f64::NAN; g.input_len()];
        conv2d_backward_input(&g, &dy, &w, &mut dx);
        let worst = worst_error(&dx, &backward_input_reference(&g, &dy, &w));
        assert!(worst < 1e-12, "stride {stride}: worst error {worst}");
    }
}

#[test]
fn vgg_sized_layer_matches_reference_in_f32() {
    let g = three_by_three(1, 16, 40, 72, 20, 1);
    let x: Vec<f32> = values(g.input_len(), 3).iter().map(|&v| v as f32).collect();
    let w: Vec<f32> = values(g.weight_len(), 4).iter().map(|&v| v as f32).collect();
    let mut y = vec![0.0f32; g.output_len()];
    conv2d_forward(&g, &x, &w, None, &mut y);
    let reference = conv2d_forward_reference(&g, &x, &w, None);
    let worst = y.iter().zip(&reference).map(|(a, r)| (a - r).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-4, "worst error {worst}");
}

#[test]
fn invalid_geometry_is_described() {
    let g = Conv2dGeometry {
        batch: 1,
        in_channels: 1,
        in_height: 2,
        in_width: 2,
        out_channels: 1,
        kernel_height: 5,
        kernel_width: 5,
        stride: (1, 1),
        padding: (0, 0),
        dilation: (1, 1),
    };
    let message = g.validate().unwrap_err();
    assert!(message.contains("does not fit"), "{message}");
}

fn winograd_geometry() -> impl Strategy<Value = Conv2dGeometry> {
    (1usize..3, 16usize..19, 16usize..19, 1usize..19, 1usize..19, 0usize..3)
        .prop_map(|(batch, ci, co, h, w, pad)| three_by_three(batch, ci, h, w, co, pad))
        .prop_filter("kernel must fit", |g| g.validate().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The Winograd path (3×3, stride 1, ≥ 16 channels) against the
    /// definition: whole and partial 4×4 tiles, every padding it takes,
    /// batches, f64 and f32, forward and input gradient.
    #[test]
    fn winograd_path_matches_definition(g in winograd_geometry(), seed in any::<u64>()) {
        let (forward, forward_f32, input_gradient) = winograd_errors(&g, seed);
        prop_assert!(forward < 1e-12, "{g:?}: worst error {forward}");
        prop_assert!(forward_f32 < 1e-4, "{g:?}: worst f32 error {forward_f32}");
        prop_assert!(input_gradient < 1e-12, "{g:?}: worst input-gradient error {input_gradient}");
    }

    /// Kernels transformed once and kept ([`WinogradKernels`]) give exactly
    /// the results of transforming them at every call, in both passes.
    #[test]
    fn kept_winograd_kernels_match_fresh_ones(g in winograd_geometry(), seed in any::<u64>()) {
        let (x, w) = (values(g.input_len(), seed), values(g.weight_len(), seed ^ 1));
        let dy = values(g.output_len(), seed ^ 3);
        let forward = WinogradKernels::new(&g, &w, ConvPass::Forward).expect("Winograd applies");
        let gradient = WinogradKernels::new(&g, &w, ConvPass::InputGradient).expect("Winograd applies");
        let (mut fresh, mut kept) = (vec![0.0; g.output_len()], vec![0.0; g.output_len()]);
        conv2d_forward(&g, &x, &w, None, &mut fresh);
        conv2d_forward_with(&g, &x, &w, Some(&forward), None, Activation::Identity, &mut kept);
        prop_assert_eq!(&fresh, &kept);
        let (mut fresh, mut kept) = (vec![0.0; g.input_len()], vec![0.0; g.input_len()]);
        conv2d_backward_input(&g, &dy, &w, &mut fresh);
        conv2d_backward_input_with(&g, &dy, &w, Some(&gradient), &mut kept);
        prop_assert_eq!(&fresh, &kept);
        // The kept kernels, not the weight passed beside them, are what is
        // used: another weight's kept kernels give that weight's result.
        let other = values(g.weight_len(), seed ^ 7);
        let other_forward = WinogradKernels::new(&g, &other, ConvPass::Forward).expect("Winograd applies");
        let (mut expected, mut got) = (vec![0.0; g.output_len()], vec![0.0; g.output_len()]);
        conv2d_forward(&g, &x, &other, None, &mut expected);
        conv2d_forward_with(&g, &x, &w, Some(&other_forward), None, Activation::Identity, &mut got);
        prop_assert_eq!(&expected, &got);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The ReLU fused into the forward pass gives exactly `max(conv + b, 0)`,
    /// on the Winograd path (applied as outputs are written) and the others
    /// (a pass after the GEMM).
    #[test]
    fn fused_relu_matches_relu_after(
        g in prop_oneof![geometry(), winograd_geometry()],
        seed in any::<u64>(),
    ) {
        let (x, w, b) = (values(g.input_len(), seed), values(g.weight_len(), seed ^ 1), values(g.out_channels, seed ^ 2));
        let mut plain = vec![0.0; g.output_len()];
        conv2d_forward(&g, &x, &w, Some(&b), &mut plain);
        let mut fused = vec![f64::NAN; g.output_len()];
        conv2d_forward_with(&g, &x, &w, None, Some(&b), Activation::Relu, &mut fused);
        let expected: Vec<f64> = plain.iter().map(|v| v.max(0.0)).collect();
        prop_assert_eq!(fused, expected);
    }
}

/// Kept kernels made for one pass are refused by the other (their shapes
/// differ whenever the channel counts do), naming the op.
#[test]
#[should_panic(expected = "conv2d_backward_input: Winograd kernels for Forward")]
fn kept_winograd_kernels_of_the_wrong_pass_are_refused() {
    let g = three_by_three(1, 16, 8, 8, 32, 1);
    let w = values(g.weight_len(), 5);
    let forward = WinogradKernels::new(&g, &w, ConvPass::Forward).expect("Winograd applies");
    let mut dx = vec![0.0; g.input_len()];
    conv2d_backward_input_with(&g, &values(g.output_len(), 6), &w, Some(&forward), &mut dx);
}

/// The worst errors of the Winograd path against the definition on random
/// values from `seed`: forward in f64, forward in f32, input gradient in f64
/// (the same path, with the flipped kernel).
fn winograd_errors(g: &Conv2dGeometry, seed: u64) -> (f64, f64, f64) {
    let (x, w, b) = (values(g.input_len(), seed), values(g.weight_len(), seed ^ 1), values(g.out_channels, seed ^ 2));
    let reference = conv2d_forward_reference(g, &x, &w, Some(&b));
    let mut y = vec![0.0f64; g.output_len()];
    conv2d_forward(g, &x, &w, Some(&b), &mut y);
    let cast = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let mut y32 = vec![0.0f32; g.output_len()];
    conv2d_forward(g, &cast(&x), &cast(&w), Some(&cast(&b)), &mut y32);
    let dy = values(g.output_len(), seed ^ 3);
    let mut dx = vec![0.0f64; g.input_len()];
    conv2d_backward_input(g, &dy, &w, &mut dx);
    (
        worst_error(&y, &reference),
        worst_error(&y32, &reference),
        worst_error(&dx, &backward_input_reference(g, &dy, &w)),
    )
}

/// F(4×4, 3×3) scales by up to 8 and divides by 24: its f32 rounding on a
/// VGG-like layer (128 channels each side, activations in 0–1, He-scaled
/// weights) must stay a small fraction of the output's range.
#[test]
fn winograd_f32_error_on_a_vgg_like_layer() {
    let g = three_by_three(1, 128, 28, 28, 128, 1);
    let scale = (2.0 / (9.0 * 128.0f64)).sqrt() * 3f64.sqrt();
    let x: Vec<f64> = values(g.input_len(), 21).iter().map(|v| (v + 1.0) / 2.0).collect();
    let w: Vec<f64> = values(g.weight_len(), 22).iter().map(|v| v * scale).collect();
    let reference = conv2d_forward_reference(&g, &x, &w, None);
    let cast = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let mut y = vec![0.0f32; g.output_len()];
    conv2d_forward(&g, &cast(&x), &cast(&w), None, &mut y);
    let range = reference.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    let worst = worst_error(&y, &reference);
    let rms = (y.iter().zip(&reference).map(|(a, r)| (*a as f64 - r).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
    println!(
        "f32 Winograd on 128->128 @28x28: worst error {:.2e}, rms {:.2e} of the output range",
        worst / range,
        rms / range
    );
    assert!(worst / range < 2e-5, "worst error {worst} against an output range of {range}");
}

/// The Winograd path past the proptest's small sizes: more tiles than one
/// GEMM panel holds (81 against NR = 32 or 64), output channels that end in
/// a short microkernel tile (20 = 3 × 6 + 2), and an input gradient whose
/// convolution has 130 outputs, forward and input gradient in f64 and f32.
#[test]
fn winograd_spans_several_panels_and_short_tiles() {
    assert_winograd_close(&three_by_three(1, 130, 36, 36, 20, 1), 31);
}

/// A large layer's errors against the definition (f64 forward and input
/// gradient to 1e-11, f32 forward to 1e-3).
fn assert_winograd_close(g: &Conv2dGeometry, seed: u64) {
    let (forward, forward_f32, input_gradient) = winograd_errors(g, seed);
    assert!(forward < 1e-11, "{g:?} forward: worst error {forward}");
    assert!(forward_f32 < 1e-3, "{g:?} f32 forward: worst error {forward_f32}");
    assert!(input_gradient < 1e-11, "{g:?} input gradient: worst error {input_gradient}");
}

/// More channels than one depth block of the products (256 in f64, 384 in
/// f32), as inputs and as outputs: the transformed kernels span several
/// depth blocks in the forward pass or in the input gradient's.
#[test]
fn winograd_products_deeper_than_a_depth_block_match_definition() {
    assert_winograd_close(&three_by_three(1, 400, 8, 8, 20, 1), 43);
    assert_winograd_close(&three_by_three(1, 20, 8, 8, 400, 1), 43);
}

/// An image wide enough that Winograd's path works in several blocks of
/// tile rows (3,400 px: about 4 MB of transformed tiles a row in f32 and 8 MB
/// in f64, so blocks of two rows, the last one of one, and of one row), with
/// a last tile row of two image rows, forward and input gradient.
#[test]
fn winograd_blocks_of_tile_rows_match_definition() {
    assert_winograd_close(&three_by_three(1, 16, 18, 3400, 16, 1), 41);
}

/// Rows wide enough that Winograd's transforms run whole SIMD vectors of
/// tiles and a scalar remainder (18 and 19 tiles a row: 16 + 2, 8 + 8 + 2 /
/// 8 + 8 + 3 for AVX-512's f32 / f64, 2·8 + 2 with AVX2's f32): with bias,
/// the fused ReLU gives, to the bit, the plain convolution's output with
/// the ReLU after, NaN inputs (which reach whole tiles) included, and the
/// output has no NaN left.
fn fused_relu_across_simd_runs<T: kernels::gemm::GemmFloat + std::fmt::Debug>(cast: impl Fn(f64) -> T) {
    for width in [72, 75] {
        let g = three_by_three(1, 3, 9, width, 2, 1);
        let mut x: Vec<T> = values(g.input_len(), 7).into_iter().map(&cast).collect();
        // Before the NaNs: every lane against the definition.
        let (x64, w64, b64): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            x.iter().map(|v| v.to_f64()).collect(),
            values(g.weight_len(), 8).into_iter().map(|v| cast(v).to_f64()).collect(),
            values(g.out_channels, 9).into_iter().map(|v| cast(v).to_f64()).collect(),
        );
        let reference = conv2d_forward_reference(&g, &x64, &w64, Some(&b64));
        let mut y = vec![cast(0.0); g.output_len()];
        let w_t: Vec<T> = w64.iter().map(|&v| cast(v)).collect();
        let b_t: Vec<T> = b64.iter().map(|&v| cast(v)).collect();
        conv2d_forward(&g, &x, &w_t, Some(&b_t), &mut y);
        let worst = y.iter().zip(&reference).map(|(a, r)| (a.to_f64() - r).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-4, "width {width}: worst error {worst:e} against the definition");
        // A NaN in a tile of the vector part and one in the remainder.
        x[2 * width + 9] = cast(f64::NAN);
        x[width * 9 + 5 * width + width - 2] = cast(f64::NAN);
        x[3] = cast(-0.0);
        let w: Vec<T> = values(g.weight_len(), 8).into_iter().map(&cast).collect();
        let b: Vec<T> = values(g.out_channels, 9).into_iter().map(&cast).collect();
        let mut plain = vec![cast(0.0); g.output_len()];
        conv2d_forward(&g, &x, &w, Some(&b), &mut plain);
        assert!(plain.iter().any(|v| v.is_nan()), "the NaNs reach the plain output");
        let mut fused = vec![cast(f64::NAN); g.output_len()];
        conv2d_forward_with(&g, &x, &w, None, Some(&b), Activation::Relu, &mut fused);
        let bits = |v: &[T]| v.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
        let expected: Vec<T> = plain.iter().map(|&v| if v > cast(0.0) { v } else { cast(0.0) }).collect();
        assert_eq!(bits(&fused), bits(&expected), "width {width}");
    }
}

#[test]
fn fused_relu_matches_relu_after_across_simd_runs() {
    fused_relu_across_simd_runs::<f32>(|v| v as f32);
    fused_relu_across_simd_runs::<f64>(|v| v);
}
