//! Scores stylised images by the Gatys objective (default layers and
//! weights): content, style and total-variation losses against a content
//! and a style image, so the GAN's one-pass result can be set beside the
//! optimised one.
//!
//! ```text
//! cargo run --release --example compare_transfer -- CONTENT STYLE WEIGHTS IMAGE [IMAGE...]
//! ```

use std::path::Path;

use nn::Vgg;
use style::gatys::Gatys;
use style::image_io::load_image;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [content, style, weights, images @ ..] = args.as_slice() else {
        return Err("usage: compare_transfer CONTENT STYLE WEIGHTS IMAGE [IMAGE...]".into());
    };
    let gatys = Gatys::builder().build(Vgg::load(Path::new(weights))?)?;
    let (content, style) = (load_image(Path::new(content), None)?, load_image(Path::new(style), None)?);
    println!("{:>40}  {:>10}  {:>10}  {:>10}  {:>10}", "image", "content", "style", "tv", "total");
    for path in images {
        let image = load_image(Path::new(path), None)?;
        let l = gatys.measure(&image, &content, std::slice::from_ref(&style))?;
        println!("{path:>40}  {:>10.4}  {:>10.4}  {:>10.4}  {:>10.4}", l.content, l.style, l.tv, l.total);
    }
    Ok(())
}
