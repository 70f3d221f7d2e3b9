//! Kernel throughput tables: SGEMM on square and VGG-19 shapes, and 3×3
//! convolution passes, printed as GFLOP/s so they can be set beside PyTorch's
//! figures (`../shared/anchors/02_sgemm.py`, `03_conv.py`) measured in the
//! same session.

use super::{print_table, time_it, BenchConfig, Timing};

use kernels::conv::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward, Conv2dGeometry};
use kernels::gemm::{gemm, MatMut, MatRef};

/// One GEMM problem: a name and `(M, K, N)`.
pub type GemmShape = (String, usize, usize, usize);

/// VGG-19's distinct 3×3 convolutions at a 256² input: `(layer, Cout, Cin, H)`.
pub const VGG19_CONVS: [(&str, usize, usize, usize); 9] = [
    ("conv1_1", 64, 3, 256),
    ("conv1_2", 64, 64, 256),
    ("conv2_1", 128, 64, 128),
    ("conv2_2", 128, 128, 128),
    ("conv3_1", 256, 128, 64),
    ("conv3_2..4", 256, 256, 64),
    ("conv4_1", 512, 256, 32),
    ("conv4_2..4", 512, 512, 32),
    ("conv5_1", 512, 512, 16),
];

/// Square SGEMM sizes.
pub fn square_shapes(sizes: &[usize]) -> Vec<GemmShape> {
    sizes.iter().map(|&n| (format!("{n}^3"), n, n, n)).collect()
}

/// The forward im2col GEMMs of VGG-19 at 256²: `M = Cout, K = Cin·9, N = H·W`.
pub fn vgg_forward_shapes() -> Vec<GemmShape> {
    VGG19_CONVS.iter().map(|&(name, co, ci, h)| (name.to_string(), co, ci * 9, h * h)).collect()
}

/// The input-gradient GEMMs `Wᵀ·dY`: `M = Cin·9, K = Cout, N = H·W`.
pub fn vgg_backward_shapes() -> Vec<GemmShape> {
    VGG19_CONVS.iter().map(|&(name, co, ci, h)| (name.to_string(), ci * 9, co, h * h)).collect()
}

/// Deterministic non-trivial values (never zeros: zeros can time faster).
fn filler(len: usize, salt: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919 + salt * 104729) % 1999) as f32 / 1999.0 - 0.5).collect()
}

/// Measures SGEMM `C = A·B` (row-major, β = 0) on `shape`.
pub fn time_sgemm(config: BenchConfig, (_, m, k, n): &GemmShape) -> Timing {
    let (a, b) = (filler(m * k, 1), filler(k * n, 2));
    let mut c = vec![0.0f32; m * n];
    time_it(config, || {
        gemm(
            1.0,
            &MatRef::row_major(&a, *m, *k),
            &MatRef::row_major(&b, *k, *n),
            0.0,
            MatMut::row_major(&mut c, *m, *n),
        )
    })
}

/// Measures the Gram product `F·Fᵀ` with Fᵀ passed as a strided view.
pub fn time_gram(config: BenchConfig, channels: usize, pixels: usize) -> Timing {
    let f = filler(channels * pixels, 3);
    let mut g = vec![0.0f32; channels * channels];
    let fm = MatRef::row_major(&f, channels, pixels);
    time_it(config, || gemm(1.0, &fm, &fm.t(), 0.0, MatMut::row_major(&mut g, channels, channels)))
}

/// A 3×3, stride-1, pad-1 convolution of one image.
pub fn conv3x3(in_channels: usize, out_channels: usize, size: usize) -> Conv2dGeometry {
    Conv2dGeometry {
        batch: 1,
        in_channels,
        in_height: size,
        in_width: size,
        out_channels,
        kernel_height: 3,
        kernel_width: 3,
        stride: (1, 1),
        padding: (1, 1),
        dilation: (1, 1),
    }
}

/// Times of the three convolution passes on `geo`.
pub struct ConvTimings {
    /// Forward with bias.
    pub forward: Timing,
    /// Gradient to the input.
    pub backward_input: Timing,
    /// Gradient to the weights.
    pub backward_weight: Timing,
}

/// Measures forward, input-gradient and weight-gradient passes.
pub fn time_conv(config: BenchConfig, geo: &Conv2dGeometry) -> ConvTimings {
    let x = filler(geo.input_len(), 4);
    let w: Vec<f32> = filler(geo.weight_len(), 5).iter().map(|v| v * 0.1).collect();
    let b = filler(geo.out_channels, 6);
    let dy = filler(geo.output_len(), 7);
    let mut y = vec![0.0f32; geo.output_len()];
    let mut dx = vec![0.0f32; geo.input_len()];
    let mut dw = vec![0.0f32; geo.weight_len()];
    ConvTimings {
        forward: time_it(config, || conv2d_forward(geo, &x, &w, Some(&b), &mut y)),
        backward_input: time_it(config, || conv2d_backward_input(geo, &dy, &w, &mut dx)),
        backward_weight: time_it(config, || conv2d_backward_weight(geo, &x, &dy, &mut dw)),
    }
}

fn gemm_row(shape: &GemmShape, t: Timing) -> Vec<String> {
    let (name, m, k, n) = shape;
    let gflop = 2.0 * (m * k * n) as f64 / 1e9;
    vec![
        name.clone(),
        m.to_string(),
        k.to_string(),
        n.to_string(),
        format!("{gflop:.3}"),
        format!("{:.2}", t.median * 1e3),
        format!("{:.1}", gflop / t.median),
        format!("{:.1}", gflop / t.max),
        format!("{:.1}", gflop / t.min),
        format!("{:.0}%", t.spread_percent()),
    ]
}

const GEMM_HEADERS: [&str; 10] =
    ["shape", "M", "K", "N", "GFLOP", "ms med", "GF/s med", "GF/s min", "GF/s max", "spread"];

/// Prints the SGEMM and convolution tables.
pub fn print_kernel_report(config: BenchConfig) {
    println!(
        "fresco kernels: {} rayon threads, f32; median of {} samples (each >= {}s), {} warm-ups",
        rayon::current_num_threads(),
        config.samples,
        config.min_sample_s,
        config.warmups
    );
    let sections: [(&str, Vec<GemmShape>); 3] = [
        ("[a] SGEMM square, row-major", square_shapes(&[256, 512, 1024, 2048])),
        ("[b] SGEMM, VGG-19 im2col forward shapes @256x256 (M=Cout, K=Cin*9, N=H*W)", vgg_forward_shapes()),
        ("[c] SGEMM, backward-data shapes W^T.dY (M=Cin*9, K=Cout, N=H*W)", vgg_backward_shapes()),
    ];
    for (title, shapes) in sections {
        println!("\n{title}");
        let rows: Vec<Vec<String>> = shapes.iter().map(|s| gemm_row(s, time_sgemm(config, s))).collect();
        print_table(&GEMM_HEADERS, &rows);
    }
    println!("\n[d] Gram F.F^T of style layers (M=N=C, K=H*W), F^T as a strided view");
    let grams = [
        ("gconv1_1", 64, 256),
        ("gconv2_1", 128, 128),
        ("gconv3_1", 256, 64),
        ("gconv4_1", 512, 32),
        ("gconv5_1", 512, 16),
    ];
    let rows: Vec<Vec<String>> = grams
        .iter()
        .map(|&(name, c, h)| gemm_row(&(name.to_string(), c, h * h, c), time_gram(config, c, h * h)))
        .collect();
    print_table(&GEMM_HEADERS, &rows);

    println!("\n[e] conv2d 3x3 pad 1, batch 1, implicit im2col (GF/s counts 2*Cout*Cin*9*H*W per pass)");
    let mut rows = Vec::new();
    for (ci, co, size) in [(64, 64, 256), (256, 256, 64)] {
        let geo = conv3x3(ci, co, size);
        let t = time_conv(config, &geo);
        let gflop = geo.forward_flops() / 1e9;
        for (pass, timing) in [("fwd", t.forward), ("bwd dX", t.backward_input), ("bwd dW", t.backward_weight)] {
            rows.push(vec![
                format!("{ci}->{co} @{size}x{size}"),
                pass.to_string(),
                format!("{:.1}", timing.median * 1e3),
                format!("{:.1}", timing.min * 1e3),
                format!("{:.1}", timing.max * 1e3),
                format!("{:.0}", gflop / timing.median),
            ]);
        }
    }
    print_table(&["conv", "pass", "ms med", "min", "max", "GF/s"], &rows);
}
