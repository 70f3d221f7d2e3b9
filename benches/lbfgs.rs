//! Criterion bench of what L-BFGS itself costs per iteration on a Gatys-sized
//! problem (one 3×512×512 f32 image, pixels bounded to 0–1, the pyramid
//! preconditioner, 10 and 20 pairs of history), apart from the loss: the
//! loss is a cheap separable quadratic, timed on its own as `loss only`.
//! `cargo bench --bench lbfgs`. Each sample runs 25 iterations from the
//! same start, so the history fills as it does in a run.

use autograd::Var;
use criterion::{criterion_group, criterion_main, Criterion};
use nn::optim::{Lbfgs, LbfgsConfig};
use nn::{Init, ParamStore};
use style::gatys::{PyramidPreconditioner, PRECONDITIONER_LIFT};
use tensor::{DType, Tensor};

const SHAPE: [usize; 4] = [1, 3, 512, 512];
const ITERATIONS: usize = 25;

fn lbfgs_overhead(c: &mut Criterion) {
    // ½ Σ cᵢ (xᵢ − aᵢ)², curvatures 1–100, a minimum partly outside 0–1.
    let target = Var::constant(Tensor::rand_uniform(&SHAPE, -0.2, 1.2, 1, DType::F32));
    let curvature = Var::constant(Tensor::rand_uniform(&SHAPE, 1.0, 100.0, 2, DType::F32));
    let start = Tensor::rand_uniform(&SHAPE, 0.0, 1.0, 3, DType::F32);
    let mut store = ParamStore::new(0, DType::F32);
    let pixels = store.param("pixels", &SHAPE, Init::Zeros).unwrap();
    let loss = || {
        let d = &pixels.var() - &target;
        let value = (&(&d * &d) * &curvature).sum_all().mul_scalar(0.5);
        Ok::<_, nn::NnError>((value.to_scalar(), value.backward_and_free()))
    };
    let mut group = c.benchmark_group("lbfgs_3x512x512");
    group.sample_size(10);
    group.bench_function("loss only, 25 evaluations", |bench| {
        bench.iter(|| {
            pixels.set(start.clone());
            for _ in 0..ITERATIONS {
                loss().unwrap();
            }
        })
    });
    for history in [10, 20] {
        group.bench_function(format!("25 iterations, history {history}"), |bench| {
            bench.iter(|| {
                pixels.set(start.clone());
                let config = LbfgsConfig {
                    max_iter: ITERATIONS,
                    max_eval: ITERATIONS,
                    history_size: history,
                    ..Default::default()
                };
                let m = PyramidPreconditioner::new(3, SHAPE[2], SHAPE[3], 4, PRECONDITIONER_LIFT);
                let mut lbfgs = Lbfgs::new(config).with_bounds(0.0, 1.0).with_preconditioner(move |v| {
                    let mut values = v.to_vec::<f32>();
                    m.apply(&mut values);
                    Tensor::from_vec(values, v.shape())
                });
                let outcome = lbfgs.step(std::slice::from_ref(&pixels), loss).unwrap();
                assert_eq!(outcome.evaluations, ITERATIONS);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lbfgs_overhead);
criterion_main!(benches);
