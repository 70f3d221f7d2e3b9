//! Seconds per L-BFGS evaluation of Gatys transfer with VGG-19's layers
//! (content conv4_2; style conv1_1 … conv5_1), random weights and
//! random-noise images, with the working set: what
//! `../shared/anchors/05_style.py` measures for PyTorch.

use nn::{Vgg, VggKind};
use style::gatys::Gatys;
use style::perceptual::parse_layers;
use tensor::{DType, Tensor};

use super::memory::{current_rss_mib, mib, peak_rss_mib, reset_peak};
use super::print_table;

/// Runs `evaluations` L-BFGS evaluations at `size`² and returns a table row.
fn measure(size: usize, evaluations: usize) -> Vec<String> {
    let vgg = Vgg::random(VggKind::Vgg19, 0);
    let gatys = Gatys::builder()
        .size(size)
        .scales(1)
        .iterations(evaluations)
        // As the anchor keeps (torch's default).
        .history(100)
        // No preconditioner, as the PyTorch anchor runs (the pixels are
        // still kept in 0–1, by projection: a few ms per iteration).
        .preconditioner_levels(0)
        .content_layers(parse_layers("content", "conv4_2").expect("valid"))
        .style_layers(parse_layers("style", "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1").expect("valid"))
        .build(vgg)
        .expect("valid settings");
    let content = Tensor::rand_uniform(&[1, 3, size, size], 0.0, 1.0, 1, DType::F32);
    let style = Tensor::rand_uniform(&[1, 3, size, size], 0.0, 1.0, 2, DType::F32);
    // As the anchor does: warm up with throw-away evaluations first, then
    // take the baseline and reset the peak, so the delta is what the timed
    // loop adds; the absolute peak is reported too.
    let process_start = current_rss_mib();
    gatys
        .run(&content, std::slice::from_ref(&style), |p| {
            if p.iteration >= 2 {
                Err("warm-up done".to_string())
            } else {
                Ok(())
            }
        })
        .err();
    let base = current_rss_mib();
    reset_peak();
    let mut times = Vec::new();
    let mut last = std::time::Duration::ZERO;
    let result = gatys
        .run(&content, std::slice::from_ref(&style), |p| {
            times.push((p.elapsed - last).as_secs_f64());
            last = p.elapsed;
            Ok(())
        })
        .expect("benchmark run");
    let peak = peak_rss_mib();
    // The first evaluation also computes the targets: report the rest.
    let steady: Vec<f64> = times.iter().skip(1).copied().collect();
    let mut sorted = steady.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = steady.iter().sum::<f64>() / steady.len().max(1) as f64;
    vec![
        format!("{size}x{size}"),
        result.evaluations.to_string(),
        format!("{mean:.3}"),
        format!("{:.3}", sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)),
        format!("{:.3}", sorted.first().copied().unwrap_or(f64::NAN)),
        format!("{:.3}", sorted.last().copied().unwrap_or(f64::NAN)),
        mib(process_start),
        mib(base),
        mib(peak),
        mib(base.zip(peak).map(|(b, p)| p - b)),
    ]
}

/// Prints the Gatys table for `(size, evaluations)` pairs.
pub fn print_gatys_report(runs: &[(usize, usize)]) {
    println!(
        "fresco Gatys, VGG-19 layers (content conv4_2; style conv1_1..conv5_1), random weights and noise images, L-BFGS, {} rayon threads",
        rayon::current_num_threads()
    );
    println!("s per evaluation excluding the first (which also computes the targets)");
    println!("RSS MiB: start = before anything ran (model loaded); base = after two warm-up evaluations; peak during the timed run; delta = peak - base (the anchor's measure)");
    let rows: Vec<Vec<String>> = runs.iter().map(|&(size, n)| measure(size, n)).collect();
    print_table(&["input", "evals", "s mean", "median", "min", "max", "RSS start", "base", "peak", "delta"], &rows);
}
