//! Upsampling of NCHW tensors by an integer factor (nearest or bilinear)
//! and its gradient.

use kernels::upsample::UpsampleMode;

use super::nchw;
use crate::backend::on_device;
use crate::error::{expect, invalid, Result};
use crate::tensor::Tensor;

impl Tensor {
    /// Upsamples an NCHW tensor by an integer `factor`.
    pub fn try_upsample2d(&self, factor: usize, mode: UpsampleMode) -> Result<Tensor> {
        let (n, c, h, w) = nchw("upsample2d", self)?;
        if factor == 0 {
            return Err(invalid("upsample2d", self.shape(), "scale factor must be at least 1"));
        }
        let out_shape = [n, c, h * factor, w * factor];
        on_device("upsample2d", &[self], |backend| backend.upsample(self, mode, factor, (n * c, h, w), &out_shape))
    }

    /// As [`Tensor::try_upsample2d`].
    ///
    /// # Panics
    /// If the tensor is not 4-D or `factor` is zero.
    pub fn upsample2d(&self, factor: usize, mode: UpsampleMode) -> Tensor {
        expect(self.try_upsample2d(factor, mode))
    }

    /// Gradient of upsampling, given the output gradient (`self`).
    pub fn try_upsample2d_backward(&self, factor: usize, mode: UpsampleMode) -> Result<Tensor> {
        let (n, c, oh, ow) = nchw("upsample2d_backward", self)?;
        if factor == 0 || oh % factor != 0 || ow % factor != 0 {
            return Err(invalid("upsample2d_backward", self.shape(), format!("not a {factor}x upsampled shape")));
        }
        let (h, w) = (oh / factor, ow / factor);
        on_device("upsample2d_backward", &[self], |backend| {
            backend.upsample_backward(self, mode, factor, (n * c, h, w), &[n, c, h, w])
        })
    }
}
