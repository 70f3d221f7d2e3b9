//! Padding of the last two dimensions of NCHW tensors (zero, reflect,
//! replicate) and its gradient.

use kernels::padding::{Pad2d, PadMode};

use super::nchw;
use crate::backend::on_device;
use crate::error::{expect, invalid, Result};
use crate::tensor::Tensor;

impl Tensor {
    /// Pads the last two dimensions of an NCHW tensor.
    pub fn try_pad2d(&self, pad: Pad2d, mode: PadMode) -> Result<Tensor> {
        let (n, c, h, w) = nchw("pad2d", self)?;
        pad.validate(mode, h, w).map_err(|d| invalid("pad2d", self.shape(), d))?;
        let shape = [n, c, h + pad.top + pad.bottom, w + pad.left + pad.right];
        on_device("pad2d", &[self], |backend| backend.pad(self, &pad, mode, (n * c, h, w), &shape))
    }

    /// As [`Tensor::try_pad2d`].
    ///
    /// # Panics
    /// If the tensor is not 4-D or the padding is invalid for `mode`.
    pub fn pad2d(&self, pad: Pad2d, mode: PadMode) -> Tensor {
        expect(self.try_pad2d(pad, mode))
    }

    /// Gradient of padding, given the output gradient (`self`).
    pub fn try_pad2d_backward(&self, pad: Pad2d, mode: PadMode) -> Result<Tensor> {
        let (n, c, oh, ow) = nchw("pad2d_backward", self)?;
        let (Some(h), Some(w)) = (oh.checked_sub(pad.top + pad.bottom), ow.checked_sub(pad.left + pad.right)) else {
            return Err(invalid("pad2d_backward", self.shape(), format!("smaller than the padding {pad:?}")));
        };
        pad.validate(mode, h, w).map_err(|d| invalid("pad2d_backward", self.shape(), d))?;
        on_device("pad2d_backward", &[self], |backend| {
            backend.pad_backward(self, &pad, mode, (n * c, h, w), &[n, c, h, w])
        })
    }
}
