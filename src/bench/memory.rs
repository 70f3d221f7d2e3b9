//! Resident memory of this process (Linux `/proc`), for working-set figures
//! measured the way the PyTorch anchors measure them: the peak is reset just
//! before the timed work, and the working set is the peak minus the resident
//! size at that moment.

/// A `/proc/self/status` field in MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resident set size now, in MiB.
pub fn current_rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

/// Peak resident set size since start or the last [`reset_peak`], in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// Resets the peak to the current resident size (writing 5 to
/// `/proc/self/clear_refs`); returns false where the kernel refuses.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Formats an optional MiB figure.
pub fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.0}"))
}
