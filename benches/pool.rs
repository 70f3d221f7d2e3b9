//! Criterion bench of VGG's max pooling (2×2, stride 2, with the indices of
//! the chosen inputs) at the sizes VGG-16 meets at 512²: 64 planes of 512²
//! and 128 of 256². `cargo bench --bench pool`.
//! Throughput is in input values read.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kernels::pooling::{max_pool2d_forward, Pool2dGeometry};

fn max_pool(c: &mut Criterion) {
    for (planes, size) in [(64, 512), (128, 256)] {
        let geo =
            Pool2dGeometry { planes, in_height: size, in_width: size, kernel: (2, 2), stride: (2, 2), padding: (0, 0) };
        let x: Vec<f32> = (0..planes * size * size).map(|i| ((i * 7919) % 1021) as f32 * 0.01 - 3.0).collect();
        let outputs = planes * geo.out_height() * geo.out_width();
        let (mut y, mut indices) = (vec![0.0f32; outputs], vec![0u32; outputs]);
        let mut group = c.benchmark_group(format!("max_pool2x2_{planes}x{size}"));
        group.sample_size(20);
        group.throughput(Throughput::Elements(x.len() as u64));
        group.bench_function("forward", |bench| bench.iter(|| max_pool2d_forward(&geo, &x, &mut y, &mut indices)));
        group.finish();
    }
}

criterion_group!(benches, max_pool);
criterion_main!(benches);
