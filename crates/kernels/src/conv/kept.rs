//! Winograd-domain kernels kept across calls ([`WinogradKernels`]), and the
//! transposed, flipped kernel `W̃` that turns a convolution's input gradient
//! into another convolution (with its geometry).

use rayon::prelude::*;

use super::geometry::Conv2dGeometry;
use super::winograd::{self, KernelSource};
use crate::buffer_pool::PooledVec;
use crate::gemm::{GemmFloat, PackedRows};

/// Which of a convolution's two passes a [`WinogradKernels`] serves: the
/// forward pass uses `G g Gᵀ` of every kernel, the input gradient that of
/// the transposed, flipped kernel `W̃`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvPass {
    /// `conv2d_forward`.
    Forward,
    /// `conv2d_backward_input`.
    InputGradient,
}

/// A 3×3 weight's Winograd-domain form (`36 × O × C` values, about 4× the
/// weight; held as each position's `O × C` matrix packed for the products,
/// [`PackedRows`], whose rows are padded to whole panels of `MR`), made
/// once by [`WinogradKernels::new`] and handed to [`conv2d_forward_with`]
/// or [`conv2d_backward_input_with`] on every later call, so that a
/// constant weight (a pretrained network's) is not
/// transformed again at each evaluation. Its memory is the allocator's, not
/// the buffer pool's: kept kernels that are dropped go back to the system
/// instead of staying in the pool.
pub struct WinogradKernels<T: GemmFloat> {
    pub(super) values: Vec<T>,
    pass: ConvPass,
    outputs: usize,
    inputs: usize,
}

impl<T: GemmFloat> WinogradKernels<T> {
    /// The transformed kernels of `weight` (OIHW, `geo`'s shape) for `pass`,
    /// or `None` when that pass does not use Winograd's algorithm for `geo`.
    ///
    /// # Panics
    /// If `weight` does not have `geo`'s weight length.
    pub fn new(geo: &Conv2dGeometry, weight: &[T], pass: ConvPass) -> Option<Self> {
        assert_eq!(weight.len(), geo.weight_len(), "WinogradKernels: weight of {} for geometry {geo:?}", weight.len());
        match pass {
            ConvPass::Forward => winograd::applies(geo)
                .then(|| Self::transformed(weight, KernelSource::Weight, pass, geo.out_channels, geo.in_channels)),
            ConvPass::InputGradient => {
                let adjoint = adjoint_geometry(geo);
                (winograd::applies(geo) && winograd::applies(&adjoint))
                    .then(|| Self::transformed(weight, KernelSource::Adjoint, pass, geo.in_channels, geo.out_channels))
            }
        }
    }

    /// The transform of `weight`'s kernels as `source` reads them, each
    /// position's `outputs × inputs` matrix packed for the products
    /// ([`PackedRows`]), as the per-call transform writes it.
    fn transformed(weight: &[T], source: KernelSource, pass: ConvPass, outputs: usize, inputs: usize) -> Self {
        let mut values = vec![T::ZERO; winograd::POSITIONS * PackedRows::<T>::packed_len(outputs, inputs)];
        winograd::transform_kernels_into(weight, source, outputs, inputs, &mut values);
        WinogradKernels { values, pass, outputs, inputs }
    }

    /// The transform as the convolution takes it.
    pub(super) fn transformed_kernels(&self) -> &[T] {
        &self.values
    }

    /// True when keeping this geometry's transformed kernels across calls
    /// pays for their memory (4× the weight per pass): when Winograd applies
    /// and the call has few output tiles, so that transforming the kernels
    /// is a large share of the work. Images are 4×4 tiles of outputs, all
    /// images of the batch counted.
    pub fn worth_keeping(geo: &Conv2dGeometry) -> bool {
        winograd::kernels_worth_keeping(geo)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.values.len() * size_of::<T>()
    }

    pub(super) fn check(&self, geo: &Conv2dGeometry, pass: ConvPass, op: &str) {
        let (outputs, inputs) = match pass {
            ConvPass::Forward => (geo.out_channels, geo.in_channels),
            ConvPass::InputGradient => (geo.in_channels, geo.out_channels),
        };
        assert!(
            self.pass == pass && self.outputs == outputs && self.inputs == inputs,
            "{op}: Winograd kernels for {:?} with {} outputs and {} inputs, geometry {geo:?}",
            self.pass,
            self.outputs,
            self.inputs
        );
    }
}

/// `W̃[c][(o, ky, kx)] = W[o][c][KH-1-ky][KW-1-kx]`: the transposed, flipped
/// kernel that turns the input gradient into a convolution, one input
/// channel's row per task, written in order (writing in the weight's order
/// scattered every value across rows, which took 10% of an audio model's
/// evaluation with 4,096 × 1,025 × 11 weights).
pub(super) fn flipped_kernels<T: GemmFloat>(geo: &Conv2dGeometry, weight: &[T]) -> PooledVec<T> {
    let (kh, kw) = (geo.kernel_height, geo.kernel_width);
    let taps = geo.out_channels * kh * kw;
    let mut flipped = PooledVec::<T>::uninit_contents(geo.weight_len());
    flipped.par_chunks_mut(taps.max(1)).enumerate().for_each(|(c, row)| {
        for o in 0..geo.out_channels {
            for ky in 0..kh {
                let source = &weight[((o * geo.in_channels + c) * kh + kh - 1 - ky) * kw..][..kw];
                for (slot, &value) in row[(o * kh + ky) * kw..][..kw].iter_mut().zip(source.iter().rev()) {
                    *slot = value;
                }
            }
        }
    });
    flipped
}

/// A 3×3 stride-1 convolution's input gradient is itself a 3×3 stride-1
/// convolution of the output gradient with `W̃`, padded by 2 − p: this is its
/// geometry (meaningful when `geo` is stride 1 and undilated).
pub(super) fn adjoint_geometry(geo: &Conv2dGeometry) -> Conv2dGeometry {
    let (kh, kw) = (geo.kernel_height, geo.kernel_width);
    Conv2dGeometry {
        in_channels: geo.out_channels,
        in_height: geo.out_height(),
        in_width: geo.out_width(),
        out_channels: geo.in_channels,
        padding: (kh.saturating_sub(1 + geo.padding.0), kw.saturating_sub(1 + geo.padding.1)),
        ..*geo
    }
}
