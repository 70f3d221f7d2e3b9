//! The CUDA backend against the CPU kernels: every op forward and backward
//! on random inputs, within stated tolerances. Skipped, with the reason
//! printed, where no GPU (or no NVRTC) is present; on such machines the
//! request itself must fail with a clear error, which is tested instead.

use tensor::{Conv2dParams, DType, Device, Pad2d, PadMode, Pool2dParams, ReduceOp, Tensor, UnaryOp, UpsampleMode};

/// The GPU, or `None` with the reason printed.
fn gpu() -> Option<Device> {
    match Tensor::zeros(&[1], DType::F32).try_to_device(Device::Cuda(0)) {
        Ok(_) => Some(Device::Cuda(0)),
        Err(e) => {
            println!("skipped: no usable GPU here ({e})");
            None
        }
    }
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    Tensor::rand_uniform(shape, -1.0, 1.0, seed, DType::F32)
}

/// `max |gpu − cpu| ≤ tol · max(1, max |cpu|)`.
fn assert_close(what: &str, gpu: &Tensor, cpu: &Tensor, tol: f64) {
    assert_eq!(gpu.shape(), cpu.shape(), "{what}: shapes");
    assert_eq!(gpu.device(), Device::Cuda(0), "{what}: result left the device");
    let (g, c) = (gpu.to_f64_vec(), cpu.to_f64_vec());
    let scale = c.iter().map(|v| v.abs()).fold(1.0, f64::max);
    let worst = g.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= tol * scale, "{what}: worst difference {worst:e} (scale {scale:e}, tolerance {tol:e})");
}

#[test]
fn asking_for_a_missing_gpu_is_a_clear_error() {
    if gpu().is_some() {
        return;
    }
    let error = Tensor::zeros(&[2], DType::F32).try_to_device(Device::Cuda(0)).unwrap_err().to_string();
    assert!(error.contains("cuda:0") && error.contains("not available"), "{error}");
    // f64 tensors are refused before any device is touched.
    let error = Tensor::zeros(&[2], DType::F64).try_to_device(Device::Cuda(0)).unwrap_err().to_string();
    assert!(error.contains("f64") || error.contains("not available"), "{error}");
}

#[test]
fn elementwise_and_reductions_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    let a = random(&[3, 5, 7], 1);
    let b = random(&[5, 1], 2);
    let ops = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Relu,
        UnaryOp::LeakyRelu(0.2),
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Clamp(-0.3, 0.4),
        UnaryOp::AddScalar(0.5),
        UnaryOp::MulScalar(-2.0),
        UnaryOp::StepPositive,
        UnaryOp::Sign,
    ];
    let ad = a.to_device(dev);
    for op in ops {
        assert_close(&format!("{op:?}"), &ad.try_unary(op).unwrap(), &a.try_unary(op).unwrap(), 1e-6);
    }
    let positive = a.abs().add_scalar(0.1);
    for op in [UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Recip, UnaryOp::Powf(1.7)] {
        assert_close(
            &format!("{op:?}"),
            &positive.to_device(dev).try_unary(op).unwrap(),
            &positive.try_unary(op).unwrap(),
            1e-5,
        );
    }
    let bd = b.to_device(dev);
    assert_close("add (broadcast)", &(&ad + &bd), &(&a + &b), 1e-6);
    assert_close("div (broadcast)", &(&ad / &bd.abs().add_scalar(0.5)), &(&a / &b.abs().add_scalar(0.5)), 1e-6);
    assert_close("maximum", &ad.maximum(&bd), &a.maximum(&b), 0.0);
    assert_close("pass where positive", &ad.pass_where_positive(&bd), &a.pass_where_positive(&b), 0.0);
    assert_close("transposed view", &ad.permute(&[2, 0, 1]).contiguous(), &a.permute(&[2, 0, 1]).contiguous(), 0.0);
    assert_close("sum over 0, 2", &ad.sum(&[0, 2], false), &a.sum(&[0, 2], false), 1e-5);
    assert_close("max over 1", &ad.max(&[1], true), &a.max(&[1], true), 0.0);
    let long = random(&[2, 100_000], 3);
    assert_close("long sum (block reduction)", &long.to_device(dev).sum(&[1], false), &long.sum(&[1], false), 1e-4);
    assert_close("cat", &Tensor::cat(&[&ad, &ad.narrow(1, 1, 2)], 1), &Tensor::cat(&[&a, &a.narrow(1, 1, 2)], 1), 0.0);
    assert_eq!(
        ad.try_reduce(ReduceOp::Min, &[0, 1, 2], false).unwrap().to_scalar(),
        a.min(&[0, 1, 2], false).to_scalar()
    );
}

#[test]
fn matmul_matches_the_cpu() {
    let Some(dev) = gpu() else { return };
    let a = random(&[2, 70, 130], 4);
    let b = random(&[130, 90], 5);
    assert_close("batched matmul", &a.to_device(dev).matmul(&b.to_device(dev)), &a.matmul(&b), 1e-4);
    let f = random(&[1, 64, 300], 6);
    let fd = f.to_device(dev);
    assert_close("Gram F·Fᵀ", &fd.matmul(&fd.transpose(1, 2)), &f.matmul(&f.transpose(1, 2)), 1e-4);
}

#[test]
fn convolution_and_its_gradients_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    for (params, size) in [
        (Conv2dParams::new(1, 1), 17),
        (Conv2dParams::new(2, 1), 16),
        (Conv2dParams { stride: (1, 1), padding: (2, 2), dilation: (2, 2) }, 12),
    ] {
        let (x, w, b) = (random(&[2, 5, size, size], 7), random(&[6, 5, 3, 3], 8), random(&[6], 9));
        let y = x.conv2d(&w, Some(&b), params);
        let (xd, wd, bd) = (x.to_device(dev), w.to_device(dev), b.to_device(dev));
        assert_close("conv2d", &xd.conv2d(&wd, Some(&bd), params), &y, 1e-5);
        let relu = xd.try_conv2d_relu(&wd, Some(&bd), params).unwrap();
        assert_close("conv2d then ReLU", &relu, &x.try_conv2d_relu(&w, Some(&b), params).unwrap(), 1e-5);
        let g = random(y.shape(), 10);
        let gd = g.to_device(dev);
        let dx = g.try_conv2d_backward_input(&w, x.shape(), params).unwrap();
        assert_close("conv2d dX", &gd.try_conv2d_backward_input(&wd, x.shape(), params).unwrap(), &dx, 1e-5);
        let dw = x.try_conv2d_backward_weight(&g, w.shape(), params).unwrap();
        assert_close("conv2d dW", &xd.try_conv2d_backward_weight(&gd, w.shape(), params).unwrap(), &dw, 1e-4);
    }
}

#[test]
fn pooling_resampling_and_padding_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    let x = random(&[2, 3, 9, 10], 11);
    let xd = x.to_device(dev);
    for params in [Pool2dParams::new(2, 2), Pool2dParams { kernel: (3, 3), stride: (2, 2), padding: (1, 1) }] {
        let (y, idx) = x.try_max_pool2d(params).unwrap();
        let (yd, idxd) = xd.try_max_pool2d(params).unwrap();
        assert_close("max_pool2d", &yd, &y, 0.0);
        let g = random(y.shape(), 12);
        assert_close(
            "max_pool2d backward",
            &g.to_device(dev).try_max_pool2d_backward(&idxd).unwrap(),
            &g.try_max_pool2d_backward(&idx).unwrap(),
            1e-6,
        );
        for include in [false, true] {
            assert_close("avg_pool2d", &xd.avg_pool2d(params, include), &x.avg_pool2d(params, include), 1e-6);
            let back = g.try_avg_pool2d_backward(x.shape(), params, include).unwrap();
            assert_close(
                "avg_pool2d backward",
                &g.to_device(dev).try_avg_pool2d_backward(x.shape(), params, include).unwrap(),
                &back,
                1e-6,
            );
        }
    }
    for mode in [UpsampleMode::Nearest, UpsampleMode::Bilinear] {
        let y = x.upsample2d(2, mode);
        assert_close("upsample", &xd.upsample2d(2, mode), &y, 1e-6);
        let g = random(y.shape(), 13);
        assert_close(
            "upsample backward",
            &g.to_device(dev).try_upsample2d_backward(2, mode).unwrap(),
            &g.try_upsample2d_backward(2, mode).unwrap(),
            1e-5,
        );
    }
    let pad = Pad2d { top: 2, bottom: 1, left: 3, right: 0 };
    for mode in [PadMode::Zero, PadMode::Reflect, PadMode::Replicate] {
        let y = x.pad2d(pad, mode);
        assert_close("pad2d", &xd.pad2d(pad, mode), &y, 0.0);
        let g = random(y.shape(), 14);
        assert_close(
            "pad2d backward",
            &g.to_device(dev).try_pad2d_backward(pad, mode).unwrap(),
            &g.try_pad2d_backward(pad, mode).unwrap(),
            1e-6,
        );
    }
}

#[test]
fn mixing_devices_is_refused_by_name() {
    let Some(dev) = gpu() else { return };
    let a = random(&[4], 15);
    let message = a.try_add(&a.to_device(dev)).unwrap_err().to_string();
    assert!(message.contains("different devices") && message.contains("add"), "{message}");
}
