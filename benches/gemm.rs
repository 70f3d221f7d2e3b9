//! Criterion benches of SGEMM: square 256–2048, VGG-19's im2col shapes at
//! 256² (forward and input-gradient), and Gram matrices `F·Fᵀ` of VGG's
//! style layers at 256² (B is the transpose of a row-major matrix).
//! `cargo bench --bench gemm`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fresco::bench::kernels::{square_shapes, vgg_backward_shapes, vgg_forward_shapes};
use kernels::gemm::{gemm, MatMut, MatRef};

fn sgemm(c: &mut Criterion) {
    let groups = [
        ("sgemm_square", square_shapes(&[256, 512, 1024, 2048])),
        ("sgemm_vgg19_forward", vgg_forward_shapes()),
        ("sgemm_vgg19_backward_data", vgg_backward_shapes()),
    ];
    for (group_name, shapes) in groups {
        let mut group = c.benchmark_group(group_name);
        group.sample_size(10);
        for (name, m, k, n) in shapes {
            let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.01 - 0.08).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i % 13) as f32 * 0.01 - 0.06).collect();
            let mut out = vec![0.0f32; m * n];
            group.throughput(Throughput::Elements((2 * m * k * n) as u64));
            group.bench_function(BenchmarkId::from_parameter(format!("{name} {m}x{k}x{n}")), |bench| {
                bench.iter(|| {
                    gemm(
                        1.0,
                        &MatRef::row_major(&a, m, k),
                        &MatRef::row_major(&b, k, n),
                        0.0,
                        MatMut::row_major(&mut out, m, n),
                    )
                })
            });
        }
        group.finish();
    }
}

fn gram(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgemm_gram");
    group.sample_size(10);
    // relu1_1 … relu4_1 at 256²: channels × pixels.
    for (channels, pixels) in [(64, 256 * 256), (128, 128 * 128), (256, 64 * 64), (512, 32 * 32)] {
        let f: Vec<f32> = (0..channels * pixels).map(|i| (i % 19) as f32 * 0.01 - 0.09).collect();
        let mut out = vec![0.0f32; channels * channels];
        group.throughput(Throughput::Elements((2 * channels * channels * pixels) as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("{channels}x{pixels}")), |bench| {
            bench.iter(|| {
                let features = MatRef::row_major(&f, channels, pixels);
                gemm(1.0, &features, &features.t(), 0.0, MatMut::row_major(&mut out, channels, channels))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sgemm, gram);
criterion_main!(benches);
