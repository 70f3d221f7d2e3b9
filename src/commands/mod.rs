//! The `fresco` subcommands that run style transfer, with their arguments.

pub mod gan;
pub mod gatys;

/// The progress bar of a long run (hidden with `quiet`, and by indicatif
/// itself when standard error is not a terminal).
pub(crate) fn progress_bar(len: u64, quiet: bool) -> indicatif::ProgressBar {
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(len) };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}] {msg}",
        )
        .expect("valid template"),
    );
    bar
}
