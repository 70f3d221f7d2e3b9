//! How much memory a run may use, and how much it will need: checked before
//! the work starts, so that a size the machine cannot hold is refused with
//! a one-line error instead of failing (or being killed) part-way through.
//!
//! What a process may use is the least of three limits: the memory the
//! kernel reports available (`MemAvailable` in `/proc/meminfo`), the
//! address-space limit (`ulimit -v`, less what is already mapped), and a
//! cgroup v2 memory limit (less what the group already uses).
//!
//! What a run needs comes from a model fitted to measured peaks (see each
//! function); allocations that still fail are turned into errors by
//! [`kernels::buffer_pool`], never into an abort.

use anyhow::{bail, Result};

/// The most memory this process can still allocate, in bytes, and which
/// limit says so; `None` where no limit can be read (not Linux).
pub fn available_bytes() -> Option<(u64, &'static str)> {
    let mut limits: Vec<(u64, &'static str)> = Vec::new();
    if let Some(kib) = proc_field("/proc/meminfo", "MemAvailable:") {
        limits.push((kib * 1024, "the memory available"));
    }
    if let Some(limit) = address_space_limit() {
        let mapped = proc_field("/proc/self/status", "VmSize:").unwrap_or(0) * 1024;
        limits.push((limit.saturating_sub(mapped), "the address-space limit (ulimit -v)"));
    }
    if let Some(limit) = cgroup_limit() {
        limits.push(limit);
    }
    limits.into_iter().min_by_key(|&(bytes, _)| bytes)
}

/// What this process's cgroup still allows: cgroup v2's `memory.max` less
/// `memory.current`, or v1's `memory.limit_in_bytes` less
/// `memory.usage_in_bytes`, at the group named in `/proc/self/cgroup`
/// (under a cgroup namespace that is the root of the mount).
fn cgroup_limit() -> Option<(u64, &'static str)> {
    let read = |path: String| std::fs::read_to_string(path).ok()?.trim().parse::<u64>().ok();
    let groups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, group) = (parts.next()?, parts.next()?, parts.next()?);
        let group = group.trim_end_matches('/');
        if controllers.is_empty() {
            for dir in [format!("/sys/fs/cgroup{group}"), "/sys/fs/cgroup".to_string()] {
                if let Some(max) = read(format!("{dir}/memory.max")) {
                    let used = read(format!("{dir}/memory.current")).unwrap_or(0);
                    return Some((max.saturating_sub(used), "the cgroup memory limit"));
                }
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            for dir in [format!("/sys/fs/cgroup/memory{group}"), "/sys/fs/cgroup/memory".to_string()] {
                // "Unlimited" reads as a huge number; it never wins the minimum.
                if let Some(max) = read(format!("{dir}/memory.limit_in_bytes")) {
                    let used = read(format!("{dir}/memory.usage_in_bytes")).unwrap_or(0);
                    return Some((max.saturating_sub(used), "the cgroup memory limit"));
                }
            }
        }
    }
    None
}

/// A number (in the file's unit) after `field` in a `/proc` text file.
fn proc_field(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// The soft `ulimit -v`, in bytes, when one is set.
fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Bytes in GiB, for messages.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// A run's working set as `fixed + per_pixel × pixels`, with the pixel
/// count of its largest image.
#[derive(Clone, Copy, Debug)]
pub struct MemoryModel {
    /// Bytes whatever the size: the program, the network's weights, buffers.
    pub fixed: u64,
    /// Bytes per pixel of the largest image the run processes.
    pub per_pixel: u64,
}

impl MemoryModel {
    /// Gatys with VGG-16/19 features to `relu5_1` and L-BFGS keeping
    /// `history` pairs of image-sized f32 vectors (24 B per pixel each).
    /// The rest was fitted to peak resident memory measured with VGG-16
    /// (astronaut × The Starry Night): 3 evaluations took 379 MiB at 256²,
    /// 1,038 MiB at 512² and 2,121 MiB at 768² (2026-11-29), and a whole
    /// run at 2048² (four scales, 10 pairs) 10.3 GiB (2026-11-30). Below
    /// about 1,000² the buffer pool keeps every freed buffer (3.5 kB per
    /// pixel in all); above, it stops at its 1 GiB limit and the rest grows
    /// by about 2.2 kB per pixel. So: 160 MiB, plus the pool's 1 GiB, plus
    /// 2.4 kB per pixel and the history — 11.5 GiB at 2048² with 10 pairs
    /// (12.4 GiB with the default 20), 1.9 GiB at 512² with 20 against the
    /// 0.81 GiB measured (over-estimates small runs, never under). The pool's
    /// budget (later the same day) holds it to about 12% over the working
    /// set, so peaks are now lower (the main job at 512²: 0.90 GiB against
    /// 1.14) and the model, fitted before it, over-estimates more. Callers
    /// pass the pairs L-BFGS can hold: no more than its iterations at a
    /// scale.
    pub const fn gatys(history: usize) -> MemoryModel {
        MemoryModel {
            fixed: (160 + 1024) << 20,
            per_pixel: 2400u64.saturating_add((history as u64).saturating_mul(24)),
        }
    }

    /// [`MemoryModel::gatys`], plus what the histogram loss adds per pixel
    /// when `histogram` is on: at `relu1_1` (64 channels at full size) the
    /// features as f64 on the host, their matched copy, the matched tensor
    /// as f32 and the sort keys. Measured: 445 MB against 347 MB peak for
    /// the default run at 256 × 170 (2.25 kB per pixel); rounded up to
    /// 2.5 kB.
    pub const fn gatys_objective(history: usize, histogram: bool) -> MemoryModel {
        let model = MemoryModel::gatys(history);
        let extra = if histogram { 2560 } else { 0 };
        MemoryModel { fixed: model.fixed, per_pixel: model.per_pixel.saturating_add(extra) }
    }

    /// `gan apply` with a width-16 generator, no graph recorded. Fitted to
    /// peaks of the whole process measured the same way: 238 MiB at 512²,
    /// 868 MiB at 1024², 2,075 MiB at 2048² (past 1 GiB the buffer pool
    /// keeps fewer buffers); 64 MiB + 800 B per pixel covers the first two
    /// and over-estimates the third.
    pub const GAN_APPLY: MemoryModel = MemoryModel { fixed: 64 << 20, per_pixel: 800 };

    /// Bytes needed for `pixels` pixels.
    pub fn bytes(&self, pixels: u64) -> u64 {
        self.fixed.saturating_add(self.per_pixel.saturating_mul(pixels))
    }

    /// The most pixels that fit in `bytes`.
    pub fn max_pixels(&self, bytes: u64) -> u64 {
        bytes.saturating_sub(self.fixed) / self.per_pixel
    }

    /// `(needed, available, the limit that says so)` when a run whose largest
    /// image has `pixels` pixels would not fit; `None` when it fits or no
    /// limit can be read.
    pub fn shortfall(&self, pixels: u64) -> Option<(u64, u64, &'static str)> {
        let (available, limit) = available_bytes()?;
        let needed = self.bytes(pixels);
        (needed > available).then_some((needed, available, limit))
    }

    /// Refuses a run whose largest image has `pixels` pixels when it would
    /// not fit, naming `what` (for example "--size 8000") and, scaled from
    /// the requested longest side `size`, the largest size that fits.
    pub fn check(&self, pixels: u64, size: usize, what: &str) -> Result<()> {
        let Some((available, limit)) = available_bytes() else { return Ok(()) };
        let needed = self.bytes(pixels);
        if needed <= available {
            return Ok(());
        }
        let fits = (size as f64 * (self.max_pixels(available) as f64 / pixels.max(1) as f64).sqrt()).floor();
        bail!(
            "{what}: this run needs about {} of memory and {limit} leaves {}; \
             the largest size that fits is about {fits} px",
            gib(needed),
            gib(available)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_size_that_fits_fits() {
        let model = MemoryModel::gatys(100);
        let budget = 4u64 << 30;
        let pixels = model.max_pixels(budget);
        assert!(model.bytes(pixels) <= budget && model.bytes(pixels + 1) > budget - model.per_pixel);
        assert_eq!(model.bytes(u64::MAX), u64::MAX);
    }

    #[test]
    fn an_impossible_size_is_refused_with_the_option_named() {
        if available_bytes().is_none() {
            eprintln!("skipped: no memory limit can be read on this system");
            return;
        }
        let message = MemoryModel::gatys(100).check(1 << 40, 1 << 20, "--size 1048576").unwrap_err().to_string();
        assert!(message.starts_with("--size 1048576:") && message.contains("largest size"), "{message}");
    }
}
