//! Gatys style transfer through the library API (the builder), without the
//! command line: give a content and a style image, or run with no arguments
//! to use procedural ones and a random-feature VGG (a few seconds).
//!
//! ```text
//! cargo run --release --example gatys_library -- CONTENT STYLE OUTPUT [WEIGHTS]
//! cargo run --release --example gatys_library            # procedural images
//! ```

use std::path::Path;

use nn::{Vgg, VggKind};
use style::gatys::{Gatys, OptimizerKind};
use style::image_io::{load_image, save_image};
use tensor::{DType, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (content, style, output, vgg, size) = match args.as_slice() {
        [content, style, output, rest @ ..] => {
            let vgg = match rest.first() {
                Some(weights) => Vgg::load(Path::new(weights))?,
                None => Vgg::random(VggKind::Vgg19, 0),
            };
            (load_image(Path::new(content), None)?, load_image(Path::new(style), None)?, output.clone(), vgg, 256)
        }
        _ => {
            // A soft gradient "photo" and a striped "painting".
            let content = Tensor::from_fn(&[1, 3, 96, 128], DType::F32, |i| {
                let (c, p) = (i / (96 * 128), i % (96 * 128));
                [(p % 128) as f64 / 128.0, (p / 128) as f64 / 96.0, 0.5][c]
            });
            let style = Tensor::from_fn(&[1, 3, 64, 64], DType::F32, |i| {
                let (c, p) = (i / 4096, i % 4096);
                if ((p / 64 + p % 64) / 6) % 2 == 0 {
                    [0.9, 0.75, 0.1][c]
                } else {
                    [0.1, 0.2, 0.55][c]
                }
            });
            (content, style, "gatys_library.png".to_string(), Vgg::random(VggKind::Vgg19, 0), 128)
        }
    };
    let gatys = Gatys::builder().size(size).iterations(60).optimizer(OptimizerKind::Lbfgs).build(vgg)?;
    let result = gatys.run(&content, &[style], |p| {
        if p.iteration % 20 == 0 {
            println!("iteration {:>3}: loss {:.4e}", p.iteration, p.losses.total);
        }
        Ok(())
    })?;
    save_image(Path::new(&output), &result.image)?;
    println!("wrote {output}: loss {:.4e} -> {:.4e}", result.first_losses.total, result.final_losses.total);
    Ok(())
}
