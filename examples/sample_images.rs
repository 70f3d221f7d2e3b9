//! Makes the images shipped with fresco, as JPEG (quality 92), from
//! public-domain and CC0 originals:
//!
//! * `samples`: `examples/images/` from `../shared/images/` (see
//!   `examples/images/SOURCES.md`): photographs at their own size (at most
//!   640 px), paintings at 800 px on the longest side, under 2 MB in all.
//! * `training`: `examples/photos/`, the photos the shipped GAN stylizers
//!   were trained on, from the sample data inside the scikit-image 0.26.0
//!   and matplotlib 3.11.2 wheels on PyPI (see `examples/photos/SOURCES.md`),
//!   at most 512 px on the longest side.
//!
//! ```sh
//! cargo run --release --example sample_images -- samples ../shared/images examples/images
//! pip download --no-deps scikit-image==0.26.0 matplotlib==3.11.2 -d wheels
//! (cd wheels && for w in *.whl; do unzip -oq "$w" 'skimage/data/*' 'matplotlib/mpl-data/sample_data/*'; done)
//! cargo run --release --example sample_images -- training wheels examples/photos
//! ```

use std::path::PathBuf;

use style::image_io::{load_image, save_image};

/// (folder under the source, file, name written, longest side).
type Entry = (&'static str, &'static str, &'static str, usize);

const SAMPLES: [Entry; 7] = [
    ("content", "astronaut.png", "astronaut.jpg", 512),
    ("content", "chelsea.png", "chelsea.jpg", 640),
    ("content", "coffee.png", "coffee.jpg", 640),
    ("styles", "starry_night.jpg", "starry_night.jpg", 800),
    ("styles", "the_scream.jpg", "the_scream.jpg", 800),
    ("styles", "wave.jpg", "wave.jpg", 800),
    ("styles", "composition_vii.jpg", "composition_vii.jpg", 800),
];

const TRAINING: [Entry; 10] = [
    ("skimage/data", "rocket.jpg", "rocket.jpg", 512),
    ("matplotlib/mpl-data/sample_data", "grace_hopper.jpg", "grace_hopper.jpg", 512),
    ("skimage/data", "camera.png", "camera.jpg", 512),
    ("skimage/data", "coins.png", "coins.jpg", 512),
    ("skimage/data", "text.png", "text.jpg", 512),
    ("skimage/data", "hubble_deep_field.jpg", "hubble_deep_field.jpg", 512),
    ("skimage/data", "ihc.png", "immunohistochemistry.jpg", 512),
    ("skimage/data", "brick.png", "brick.jpg", 512),
    ("skimage/data", "grass.png", "grass.jpg", 512),
    ("skimage/data", "gravel.png", "gravel.jpg", 512),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: sample_images samples|training SOURCE_DIR TARGET_DIR";
    let mut args = std::env::args().skip(1);
    let (Some(set), Some(source), Some(target)) = (args.next(), args.next(), args.next()) else {
        return Err(usage.into());
    };
    let (source, target) = (PathBuf::from(source), PathBuf::from(target));
    let entries: &[Entry] = match set.as_str() {
        "samples" => &SAMPLES,
        "training" => &TRAINING,
        _ => return Err(usage.into()),
    };
    std::fs::create_dir_all(&target)?;
    for &(folder, file, name, longest) in entries {
        let image = load_image(&source.join(folder).join(file), None)?;
        let (h, w) = (image.shape()[2], image.shape()[3]);
        let image = if h.max(w) > longest { style::image_io::resize_longest(&image, longest) } else { image };
        let path = target.join(name);
        save_image(&path, &image)?;
        let bytes = std::fs::metadata(&path)?.len();
        println!("{} {}x{} {} kB", path.display(), image.shape()[3], image.shape()[2], bytes / 1000);
    }
    Ok(())
}
