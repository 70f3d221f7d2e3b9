//! VGG-19 to `conv5_1`, batch 1: forward alone and forward plus backward to
//! the input image (weights frozen), with the working set, as
//! `../shared/anchors/04_vgg.py` measures PyTorch.

use autograd::Var;
use nn::{Vgg, VggKind};
use tensor::{DType, Tensor};

use super::memory::{current_rss_mib, mib, peak_rss_mib, reset_peak};
use super::{print_table, time_it, BenchConfig};

/// Convolution FLOPs of VGG-19 up to `conv5_1` at `size`² (forward).
pub fn vgg19_conv_gflop(size: usize) -> f64 {
    let mut flops = 0.0;
    let mut side = size;
    let mut inputs = 3;
    for (block, count) in VggKind::Vgg19.blocks().into_iter().enumerate() {
        let width = nn::vgg::VGG_WIDTHS[block];
        let convs = if block == 4 { 1 } else { count };
        for _ in 0..convs {
            flops += 2.0 * (width * inputs * 9 * side * side) as f64;
            inputs = width;
        }
        side /= 2;
    }
    flops / 1e9
}

/// Times one pass kind at one size and returns a table row.
fn measure(vgg: &Vgg, size: usize, backward: bool, config: BenchConfig) -> Vec<String> {
    let image = Tensor::rand_uniform(&[1, 3, size, size], 0.0, 1.0, 7, DType::F32);
    let run = || {
        if backward {
            let x = Var::parameter(image.clone());
            let y = vgg.forward_features(&x, &["conv5_1"]).expect("conv5_1 exists").remove(0);
            let grads = y.backward_with(Tensor::ones(y.shape(), DType::F32));
            std::hint::black_box(grads.get(&x).map(|g| g.numel()));
        } else {
            let x = Var::constant(image.clone());
            std::hint::black_box(vgg.forward_features(&x, &["conv5_1"]).expect("conv5_1 exists"));
        }
    };
    // Baseline before any pass (as the anchors take it): the working set
    // includes the buffers the pool keeps between passes.
    let base = current_rss_mib();
    reset_peak();
    let t = time_it(config, run);
    let peak = peak_rss_mib();
    let gflop = vgg19_conv_gflop(size) * if backward { 2.0 } else { 1.0 };
    vec![
        format!("{size}x{size}"),
        if backward { "fwd+bwd" } else { "fwd" }.to_string(),
        format!("{:.3}", t.median),
        format!("{:.3}", t.min),
        format!("{:.3}", t.max),
        format!("{:.0}", gflop / t.median),
        mib(base),
        mib(peak),
        mib(base.zip(peak).map(|(b, p)| p - b)),
    ]
}

/// Prints the VGG table for `sizes`.
pub fn print_vgg_report(sizes: &[usize], config: BenchConfig) {
    println!(
        "fresco VGG-19 to conv5_1, batch 1, random weights, {} rayon threads; median/min/max s of {} samples after {} warm-ups",
        rayon::current_num_threads(),
        config.samples,
        config.warmups
    );
    println!("RSS MiB: base before the timed loop, peak during it (high-water mark reset first), delta = working set");
    let vgg = Vgg::random(VggKind::Vgg19, 0);
    let mut rows = Vec::new();
    for &size in sizes {
        for backward in [false, true] {
            rows.push(measure(&vgg, size, backward, config));
        }
    }
    print_table(&["input", "pass", "s med", "min", "max", "GF/s", "RSS base", "peak", "delta"], &rows);
}
