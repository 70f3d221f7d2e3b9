//! Criterion benches of 3×3 convolution, forward and both gradients, at
//! 64→64 @256², 256→256 @64² and VGG's first layer, 3→64 @512².
//! `cargo bench --bench conv`.
//! Throughput is in FLOPs (2·Cout·Cin·9·H·W per pass).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fresco::bench::kernels::conv3x3;
use kernels::conv::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward};

fn conv(c: &mut Criterion) {
    for (ci, co, size) in [(64, 64, 256), (256, 256, 64), (3, 64, 512)] {
        let geo = conv3x3(ci, co, size);
        let x: Vec<f32> = (0..geo.input_len()).map(|i| (i % 23) as f32 * 0.01 - 0.1).collect();
        let w: Vec<f32> = (0..geo.weight_len()).map(|i| (i % 7) as f32 * 0.001 - 0.003).collect();
        let b = vec![0.1f32; co];
        let dy: Vec<f32> = (0..geo.output_len()).map(|i| (i % 11) as f32 * 0.01 - 0.05).collect();
        let (mut y, mut dx, mut dw) =
            (vec![0.0f32; geo.output_len()], vec![0.0f32; geo.input_len()], vec![0.0f32; geo.weight_len()]);
        let mut group = c.benchmark_group(format!("conv3x3_{ci}to{co}_{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(geo.forward_flops() as u64));
        group.bench_function("forward", |bench| bench.iter(|| conv2d_forward(&geo, &x, &w, Some(&b), &mut y)));
        group.bench_function("backward_input", |bench| bench.iter(|| conv2d_backward_input(&geo, &dy, &w, &mut dx)));
        group.bench_function("backward_weight", |bench| bench.iter(|| conv2d_backward_weight(&geo, &x, &dy, &mut dw)));
        group.finish();
    }
}

criterion_group!(benches, conv);
criterion_main!(benches);
