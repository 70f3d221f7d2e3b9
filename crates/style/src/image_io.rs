//! Images to and from tensors: `[1, 3, H, W]` f32 RGB in 0–1. Any format the
//! `image` crate decodes is read; the output format follows the file's
//! extension; writes are atomic.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Rgb32FImage, RgbImage};
use tensor::{DType, Tensor};

use crate::error::{Result, StyleError};

/// Reads an image as RGB, resized (Lanczos) so its longest side is
/// `longest_side` when given.
pub fn load_image(path: &Path, longest_side: Option<usize>) -> Result<Tensor> {
    let read_error = |detail: String| StyleError::ReadImage { path: path.to_path_buf(), detail };
    let reader = ImageReader::open(path).map_err(|e| read_error(e.to_string()))?;
    let reader = reader.with_guessed_format().map_err(|e| read_error(e.to_string()))?;
    if reader.format().is_none() {
        return Err(read_error("unrecognised image format".into()));
    }
    let decoded = reader.decode().map_err(|e| read_error(e.to_string()))?;
    let rgb = decoded.to_rgb32f();
    if rgb.width() == 0 || rgb.height() == 0 {
        return Err(read_error("the image is empty".into()));
    }
    let tensor = from_rgb(&rgb);
    Ok(match longest_side {
        Some(side) => resize_longest(&tensor, side),
        None => tensor,
    })
}

fn from_rgb(image: &Rgb32FImage) -> Tensor {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| {
        let (c, pixel) = (i / (h * w), i % (h * w));
        raw[pixel * 3 + c].clamp(0.0, 1.0) as f64
    })
}

fn to_rgb(t: &Tensor) -> Rgb32FImage {
    let (h, w) = (t.shape()[2], t.shape()[3]);
    let values = t.to_dtype(DType::F32).to_vec::<f32>();
    let mut raw = vec![0.0f32; 3 * h * w];
    for c in 0..3 {
        for p in 0..h * w {
            raw[p * 3 + c] = values[c * h * w + p];
        }
    }
    Rgb32FImage::from_raw(w as u32, h as u32, raw).expect("buffer of 3·w·h values")
}

/// The height and width that give `longest_side` with `image`'s aspect ratio.
pub fn scaled_dims(height: usize, width: usize, longest_side: usize) -> (usize, usize) {
    let scale = longest_side as f64 / height.max(width) as f64;
    (((height as f64 * scale).round() as usize).max(1), ((width as f64 * scale).round() as usize).max(1))
}

/// `image` (`[1, 3, H, W]`) resized to `height × width` (Lanczos, or
/// Catmull-Rom when enlarging).
pub fn resize(image: &Tensor, height: usize, width: usize) -> Tensor {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    if (h, w) == (height, width) {
        return image.to_dtype(DType::F32);
    }
    let filter = if height < h { FilterType::Lanczos3 } else { FilterType::CatmullRom };
    from_rgb(&image::imageops::resize(&to_rgb(image), width as u32, height as u32, filter))
}

/// `image` resized so its longest side is `longest_side`.
pub fn resize_longest(image: &Tensor, longest_side: usize) -> Tensor {
    let (h, w) = scaled_dims(image.shape()[2], image.shape()[3], longest_side);
    resize(image, h, w)
}

/// Writes `image` (`[1, 3, H, W]`, clamped to 0–1) in the format its
/// extension names, atomically: the file is complete or absent.
pub fn save_image(path: &Path, image: &Tensor) -> Result<()> {
    let write_error = |detail: String| StyleError::WriteImage { path: path.to_path_buf(), detail };
    let format = ImageFormat::from_path(path)
        .map_err(|_| write_error("unknown image format; use an extension such as .png or .jpg".into()))?;
    let rgb: RgbImage = image::DynamicImage::ImageRgb32F(to_rgb(image)).to_rgb8();
    let mut bytes = Vec::new();
    rgb.write_to(&mut Cursor::new(&mut bytes), format).map_err(|e| write_error(e.to_string()))?;
    nn::io::write_atomically(path, |file| std::io::Write::write_all(file, &bytes))
        .map_err(|e| write_error(e.to_string()))
}
