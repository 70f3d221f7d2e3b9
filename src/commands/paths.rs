//! Checks made before a run starts on every path it will write (outputs,
//! intermediate images, samples, models, checkpoints, logs, plots), so that
//! a long run is never lost to a name that cannot be written at its end.
//! Each error is one line naming the path and what is wrong with it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The folder that holds `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Fails unless a file can be created in `dir`: it exists, is a folder, and
/// a probe file can be made (and is removed) there. Permission bits alone do
/// not tell (root ignores them; read-only mounts do not show in them).
pub fn check_writable_dir(dir: &Path, for_path: &Path) -> Result<()> {
    if !dir.exists() {
        bail!("{}: the directory {} does not exist", for_path.display(), dir.display());
    }
    if !dir.is_dir() {
        bail!("{}: {} is not a directory", for_path.display(), dir.display());
    }
    let probe = dir.join(format!(".fresco-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!("{}: cannot write in {}: {e}", for_path.display(), dir.display()),
    }
}

/// A file the run will write: not a folder, in a writable folder, and (when
/// `extension` is given) with that extension, named in `what`.
pub fn check_output_file(path: &Path, what: &str, extension: Option<&str>) -> Result<()> {
    if path.is_dir() {
        bail!("{}: is a directory; the {what} needs a file name", path.display());
    }
    if let Some(ext) = extension {
        if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
            bail!("{}: the {what} is written as .{ext}; give it a .{ext} name", path.display());
        }
    }
    check_writable_dir(&parent_dir(path), path)
}

/// An image the run will write: a format this build encodes (and, when the
/// size is known, one that holds `longest_side` pixels), in a writable folder.
pub fn check_output_image(path: &Path, what: &str, longest_side: Option<usize>) -> Result<()> {
    if path.is_dir() {
        bail!("{}: is a directory; the {what} needs a file name such as out.png", path.display());
    }
    style::image_io::check_writable_format(path, longest_side)?;
    check_writable_dir(&parent_dir(path), path)
}

/// A folder the run will fill: either it exists and is writable, or its
/// parent is (it is created when the work starts).
pub fn check_output_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!("{}: is a file; a folder is needed here", dir.display());
        }
        return check_writable_dir(dir, dir);
    }
    check_writable_dir(&parent_dir(dir), dir)
}

/// Checks the optional `--log` (any file) and `--plot` (a PNG) of a run.
pub fn check_report_paths(log: Option<&Path>, plot: Option<&Path>) -> Result<()> {
    if let Some(plot) = plot {
        check_output_file(plot, "plot", Some("png"))?;
    }
    if let Some(log) = log {
        check_output_file(log, "log", None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_path() {
        let dir = std::env::temp_dir().join(format!("fresco-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases: Vec<(Result<()>, &str)> = vec![
            (check_output_image(&dir.join("out.gif"), "output", Some(64)), ""),
            (check_output_image(&dir.join("out.avif"), "output", None), "cannot write"),
            (check_output_image(&dir.join("missing/out.png"), "output", None), "does not exist"),
            (check_output_image(&dir, "output", None), "is a directory"),
            (check_output_file(&dir.join("m.safetensors"), "model", Some("safetensors")), ""),
            (check_output_file(&dir.join("plot.jpg"), "plot", Some("png")), ".png"),
            (check_output_dir(&dir.join("new-folder")), ""),
            (check_output_dir(&dir.join("a/b")), "does not exist"),
        ];
        for (result, expected) in cases {
            match (result, expected) {
                (Ok(()), "") => {}
                (Err(e), want) if !want.is_empty() => {
                    let message = format!("{e:#}");
                    assert!(message.contains(want) && message.contains("fresco-paths"), "{message}");
                }
                (result, want) => panic!("{result:?} where {want:?} was expected"),
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
