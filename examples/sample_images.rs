//! Makes the sample images shipped in `examples/images/` from the
//! public-domain originals in `../shared/images/` (see the table in
//! `examples/images/SOURCES.md`): photographs at their own size (at most
//! 640 px), paintings at 800 px on the longest side, all as JPEG
//! (quality 92), so that the whole set stays under 2 MB.
//!
//! ```sh
//! cargo run --release --example sample_images -- ../shared/images examples/images
//! ```

use std::path::PathBuf;

use style::image_io::{load_image, save_image};

/// (folder under the source, file, name written, longest side).
const SAMPLES: [(&str, &str, &str, usize); 7] = [
    ("content", "astronaut.png", "astronaut.jpg", 512),
    ("content", "chelsea.png", "chelsea.jpg", 640),
    ("content", "coffee.png", "coffee.jpg", 640),
    ("styles", "starry_night.jpg", "starry_night.jpg", 800),
    ("styles", "the_scream.jpg", "the_scream.jpg", 800),
    ("styles", "wave.jpg", "wave.jpg", 800),
    ("styles", "composition_vii.jpg", "composition_vii.jpg", 800),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(source), Some(target)) = (args.next(), args.next()) else {
        return Err("usage: sample_images SOURCE_DIR TARGET_DIR".into());
    };
    std::fs::create_dir_all(&target)?;
    for (folder, file, name, longest) in SAMPLES {
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
