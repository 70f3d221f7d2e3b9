//! Runs a small style-loss optimisation (conv → relu → Gram → MSE plus total
//! variation, on a 128² image) for 1,000 steps and prints the peak resident
//! memory after 10 and after 1,000 steps, with the live graph nodes:
//! evidence that each iteration's graph and buffers are freed.
//!
//! ```text
//! cargo run --release -p autograd --example constant_memory
//! ```

use autograd::{live_nodes, Var};
use tensor::{Conv2dParams, DType, Pool2dParams, Tensor};

/// Peak resident set size of this process in MiB (Linux), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let w1 = Var::constant(Tensor::randn(&[32, 3, 3, 3], 0.0, 0.2, 1, DType::F32));
    let w2 = Var::constant(Tensor::randn(&[64, 32, 3, 3], 0.0, 0.06, 2, DType::F32));
    let target = Var::constant(Tensor::rand_uniform(&[1, 64, 64], 0.0, 0.01, 3, DType::F32));
    let mut image = Var::parameter(Tensor::rand_uniform(&[1, 3, 128, 128], 0.0, 1.0, 4, DType::F32));
    let start = std::time::Instant::now();
    for step in 1..=1000 {
        let h = image.conv2d(&w1, None, Conv2dParams::new(1, 1)).relu().max_pool2d(Pool2dParams::new(2, 2));
        let h = h.conv2d(&w2, None, Conv2dParams::new(1, 1)).relu();
        let loss = h.gram().mse(&target) + image.total_variation().mul_scalar(1e-3);
        let grad = loss.backward().remove(&image).expect("the image is a parameter");
        // Normalised gradient descent: steps of 0.01 in the steepest pixel.
        let steepest = grad.abs().max(&[0, 1, 2, 3], false).to_scalar().max(1e-30);
        image.set_value(image.value() - &grad.mul_scalar(0.01 / steepest));
        if step == 1 || step == 10 || step == 1000 {
            let rss = peak_rss_mib().map_or("unknown".to_string(), |m| format!("{m:.1} MiB"));
            println!(
                "step {step:>4}: loss {:.6}, peak RSS {rss}, live graph nodes {}, {:.1} s",
                loss.to_scalar(),
                live_nodes(),
                start.elapsed().as_secs_f64()
            );
        }
    }
}
