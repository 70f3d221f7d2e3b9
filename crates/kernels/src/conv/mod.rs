//! 2-D convolution (NCHW, any stride, padding and dilation, groups = 1):
//! forward, gradient to the input and gradient to the weights.
//!
//! All three are GEMMs over a virtual patch matrix ("implicit im2col", see
//! [`gather`]): patches are gathered from the image inside GEMM's packing step,
//! one `KC × NC` block at a time, so the working set is the packing buffers
//! (under 2 MB a thread) instead of a `C·KH·KW × OH·OW` column matrix.
//!
//! * forward, per image: `Y = W · P(X)` with `W` as `Cout × (Cin·KH·KW)`;
//! * input gradient, per image: `dX = W̃ · P̃(dY)`, where `W̃[c][(o,ky,kx)] =
//!   W[o][c][KH-1-ky][KW-1-kx]` and `P̃` gathers `dY` at `(y + p - k·d) / s`;
//!   with stride > 1 three quarters of `P̃` are structural zeros that are
//!   multiplied anyway (only the GAN's two downsampling layers pay that);
//!   with fewer than 16 input channels, `Wᵀ · dY` then col2im instead (see
//!   [`col2im`]);
//! * weight gradient: `dW = Σ_images dY · P(X)ᵀ`.
//!
//! 3×3 stride-1 layers with 16 channels or more each side go by Winograd's
//! F(4×4, 3×3) instead ([`winograd`]).

pub(crate) mod cuda_kernel;

mod col2im;
mod gather;
mod geometry;
mod kept;
mod winograd;

pub use geometry::Conv2dGeometry;
pub use kept::{ConvPass, WinogradKernels};

use kept::{adjoint_geometry, flipped_kernels};
use winograd::KernelSource;

use gather::{AxisMap, PatchMatrix};

use rayon::prelude::*;

use crate::gemm::{gemm, GemmFloat, MatMut, MatRef, Transposed};
use crate::reduce::sum_slice;

fn forward_patches<'a, T>(geo: &Conv2dGeometry, image: &'a [T]) -> PatchMatrix<'a, T> {
    let axis = |source_len, target_len, stride: usize, dilation: usize, padding: usize| AxisMap {
        source_len,
        target_len,
        step: stride as isize,
        dilation: dilation as isize,
        offset: -(padding as isize),
        divisor: 1,
    };
    PatchMatrix {
        image,
        channels: geo.in_channels,
        kernel_height: geo.kernel_height,
        kernel_width: geo.kernel_width,
        rows: axis(geo.in_height, geo.out_height(), geo.stride.0, geo.dilation.0, geo.padding.0),
        cols: axis(geo.in_width, geo.out_width(), geo.stride.1, geo.dilation.1, geo.padding.1),
    }
}

fn input_gradient_patches<'a, T>(geo: &Conv2dGeometry, grad_image: &'a [T]) -> PatchMatrix<'a, T> {
    let axis = |source_len, target_len, stride: usize, dilation: usize, padding: usize, kernel: usize| AxisMap {
        source_len,
        target_len,
        step: 1,
        dilation: dilation as isize,
        offset: padding as isize - ((kernel - 1) * dilation) as isize,
        divisor: stride as isize,
    };
    PatchMatrix {
        image: grad_image,
        channels: geo.out_channels,
        kernel_height: geo.kernel_height,
        kernel_width: geo.kernel_width,
        rows: axis(geo.out_height(), geo.in_height, geo.stride.0, geo.dilation.0, geo.padding.0, geo.kernel_height),
        cols: axis(geo.out_width(), geo.in_width, geo.stride.1, geo.dilation.1, geo.padding.1, geo.kernel_width),
    }
}

/// What the forward pass applies to `conv + bias`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// Nothing: the convolution itself.
    Identity,
    /// `max(·, 0)` (NaN becomes 0, as with the ReLU op): on the Winograd
    /// path as each output is written, so a conv–ReLU pair takes one pass
    /// over the output instead of two; otherwise in one in-place pass after.
    Relu,
}

/// `output = conv2d(input, weight) + bias`.
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn conv2d_forward<T: GemmFloat>(
    geo: &Conv2dGeometry,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    output: &mut [T],
) {
    conv2d_forward_with(geo, input, weight, None, bias, Activation::Identity, output);
}

/// `output = activation(conv2d(input, weight) + bias)`, with `kept` the
/// weight's transformed kernels from an earlier [`WinogradKernels::new`].
/// They are used when Winograd applies to `geo` and ignored otherwise; they
/// do not depend on the image's size. The Winograd path applies the
/// activation as it writes each output; the others in a pass after.
///
/// # Panics
/// If the geometry is invalid, a buffer has the wrong length, or (where
/// Winograd applies) `kept` was made for the other pass or other channel
/// counts.
pub fn conv2d_forward_with<T: GemmFloat>(
    geo: &Conv2dGeometry,
    input: &[T],
    weight: &[T],
    kept: Option<&WinogradKernels<T>>,
    bias: Option<&[T]>,
    activation: Activation,
    output: &mut [T],
) {
    geo.assert_lengths("conv2d_forward", input.len(), weight.len(), output.len());
    if let Some(bias) = bias {
        assert_eq!(
            bias.len(),
            geo.out_channels,
            "conv2d_forward: bias of {} for {} output channels",
            bias.len(),
            geo.out_channels
        );
    }
    if input.is_empty() || output.is_empty() {
        // An empty image (padding can still give outputs) sums nothing: each
        // output is its bias.
        let pixels = geo.out_height() * geo.out_width();
        for (o, plane) in output.chunks_mut(pixels.max(1)).enumerate() {
            let value = bias.map_or(T::ZERO, |b| b[o % geo.out_channels]);
            plane.fill(if activation == Activation::Relu { value.max(T::ZERO) } else { value });
        }
        return;
    }
    if winograd::applies(geo) {
        match kept {
            Some(kept) => {
                kept.check(geo, ConvPass::Forward, "conv2d_forward");
                winograd::conv2d_winograd(geo, input, kept.transformed_kernels(), bias, activation, output);
            }
            None => {
                let u = winograd::transform_kernels(weight, KernelSource::Weight, geo.out_channels, geo.in_channels);
                winograd::conv2d_winograd(geo, input, &u, bias, activation, output);
            }
        }
        return;
    }
    let taps = geo.in_channels * geo.kernel_height * geo.kernel_width;
    let pixels = geo.out_height() * geo.out_width();
    let in_image = geo.in_channels * geo.in_height * geo.in_width;
    let weights = MatRef::row_major(weight, geo.out_channels, taps);
    for (image, out) in
        input.chunks_exact(in_image.max(1)).zip(output.chunks_exact_mut((geo.out_channels * pixels).max(1)))
    {
        let beta = match bias {
            Some(bias) => {
                for (row, &b) in out.chunks_exact_mut(pixels).zip(bias) {
                    row.fill(b);
                }
                T::ONE
            }
            None => T::ZERO,
        };
        gemm(T::ONE, &weights, &forward_patches(geo, image), beta, MatMut::row_major(out, geo.out_channels, pixels));
    }
    if activation == Activation::Relu {
        output.par_chunks_mut(1 << 14).for_each(|chunk| chunk.iter_mut().for_each(|v| *v = v.max(T::ZERO)));
    }
}

/// `grad_input = ∂(Σ grad_output ⊙ conv2d(input, weight)) / ∂input`,
/// overwriting `grad_input`.
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn conv2d_backward_input<T: GemmFloat>(
    geo: &Conv2dGeometry,
    grad_output: &[T],
    weight: &[T],
    grad_input: &mut [T],
) {
    conv2d_backward_input_with(geo, grad_output, weight, None, grad_input);
}

/// As [`conv2d_backward_input`], with `kept` the transformed kernels of
/// `W̃` from an earlier [`WinogradKernels::new`] for
/// [`ConvPass::InputGradient`]. They are used when Winograd applies and
/// ignored otherwise; they do not depend on the image's size.
///
/// # Panics
/// If the geometry is invalid, a buffer has the wrong length, or (where
/// Winograd applies) `kept` was made for the other pass or other channel
/// counts.
pub fn conv2d_backward_input_with<T: GemmFloat>(
    geo: &Conv2dGeometry,
    grad_output: &[T],
    weight: &[T],
    kept: Option<&WinogradKernels<T>>,
    grad_input: &mut [T],
) {
    geo.assert_lengths("conv2d_backward_input", grad_input.len(), weight.len(), grad_output.len());
    if grad_output.is_empty() || grad_input.is_empty() {
        // No output (or no input) to pass a gradient through.
        grad_input.fill(T::ZERO);
        return;
    }
    let adjoint = adjoint_geometry(geo);
    if winograd::applies(geo) && winograd::applies(&adjoint) {
        debug_assert_eq!((adjoint.out_height(), adjoint.out_width()), (geo.in_height, geo.in_width));
        match kept {
            Some(kept) => {
                kept.check(geo, ConvPass::InputGradient, "conv2d_backward_input");
                winograd::conv2d_winograd(
                    &adjoint,
                    grad_output,
                    kept.transformed_kernels(),
                    None,
                    Activation::Identity,
                    grad_input,
                );
            }
            None => {
                let u = winograd::transform_kernels(weight, KernelSource::Adjoint, geo.in_channels, geo.out_channels);
                winograd::conv2d_winograd(&adjoint, grad_output, &u, None, Activation::Identity, grad_input);
            }
        }
        return;
    }
    if col2im::applies(geo) {
        col2im::conv2d_backward_input_col2im(geo, grad_output, weight, grad_input);
        return;
    }
    let flipped = flipped_kernels(geo, weight);
    let taps = geo.out_channels * geo.kernel_height * geo.kernel_width;
    let weights = MatRef::row_major(&flipped, geo.in_channels, taps);
    let pixels = geo.in_height * geo.in_width;
    let out_image = geo.out_channels * geo.out_height() * geo.out_width();
    for (grad_image, grad_in) in
        grad_output.chunks_exact(out_image.max(1)).zip(grad_input.chunks_exact_mut((geo.in_channels * pixels).max(1)))
    {
        let patches = input_gradient_patches(geo, grad_image);
        gemm(T::ONE, &weights, &patches, T::ZERO, MatMut::row_major(grad_in, geo.in_channels, pixels));
    }
}

/// `grad_weight = ∂(Σ grad_output ⊙ conv2d(input, weight)) / ∂weight`,
/// overwriting `grad_weight`.
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn conv2d_backward_weight<T: GemmFloat>(
    geo: &Conv2dGeometry,
    input: &[T],
    grad_output: &[T],
    grad_weight: &mut [T],
) {
    geo.assert_lengths("conv2d_backward_weight", input.len(), grad_weight.len(), grad_output.len());
    let taps = geo.in_channels * geo.kernel_height * geo.kernel_width;
    let pixels = geo.out_height() * geo.out_width();
    let in_image = geo.in_channels * geo.in_height * geo.in_width;
    if input.is_empty() || grad_output.is_empty() {
        // Nothing to correlate (no images, an empty image, or no outputs).
        grad_weight.fill(T::ZERO);
        return;
    }
    for (b, (image, grad_image)) in input
        .chunks_exact(in_image.max(1))
        .zip(grad_output.chunks_exact((geo.out_channels * pixels).max(1)))
        .enumerate()
    {
        let grad = MatRef::row_major(grad_image, geo.out_channels, pixels);
        let beta = if b == 0 { T::ZERO } else { T::ONE };
        let patches_t = Transposed(forward_patches(geo, image));
        gemm(T::ONE, &grad, &patches_t, beta, MatMut::row_major(grad_weight, geo.out_channels, taps));
    }
}

/// `grad_bias[o] = Σ_{n, y, x} grad_output[n][o][y][x]`, overwriting `grad_bias`.
///
/// # Panics
/// If a buffer has the wrong length.
pub fn conv2d_backward_bias<T: GemmFloat>(geo: &Conv2dGeometry, grad_output: &[T], grad_bias: &mut [T]) {
    let pixels = geo.out_height() * geo.out_width();
    assert!(
        grad_output.len() == geo.output_len() && grad_bias.len() == geo.out_channels,
        "conv2d_backward_bias: {} gradient values and {} biases for geometry {geo:?}",
        grad_output.len(),
        grad_bias.len()
    );
    grad_bias.fill(T::ZERO);
    for image in grad_output.chunks_exact((geo.out_channels * pixels).max(1)) {
        for (slot, plane) in grad_bias.iter_mut().zip(image.chunks_exact(pixels.max(1))) {
            *slot += sum_slice(plane);
        }
    }
}

/// Reference convolution by the definition (for tests): forward.
pub fn conv2d_forward_reference<T: GemmFloat>(
    geo: &Conv2dGeometry,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
) -> Vec<T> {
    let (oh, ow) = (geo.out_height(), geo.out_width());
    let mut out = vec![T::ZERO; geo.output_len()];
    for n in 0..geo.batch {
        for o in 0..geo.out_channels {
            for y in 0..oh {
                for x in 0..ow {
                    let mut sum = bias.map_or(0.0, |b| b[o].to_f64());
                    for c in 0..geo.in_channels {
                        for ky in 0..geo.kernel_height {
                            for kx in 0..geo.kernel_width {
                                let iy = (y * geo.stride.0 + ky * geo.dilation.0) as isize - geo.padding.0 as isize;
                                let ix = (x * geo.stride.1 + kx * geo.dilation.1) as isize - geo.padding.1 as isize;
                                if iy < 0 || ix < 0 || iy >= geo.in_height as isize || ix >= geo.in_width as isize {
                                    continue;
                                }
                                let xi = ((n * geo.in_channels + c) * geo.in_height + iy as usize) * geo.in_width
                                    + ix as usize;
                                let wi = ((o * geo.in_channels + c) * geo.kernel_height + ky) * geo.kernel_width + kx;
                                sum += input[xi].to_f64() * weight[wi].to_f64();
                            }
                        }
                    }
                    out[((n * geo.out_channels + o) * oh + y) * ow + x] = T::from_f64(sum);
                }
            }
        }
    }
    out
}
