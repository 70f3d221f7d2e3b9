//! Max and average pooling of NCHW tensors and their gradients; max
//! pooling records which input each output took, for its backward.

use std::sync::Arc;

use kernels::buffer_pool::PooledVec;
use kernels::pooling::Pool2dGeometry;

use super::nchw;
use crate::backend::on_device;
use crate::error::{expect, invalid, Result, TensorError};
use crate::tensor::Tensor;

/// Window, stride and padding of a 2-D pooling, (vertical, horizontal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step.
    pub stride: (usize, usize),
    /// Implicit padding on each side.
    pub padding: (usize, usize),
}

impl Pool2dParams {
    /// A square window with the given stride and no padding.
    pub fn new(kernel: usize, stride: usize) -> Self {
        Pool2dParams { kernel: (kernel, kernel), stride: (stride, stride), padding: (0, 0) }
    }
}

/// Which input each max-pooling output took: what its backward needs.
#[derive(Clone)]
pub struct MaxPoolIndices {
    pub(crate) positions: MaxPoolPositions,
    pub(crate) geometry: Pool2dGeometry,
    pub(crate) input_shape: Vec<usize>,
}

/// Where the recorded positions live: beside the tensor's values.
#[derive(Clone)]
pub(crate) enum MaxPoolPositions {
    Host(Arc<PooledVec<u32>>),
    Device(crate::cuda::DeviceIndices),
}

impl std::fmt::Debug for MaxPoolIndices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match self.positions {
            MaxPoolPositions::Host(_) => "host",
            MaxPoolPositions::Device(_) => "device",
        };
        write!(f, "MaxPoolIndices({:?} input, {place})", self.input_shape)
    }
}

impl MaxPoolIndices {
    /// Shape of the pooled input.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
}

impl Tensor {
    /// Max pooling of an NCHW tensor; returns the pooled values and the
    /// indices its backward pass needs.
    pub fn try_max_pool2d(&self, params: Pool2dParams) -> Result<(Tensor, MaxPoolIndices)> {
        let (n, c, _, _) = nchw("max_pool2d", self)?;
        let geo = self.pool_geometry("max_pool2d", params, self.shape())?;
        let shape = [n, c, geo.out_height(), geo.out_width()];
        let (pooled, positions) = on_device("max_pool2d", &[self], |backend| backend.max_pool(self, &geo, &shape))?;
        Ok((pooled, MaxPoolIndices { positions, geometry: geo, input_shape: self.shape().to_vec() }))
    }

    /// As [`Tensor::try_max_pool2d`], values only.
    ///
    /// # Panics
    /// If the tensor is not 4-D or the window does not fit.
    pub fn max_pool2d(&self, params: Pool2dParams) -> Tensor {
        expect(self.try_max_pool2d(params)).0
    }

    /// Gradient of max pooling, given the output gradient (`self`).
    pub fn try_max_pool2d_backward(&self, indices: &MaxPoolIndices) -> Result<Tensor> {
        let expected = indices.geometry.planes * indices.geometry.out_height() * indices.geometry.out_width();
        if self.numel() != expected {
            return Err(invalid("max_pool2d_backward", self.shape(), format!("{expected} recorded positions")));
        }
        on_device("max_pool2d_backward", &[self], |backend| backend.max_pool_backward(self, indices))
    }

    fn pool_geometry(&self, op: &'static str, params: Pool2dParams, input_shape: &[usize]) -> Result<Pool2dGeometry> {
        let [n, c, h, w] = *input_shape else {
            return Err(invalid(op, input_shape, "expected a 4-D NCHW shape"));
        };
        let geo = Pool2dGeometry {
            planes: n * c,
            in_height: h,
            in_width: w,
            kernel: params.kernel,
            stride: params.stride,
            padding: params.padding,
        };
        geo.validate().map_err(|d| invalid(op, self.shape(), d))?;
        Ok(geo)
    }

    /// Average pooling of an NCHW tensor (PyTorch's `count_include_pad`).
    pub fn try_avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Result<Tensor> {
        let geo = self.pool_geometry("avg_pool2d", params, self.shape())?;
        let shape = [self.shape()[0], self.shape()[1], geo.out_height(), geo.out_width()];
        on_device("avg_pool2d", &[self], |backend| backend.avg_pool(self, &geo, count_include_pad, &shape))
    }

    /// As [`Tensor::try_avg_pool2d`].
    ///
    /// # Panics
    /// If the tensor is not 4-D or the window does not fit.
    pub fn avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Tensor {
        expect(self.try_avg_pool2d(params, count_include_pad))
    }

    /// Gradient of average pooling of an input of `input_shape`, given the
    /// output gradient (`self`).
    pub fn try_avg_pool2d_backward(
        &self,
        input_shape: &[usize],
        params: Pool2dParams,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let geo = self.pool_geometry("avg_pool2d_backward", params, input_shape)?;
        let expected = [input_shape[0], input_shape[1], geo.out_height(), geo.out_width()];
        if self.shape() != expected {
            return Err(TensorError::ShapeMismatch {
                op: "avg_pool2d_backward",
                lhs: self.shape().to_vec(),
                rhs: expected.to_vec(),
                detail: "output gradient does not match the pooled shape".into(),
            });
        }
        on_device("avg_pool2d_backward", &[self], |backend| {
            backend.avg_pool_backward(self, &geo, count_include_pad, input_shape)
        })
    }
}
