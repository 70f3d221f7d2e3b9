//! GAN transfer speed: training steps per second at a crop size and batch
//! (random-feature VGG-16 for the perceptual losses, default network sizes),
//! and the time `apply` takes on 512² and 1024² images.

use std::time::Instant;

use nn::{Vgg, VggKind};
use style::gan::{apply_generator, GanConfig, Trainer};
use tensor::{DType, Device, Tensor};

use super::memory::{current_rss_mib, mib, peak_rss_mib, reset_peak};
use super::print_table;

/// Prints training and apply timings.
pub fn print_gan_report(crop_size: usize, batch_size: usize, steps: usize, apply_sizes: &[usize]) {
    println!(
        "fresco GAN transfer, default generator (width 16, 5 residual blocks) and PatchGAN, {} rayon threads",
        rayon::current_num_threads()
    );
    let photos: Vec<Tensor> = (0..4)
        .map(|k| Tensor::rand_uniform(&[1, 3, crop_size + 32, crop_size + 48], 0.0, 1.0, k, DType::F32))
        .collect();
    let style = Tensor::rand_uniform(&[1, 3, 2 * crop_size, 2 * crop_size], 0.0, 1.0, 9, DType::F32);
    let config = GanConfig { steps: steps + 1, batch_size, crop_size, ..GanConfig::default() };
    let mut trainer = Trainer::new(config, Vgg::random(VggKind::Vgg16, 0), style, photos).expect("valid settings");
    trainer.step().expect("training step"); // warm-up: first touch of every buffer
    let start = Instant::now();
    for _ in 0..steps {
        trainer.step().expect("training step");
    }
    let per_step = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "training: crop {crop_size}x{crop_size}, batch {batch_size}: {per_step:.2} s per step ({:.2} steps/s, mean of {steps})",
        1.0 / per_step
    );
    let mut rows = Vec::new();
    for &size in apply_sizes {
        let image = Tensor::rand_uniform(&[1, 3, size, size], 0.0, 1.0, 5, DType::F32);
        apply_generator(trainer.generator(), &image, Device::Cpu).expect("apply"); // warm-up
        let base = current_rss_mib();
        reset_peak();
        let mut times: Vec<f64> = (0..3)
            .map(|_| {
                let start = Instant::now();
                apply_generator(trainer.generator(), &image, Device::Cpu).expect("apply");
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let peak = peak_rss_mib();
        rows.push(vec![
            format!("{size}x{size}"),
            format!("{:.3}", times[1]),
            format!("{:.3}", times[0]),
            format!("{:.3}", times[2]),
            mib(base.zip(peak).map(|(b, p)| p - b)),
        ]);
    }
    println!("apply (one image, median/min/max of 3 after a warm-up):");
    print_table(&["input", "s med", "min", "max", "delta MiB"], &rows);
}
