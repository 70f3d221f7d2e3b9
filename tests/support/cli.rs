//! What the command-line tests share: running the `fresco` binary without
//! network access, and a tiny VGG with He-initialised random weights (real
//! architecture and layer names, a few channels per layer) to run `gatys`,
//! `score` and `gan train` with. Each test file uses the parts it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nn::{InputConvention, Vgg, VggKind};
use tensor::{DType, Tensor};

/// Writes `kind` with `widths` channels per block into `dir` (f16,
/// torchvision convention) and returns the file.
pub fn tiny_vgg(dir: &Path, kind: VggKind, widths: [usize; 5]) -> PathBuf {
    let mut convs = Vec::new();
    let mut inputs = 3;
    for (b, count) in kind.blocks().into_iter().enumerate() {
        for i in 0..count {
            let std = (2.0 / (9.0 * inputs as f64)).sqrt();
            let w = Tensor::randn(&[widths[b], inputs, 3, 3], 0.0, std, (b * 7 + i) as u64, DType::F32);
            convs.push((w, Tensor::zeros(&[widths[b]], DType::F32)));
            inputs = widths[b];
        }
    }
    let path = dir.join(format!("tiny-{}.safetensors", kind.name()));
    Vgg::write_weights(&path, kind, &convs, InputConvention::Torchvision, DType::F16, "test").unwrap();
    path
}

/// Runs `fresco` with `args`, the weights cache at `cache` and downloads off
/// (a test must never fetch anything).
pub fn fresco_offline(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fresco"))
        .args(args)
        .env("FRESCO_CACHE", cache)
        .env("FRESCO_OFFLINE", "1")
        .output()
        .unwrap()
}

/// The one line a failed run printed on standard error (notices that start
/// with `note:` aside); fails the test if the run succeeded or said more.
pub fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure, got success: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("note:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_string()
}
