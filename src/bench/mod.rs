//! Benchmarks printed as plain tables, so figures can be set beside
//! PyTorch's from the anchor scripts run in the same session.
//!
//! Timing follows the anchors: warm-ups, then samples of back-to-back calls
//! lasting at least `min_sample_s` each; the median sample is reported, with
//! the spread `(max − min) / median`.

pub mod gan;
pub mod gatys;
pub mod kernels;
pub mod memory;
pub mod vgg;

use std::time::Instant;

pub use self::kernels::print_kernel_report;

/// Timing statistics of one measured operation, in seconds per call.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Median of the samples.
    pub median: f64,
    /// Fastest sample.
    pub min: f64,
    /// Slowest sample.
    pub max: f64,
}

impl Timing {
    /// Spread of the samples, `(max − min) / median`, in percent.
    pub fn spread_percent(&self) -> f64 {
        100.0 * (self.max - self.min) / self.median
    }
}

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    /// Samples taken.
    pub samples: usize,
    /// Unmeasured calls first.
    pub warmups: usize,
    /// Each sample repeats the call until it lasts this long.
    pub min_sample_s: f64,
}

impl BenchConfig {
    /// The anchors' settings: 7 samples of ≥ 0.15 s after 3 warm-ups.
    pub fn standard() -> Self {
        BenchConfig { samples: 7, warmups: 3, min_sample_s: 0.15 }
    }

    /// A fast look: 3 samples, 1 warm-up, no minimum sample length.
    pub fn quick() -> Self {
        BenchConfig { samples: 3, warmups: 1, min_sample_s: 0.0 }
    }
}

/// Measures `f` per call.
pub fn time_it(config: BenchConfig, mut f: impl FnMut()) -> Timing {
    for _ in 0..config.warmups {
        f();
    }
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-9);
    let inner = ((config.min_sample_s / once) as usize + 1).min(10_000);
    let mut samples: Vec<f64> = (0..config.samples.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..inner {
                f();
            }
            start.elapsed().as_secs_f64() / inner as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Timing { median: samples[samples.len() / 2], min: samples[0], max: samples[samples.len() - 1] }
}

/// Prints rows as an aligned plain-text table.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    let line =
        |cells: Vec<String>| cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect::<Vec<_>>().join("  ");
    println!("{}", line(headers.iter().map(|h| h.to_string()).collect()));
    println!("{}", line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        println!("{}", line(row.clone()));
    }
}
