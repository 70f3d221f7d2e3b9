//! The photos `fresco gan train` learns from: a folder of any size. Up to
//! [`MAX_IN_MEMORY`] photos are decoded once and held at the training size;
//! a larger folder (a real data set such as COCO, 118,000 photos) is read
//! from disk as each photo is drawn, so memory does not grow with it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};
use style::gan::{GanConfig, PhotoSource};
use style::image_io::{load_image, resize};
use tensor::Tensor;

/// Folders with more photos than this are read from disk as drawn (at
/// 512 px, 200 photos hold about 500 MB).
pub const MAX_IN_MEMORY: usize = 200;

/// The longest side over the shorter side beyond which an image cannot give
/// square training crops without an enormous resize.
pub const MAX_ASPECT: usize = 16;

/// Whether an image of `height × width` is too elongated to crop.
pub fn too_elongated(height: usize, width: usize) -> bool {
    height.max(width) > MAX_ASPECT * height.min(width)
}

/// `image` at the size `config` trains at.
pub fn fit_for_training(image: &Tensor, config: &GanConfig) -> Tensor {
    let (h, w) = config.training_dims(image.shape()[2], image.shape()[3]);
    resize(image, h, w)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The photos of a run.
pub struct TrainingPhotos {
    /// Where the trainer draws them from.
    pub source: Box<dyn PhotoSource>,
    /// The file names used, in order.
    pub names: Vec<String>,
    /// The first usable photo, at the training size (the default sample).
    pub first: Tensor,
}

/// Opens the photos of `files` (from the folder `dir`), skipping with a
/// warning those that cannot be read or are too elongated to crop; fails
/// only when none is left. A small folder is decoded now; a large one has
/// only its headers read now, and a photo that fails to decode later is
/// skipped then (with a warning) for the next one.
pub fn open(dir: &Path, files: Vec<PathBuf>, config: &GanConfig) -> Result<TrainingPhotos> {
    let total = files.len();
    let skip = |path: &Path, why: String| eprintln!("warning: {}: skipped: {why}", path.display());
    let elongated = format!("more than {MAX_ASPECT}:1, too elongated to crop");
    let (source, names, first): (Box<dyn PhotoSource>, Vec<String>, Option<Tensor>) = if total <= MAX_IN_MEMORY {
        let mut photos = Vec::new();
        let mut names = Vec::new();
        for path in &files {
            match load_image(path, None) {
                Ok(image) if too_elongated(image.shape()[2], image.shape()[3]) => skip(path, elongated.clone()),
                Ok(image) => {
                    photos.push(fit_for_training(&image, config));
                    names.push(file_name(path));
                }
                Err(e) => eprintln!("warning: skipped: {e}"),
            }
        }
        let first = photos.first().cloned();
        (Box::new(photos), names, first)
    } else {
        eprintln!("note: {total} photos in {}: each is read from disk when drawn", dir.display());
        let usable: Vec<PathBuf> = files
            .into_iter()
            .filter(|path| match image::image_dimensions(path) {
                Ok((w, h)) if too_elongated(h as usize, w as usize) => {
                    skip(path, elongated.clone());
                    false
                }
                Ok(_) => true,
                Err(e) => {
                    skip(path, e.to_string());
                    false
                }
            })
            .collect();
        let names = usable.iter().map(|p| file_name(p)).collect();
        let photos = PhotoFiles { paths: usable, config: config.clone(), failed: Mutex::new(HashSet::new()) };
        let first = (0..photos.paths.len()).find_map(|i| photos.photo(i).ok());
        (Box::new(photos), names, first)
    };
    let Some(first) = first else {
        bail!("{}: none of its {total} images could be used for training", dir.display());
    };
    if names.len() < total {
        eprintln!("warning: training on {} of the {total} images in {}", names.len(), dir.display());
    }
    Ok(TrainingPhotos { source, names, first })
}

/// Photos read from disk each time they are drawn.
struct PhotoFiles {
    paths: Vec<PathBuf>,
    config: GanConfig,
    /// Indices that failed to decode (warned about once, then passed over).
    failed: Mutex<HashSet<usize>>,
}

impl PhotoSource for PhotoFiles {
    fn count(&self) -> usize {
        self.paths.len()
    }

    /// Photo `index`, or, when it cannot be decoded, the next one that can.
    fn photo(&self, index: usize) -> style::Result<Tensor> {
        let n = self.paths.len();
        let mut last_error = None;
        for k in (0..n).map(|k| (index + k) % n) {
            if self.failed.lock().expect("not poisoned").contains(&k) {
                continue;
            }
            match load_image(&self.paths[k], None) {
                Ok(image) => return Ok(fit_for_training(&image, &self.config)),
                Err(e) => {
                    eprintln!("warning: skipped from now on: {e}");
                    self.failed.lock().expect("not poisoned").insert(k);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| style::StyleError::Setting {
            name: "training photos".into(),
            detail: format!("none of the {n} photos can be decoded any more"),
        }))
    }
}
