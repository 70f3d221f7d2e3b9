//! GAN transfer speed: training steps per second at a crop size and batch
//! (random-feature VGG-16 for the perceptual losses, default network sizes),
//! where a step's time goes, and the time `apply` takes on 512² and 1024²
//! images.

use std::time::Instant;

use autograd::Var;
use nn::{ParamStore, Vgg, VggKind};
use style::gan::{apply_generator, Discriminator, GanConfig, Generator, Trainer};
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
    let config = config_for_breakdown(crop_size, batch_size);
    let config = GanConfig { steps: steps + 1, ..config };
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
    print_step_breakdown(&config_for_breakdown(crop_size, batch_size), per_step);
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

fn config_for_breakdown(crop_size: usize, batch_size: usize) -> GanConfig {
    GanConfig { batch_size, crop_size, train_size: crop_size.max(512), ..GanConfig::default() }
}

/// Median seconds of `runs` calls of `f` after one warm-up.
fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Times the parts of a training step one by one, on the same batch shape:
/// the generator's forward and backward, VGG's forward and backward to its
/// input through the style layers (the perceptual losses of the output),
/// VGG's forward to the content layer for the targets, and the
/// discriminator's three passes. The rest of the step (losses, Adam, crops)
/// is the difference from the measured step.
fn print_step_breakdown(config: &GanConfig, per_step: f64) {
    let (b, c) = (config.batch_size, config.crop_size);
    let batch = Tensor::rand_uniform(&[b, 3, c, c], 0.0, 1.0, 3, DType::F32);
    let vgg = Vgg::random(VggKind::Vgg16, 0);
    let mut store = ParamStore::new(0, DType::F32);
    let generator = Generator::new(&mut store, "g", config.generator).expect("generator");
    let mut d_store = ParamStore::new(1, DType::F32);
    let discriminator = Discriminator::new(&mut d_store, "d", config.discriminator).expect("discriminator");
    let layers = |spec: &str| -> Vec<String> {
        style::perceptual::parse_layers("layers", spec).expect("the default layers").into_iter().map(|l| l.0).collect()
    };
    let style_layers = layers(&config.style_layers);
    let style_layers: Vec<&str> = style_layers.iter().map(String::as_str).collect();
    let content_layers = layers(&config.content_layers);
    let content_layers: Vec<&str> = content_layers.iter().map(String::as_str).collect();
    let runs = 5;
    let generator_pass = median_seconds(runs, || {
        let out = generator.forward(&Var::constant(batch.clone())).expect("forward");
        out.mean_all().backward();
    });
    let vgg_style = median_seconds(runs, || {
        let image = Var::parameter(batch.clone());
        let features = vgg.forward_features(&image, &style_layers).expect("features");
        let sum = features.iter().map(|f| f.gram().mean_all()).reduce(|a, b| a + b).expect("a layer");
        sum.backward();
    });
    let vgg_content = median_seconds(runs, || {
        autograd::no_grad(|| vgg.forward_features(&Var::constant(batch.clone()), &content_layers).expect("features"));
    });
    let discriminator_passes = median_seconds(runs, || {
        let fake = Var::parameter(batch.clone());
        discriminator.forward(&fake).expect("forward").mean_all().backward();
        for _ in 0..2 {
            discriminator.forward(&Var::constant(batch.clone())).expect("forward").mean_all().backward();
        }
    });
    let parts = [
        ("generator forward + backward", generator_pass),
        ("VGG to the style layers, forward + backward (output)", vgg_style),
        ("VGG to the content layer, forward (targets)", vgg_content),
        ("discriminator: 3 forward + backward", discriminator_passes),
    ];
    let measured: f64 = parts.iter().map(|p| p.1).sum();
    let mut rows: Vec<Vec<String>> = parts
        .iter()
        .map(|(what, s)| vec![what.to_string(), format!("{s:.3}"), format!("{:.0}%", 100.0 * s / per_step)])
        .collect();
    rows.push(vec![
        "the rest (losses, Adam, crops, augmentation)".into(),
        format!("{:.3}", per_step - measured),
        format!("{:.0}%", 100.0 * (per_step - measured) / per_step),
    ]);
    println!("where a step's time goes (each part timed alone, median of {runs}):");
    super::print_table(&["part", "s", "of a step"], &rows);
}
