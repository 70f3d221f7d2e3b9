//! Draws the loss curves of several `fresco gatys --log` files on one plot:
//! the total loss against wall-clock seconds, one curve per run and scale
//! (a coarse scale's loss is measured at its own size, so it is its own
//! curve).
//!
//! ```sh
//! cargo run --release --example loss_curves -- curves.png "title" \
//!     before=before.jsonl after=after.jsonl
//! ```

use std::path::Path;

use style::plot::{plot_curves, Series};

/// The number after `"key":` in a JSON line written by `fresco gatys --log`.
fn field(line: &str, key: &str) -> Option<f64> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: loss_curves OUT.png TITLE LABEL=LOG.jsonl...");
        std::process::exit(2);
    }
    let mut series: Vec<Series> = Vec::new();
    for run in &args[2..] {
        let Some((label, path)) = run.split_once('=') else {
            eprintln!("loss_curves: `{run}`: expected LABEL=LOG.jsonl");
            std::process::exit(2);
        };
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("loss_curves: {path}: {e}");
            std::process::exit(1);
        });
        for line in text.lines() {
            let (Some(scale), Some(seconds), Some(total)) =
                (field(line, "scale"), field(line, "elapsed_s"), field(line, "total"))
            else {
                continue;
            };
            let name = format!("{label} scale {scale}");
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push((seconds, total)),
                None => series.push(Series { name, points: vec![(seconds, total)] }),
            }
        }
    }
    if let Err(e) = plot_curves(Path::new(&args[0]), &args[1], "seconds", &series) {
        eprintln!("loss_curves: {e}");
        std::process::exit(1);
    }
}
