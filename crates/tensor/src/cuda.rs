//! Tensors on CUDA devices: transfers, and the tensor side of the CUDA
//! backend (`backend::Cuda` calls these): each turns tensors into device
//! buffers, runs the family's algorithm or launcher from `kernels`, and wraps
//! the result. The CPU side is `backend/cpu.rs`; the storage is `storage.rs`.
//!
//! Device tensors hold f32. Views work as on the CPU: a layout over shared
//! storage, passed to the kernels as shape, strides and offset (contiguous
//! runs merged, up to six dimensions).

use std::sync::Arc;

use kernels::conv::Conv2dGeometry;
use kernels::cuda::{self, BatchedOperand, CudaDevice, CudaError, DeviceBuffer, IndexBuffer, Layout};
use kernels::elementwise::{BinaryOp, UnaryOp};
use kernels::padding::{Pad2d, PadMode};
use kernels::pooling::Pool2dGeometry;
use kernels::reduce::ReduceOp;
use kernels::strided::coalesce;
use kernels::upsample::UpsampleMode;

use crate::error::{Result, TensorError};
use crate::layout::{contiguous_strides, Layout as TensorLayout};
use crate::storage::{CudaStorage, Storage};
use crate::{DType, Device, Tensor};

/// Max-pooling positions kept on the device for the backward pass.
pub(crate) type DeviceIndices = Arc<IndexBuffer>;

fn error(op: &'static str, device: Device, e: CudaError) -> TensorError {
    TensorError::DeviceUnavailable { op, device, detail: e.to_string() }
}

/// Opens `cuda:ordinal` (for `to_device`).
pub(crate) fn open(op: &'static str, ordinal: usize) -> Result<Arc<CudaDevice>> {
    cuda::device(ordinal).map_err(|e| error(op, Device::Cuda(ordinal), e))
}

/// The device storage of a tensor: the functions below are only reached
/// through `backend::Cuda`, which `on_device` picks when `common_device`
/// found the operands on a GPU.
fn device_storage(t: &Tensor) -> &CudaStorage {
    t.cuda_storage().expect("the op checked that its operands are on a CUDA device")
}

impl Tensor {
    /// The device storage, if the tensor lives on a GPU.
    pub(crate) fn cuda_storage(&self) -> Option<&CudaStorage> {
        match &*self.storage {
            Storage::Cuda(s) => Some(s),
            _ => None,
        }
    }

    fn from_cuda(device: &Arc<CudaDevice>, buffer: DeviceBuffer, shape: &[usize]) -> Tensor {
        let storage = Storage::Cuda(CudaStorage { device: Arc::clone(device), buffer: Arc::new(buffer) });
        Tensor { storage: Arc::new(storage), layout: TensorLayout::contiguous(shape) }
    }
}

/// The device of a set of operands, or an error naming the op if they are
/// on different devices.
pub(crate) fn common_device(op: &'static str, tensors: &[&Tensor]) -> Result<Option<Arc<CudaDevice>>> {
    let first = tensors[0].device();
    if let Some(other) = tensors.iter().map(|t| t.device()).find(|&d| d != first) {
        return Err(TensorError::DeviceMismatch { op, lhs: first, rhs: other });
    }
    Ok(tensors[0].cuda_storage().map(|s| Arc::clone(&s.device)))
}

/// Kernel layouts of several equally shaped views, contiguous runs merged.
fn layouts(op: &'static str, shape: &[usize], views: &[&TensorLayout]) -> Result<Vec<Layout>> {
    let strides: Vec<&[usize]> = views.iter().map(|v| v.strides()).collect();
    let (merged, merged_strides) = coalesce(shape, &strides);
    views
        .iter()
        .zip(&merged_strides)
        .map(|(v, s)| {
            Layout::new(&merged, s, v.offset()).ok_or_else(|| {
                TensorError::invalid_argument(
                    op,
                    shape,
                    "more than 6 non-mergeable dimensions on CUDA; call contiguous() first",
                )
            })
        })
        .collect()
}

/// Uploads a CPU tensor (as f32) to `device`.
pub(crate) fn upload(t: &Tensor, device: &Arc<CudaDevice>) -> Result<Tensor> {
    if t.dtype() != DType::F32 {
        return Err(TensorError::UnsupportedDType {
            op: "to_device",
            dtype: t.dtype(),
            hint: "; CUDA tensors hold f32: convert with to_dtype(F32) first",
        });
    }
    let host = t.contiguous();
    let buffer = device
        .upload(host.contiguous_data::<f32>())
        .map_err(|e| error("to_device", Device::Cuda(device.ordinal()), e))?;
    Ok(Tensor::from_cuda(device, buffer, t.shape()))
}

/// Downloads a device tensor to a contiguous CPU f32 tensor.
pub(crate) fn download(t: &Tensor) -> Result<Tensor> {
    let s = device_storage(t);
    let dense = if t.is_contiguous() && t.layout.offset() == 0 && s.buffer.len() == t.numel() {
        t.clone()
    } else {
        unary(t, None)?
    };
    let ds = device_storage(&dense);
    let values = ds.device.download(&ds.buffer).map_err(|e| error("to_device", t.device(), e))?;
    Ok(Tensor::from_vec(values[..t.numel()].to_vec(), t.shape()))
}

/// A new device tensor of `shape` filled with `value`.
pub(crate) fn full(device: &Arc<CudaDevice>, shape: &[usize], value: f32) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let fail = |e| error("full", Device::Cuda(device.ordinal()), e);
    let mut buffer = device.uninit(n).map_err(fail)?;
    device.fill(&mut buffer, value, n).map_err(fail)?;
    Ok(Tensor::from_cuda(device, buffer, shape))
}

/// `op` of every element (`None`: a contiguous copy).
pub(crate) fn unary(t: &Tensor, op: Option<UnaryOp>) -> Result<Tensor> {
    let s = device_storage(t);
    let n = t.numel();
    let [view] = <[Layout; 1]>::try_from(layouts("unary", t.shape(), &[&t.layout])?).expect("one view");
    let fail = |e| error("unary", t.device(), e);
    let mut out = s.device.uninit(n).map_err(fail)?;
    s.device.unary(op, &s.buffer, view, &mut out, n).map_err(fail)?;
    Ok(Tensor::from_cuda(&s.device, out, t.shape()))
}

/// `a ∘ b` for operands already broadcast to `shape`.
pub(crate) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (sa, sb) = (device_storage(a), device_storage(b));
    let n: usize = shape.iter().product();
    let views = layouts("binary", shape, &[&a.layout, &b.layout])?;
    let fail = |e| error("binary", a.device(), e);
    let mut out = sa.device.uninit(n).map_err(fail)?;
    sa.device.binary(op, &sa.buffer, views[0], &sb.buffer, views[1], &mut out, n).map_err(fail)?;
    Ok(Tensor::from_cuda(&sa.device, out, shape))
}

/// Reduces over the axes flagged in `reduced`, giving `out_shape`.
pub(crate) fn reduce(t: &Tensor, op: ReduceOp, reduced: &[bool], out_shape: &[usize]) -> Result<Tensor> {
    let s = device_storage(t);
    let pick = |keep: bool| -> (Vec<usize>, Vec<usize>) {
        (0..t.rank()).filter(|&d| reduced[d] != keep).map(|d| (t.shape()[d], t.strides()[d])).unzip()
    };
    let ((kept_shape, kept_strides), (red_shape, red_strides)) = (pick(true), pick(false));
    let outputs: usize = kept_shape.iter().product();
    let count: usize = red_shape.iter().product();
    let build = |shape: &[usize], strides: &[usize], offset: usize| {
        let (m, ms) = coalesce(shape, &[strides]);
        Layout::new(&m, &ms[0], offset).ok_or_else(|| {
            TensorError::invalid_argument("reduce", t.shape(), "more than 6 non-mergeable dimensions on CUDA")
        })
    };
    let kept = build(&kept_shape, &kept_strides, t.layout.offset())?;
    let red = build(&red_shape, &red_strides, 0)?;
    let fail = |e| error("reduce", t.device(), e);
    let mut out = s.device.uninit(outputs).map_err(fail)?;
    s.device.reduce(op, &s.buffer, kept, red, &mut out, (outputs, count)).map_err(fail)?;
    Ok(Tensor::from_cuda(&s.device, out, out_shape))
}

/// Batched `a · b` (both broadcast to `batch` + their matrix shapes).
pub(crate) fn matmul(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
    out_shape: &[usize],
) -> Result<Tensor> {
    let (sa, sb) = (device_storage(a), device_storage(b));
    let oa = BatchedOperand { buffer: &sa.buffer, offset: a.layout.offset(), strides: a.strides() };
    let ob = BatchedOperand { buffer: &sb.buffer, offset: b.layout.offset(), strides: b.strides() };
    let out = sa.device.batched_matmul(oa, ob, batch, (m, k, n)).map_err(|e| error("matmul", a.device(), e))?;
    Ok(Tensor::from_cuda(&sa.device, out, out_shape))
}

fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.layout.offset() == 0 {
        Ok(t.clone())
    } else {
        unary(t, None)
    }
}

/// Forward convolution (the algorithm is `CudaDevice::conv2d`).
pub(crate) fn conv2d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, geo: &Conv2dGeometry) -> Result<Tensor> {
    let (x, w, bias) = (dense(x)?, dense(w)?, bias.map(dense).transpose()?);
    let dev = &device_storage(&x).device;
    let bias = bias.as_ref().map(|b| &*device_storage(b).buffer);
    let out = dev
        .conv2d(geo, &device_storage(&x).buffer, &device_storage(&w).buffer, bias)
        .map_err(|e| error("conv2d", x.device(), e))?;
    Ok(Tensor::from_cuda(dev, out, &[geo.batch, geo.out_channels, geo.out_height(), geo.out_width()]))
}

/// Input gradient of the convolution (`CudaDevice::conv2d_backward_input`).
pub(crate) fn conv2d_backward_input(g: &Tensor, w: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor> {
    let (g, w) = (dense(g)?, dense(w)?);
    let dev = &device_storage(&g).device;
    let out = dev
        .conv2d_backward_input(geo, &device_storage(&g).buffer, &device_storage(&w).buffer)
        .map_err(|e| error("conv2d_backward_input", g.device(), e))?;
    Ok(Tensor::from_cuda(dev, out, &[geo.batch, geo.in_channels, geo.in_height, geo.in_width]))
}

/// Weight gradient of the convolution (`CudaDevice::conv2d_backward_weight`).
pub(crate) fn conv2d_backward_weight(x: &Tensor, g: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor> {
    let (x, g) = (dense(x)?, dense(g)?);
    let dev = &device_storage(&x).device;
    let out = dev
        .conv2d_backward_weight(geo, &device_storage(&x).buffer, &device_storage(&g).buffer)
        .map_err(|e| error("conv2d_backward_weight", x.device(), e))?;
    Ok(Tensor::from_cuda(dev, out, &[geo.out_channels, geo.in_channels, geo.kernel_height, geo.kernel_width]))
}

/// Max pooling; returns the values and the device positions.
pub(crate) fn max_pool(x: &Tensor, geo: &Pool2dGeometry, shape: &[usize]) -> Result<(Tensor, DeviceIndices)> {
    let x = dense(x)?;
    let s = device_storage(&x);
    let fail = |e| error("max_pool2d", x.device(), e);
    let n: usize = shape.iter().product();
    let mut out = s.device.uninit(n).map_err(fail)?;
    let mut indices = s.device.index_buffer(n).map_err(fail)?;
    s.device.max_pool(geo, &s.buffer, &mut out, &mut indices).map_err(fail)?;
    Ok((Tensor::from_cuda(&s.device, out, shape), Arc::new(indices)))
}

/// Runs a pooling, resampling or padding kernel from `t` into a new tensor
/// of `out_shape`, zeroed first when the kernel accumulates (the backward
/// passes scatter with atomic adds).
fn resample(
    op: &'static str,
    t: &Tensor,
    out_shape: &[usize],
    accumulate: bool,
    kernel: impl FnOnce(&CudaDevice, &DeviceBuffer, &mut DeviceBuffer) -> cuda::CudaResult<()>,
) -> Result<Tensor> {
    let t = dense(t)?;
    let s = device_storage(&t);
    let fail = |e| error(op, t.device(), e);
    let n: usize = out_shape.iter().product();
    let mut out = if accumulate { s.device.zeros(n) } else { s.device.uninit(n) }.map_err(fail)?;
    kernel(&s.device, &s.buffer, &mut out).map_err(fail)?;
    Ok(Tensor::from_cuda(&s.device, out, out_shape))
}

/// Max pooling's gradient from the recorded positions.
pub(crate) fn max_pool_backward(
    g: &Tensor,
    geo: &Pool2dGeometry,
    indices: &DeviceIndices,
    input_shape: &[usize],
) -> Result<Tensor> {
    resample("max_pool2d_backward", g, input_shape, true, |d, g, out| d.max_pool_backward(geo, g, indices, out))
}

/// Average pooling (forward, or backward into `out_shape`).
pub(crate) fn avg_pool(
    t: &Tensor,
    geo: &Pool2dGeometry,
    include_pad: bool,
    out_shape: &[usize],
    backward: bool,
) -> Result<Tensor> {
    resample("avg_pool2d", t, out_shape, backward, |d, t, out| d.avg_pool(geo, include_pad, t, out, backward))
}

/// Upsampling (forward, or backward into `out_shape`).
pub(crate) fn upsample(
    t: &Tensor,
    mode: UpsampleMode,
    factor: usize,
    (planes, h, w): (usize, usize, usize),
    out_shape: &[usize],
    backward: bool,
) -> Result<Tensor> {
    resample("upsample2d", t, out_shape, backward, |d, t, out| d.upsample(mode, planes, h, w, factor, t, out, backward))
}

/// Padding (forward, or backward into `out_shape`); `(planes, h, w)` are
/// the unpadded planes.
pub(crate) fn pad(
    t: &Tensor,
    pad: &Pad2d,
    mode: PadMode,
    (planes, h, w): (usize, usize, usize),
    out_shape: &[usize],
    backward: bool,
) -> Result<Tensor> {
    resample("pad2d", t, out_shape, backward, |d, t, out| d.pad(mode, pad, planes, h, w, t, out, backward))
}

/// Joins device tensors along `dim` by strided copies into one buffer.
pub(crate) fn cat(parts: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
    let first = device_storage(parts[0]);
    let dev = &first.device;
    let fail = |e| error("cat", parts[0].device(), e);
    let n: usize = shape.iter().product();
    let mut out = dev.uninit(n).map_err(fail)?;
    let out_strides = contiguous_strides(shape);
    let mut start = 0;
    for part in parts {
        let s = device_storage(part);
        let len = part.shape()[dim];
        // The slot of this part in the output, as a view of the output.
        let target = TensorLayout::from_parts(part.shape().to_vec(), out_strides.clone(), start * out_strides[dim]);
        let views = layouts("cat", part.shape(), &[&part.layout, &target])?;
        dev.copy_into(&s.buffer, views[0], &mut out, views[1], part.numel()).map_err(fail)?;
        start += len;
    }
    Ok(Tensor::from_cuda(dev, out, shape))
}
