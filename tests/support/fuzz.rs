//! Mutation fuzzing of the readers of files from strangers: weights, GAN
//! models and checkpoints (safetensors), ONNX models and images. Each case
//! takes a valid file the harness makes itself and damages it (cut short,
//! bits flipped, 8 bytes overwritten by a huge number, a run of random
//! bytes, a number in a text header replaced by a huge one, or nothing but
//! random bytes); the reader must return — `Ok` or a clean error — and
//! never panic or abort. Shared by `tests/parsers.rs` (10,000 cases per
//! reader) and `examples/fuzz_parsers.rs` (as many as asked).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use nn::{InputConvention, Vgg, VggKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use style::gan::{DiscriminatorConfig, GanConfig, GeneratorConfig, StyleModel, Trainer};
use tensor::{DType, Device, Tensor};

#[path = "../../crates/nn/tests/support/onnx_writer.rs"]
mod onnx_writer;

/// Reads a file; any `Err` is fine, a panic is a failure.
pub type ReadFn = Box<dyn Fn(&Path) -> Result<(), String>>;

/// A reader under test: valid files to start from, and the call.
pub struct Reader {
    /// What it reads, for messages.
    pub name: &'static str,
    /// Valid files (bytes) to mutate.
    pub seeds: Vec<Vec<u8>>,
    /// The call.
    pub read: ReadFn,
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn tiny_vgg() -> Vgg {
    Vgg::random_with_widths(VggKind::Vgg19, [4, 4, 4, 4, 4], 1)
}

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 13) as u8, (y * 17) as u8, ((x ^ y) * 5) as u8]))
}

fn image_tensor(w: usize, h: usize) -> Tensor {
    Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| (i % 29) as f64 / 29.0)
}

/// A small VGG-16 weights file (f16, torchvision convention).
fn weights_seed() -> Vec<u8> {
    let mut convs = Vec::new();
    let mut inputs = 3;
    for (b, count) in VggKind::Vgg16.blocks().into_iter().enumerate() {
        for i in 0..count {
            convs.push((
                Tensor::randn(&[3, inputs, 3, 3], 0.0, 0.1, (b * 10 + i) as u64, DType::F32),
                Tensor::zeros(&[3], DType::F32),
            ));
            inputs = 3;
        }
    }
    let path = scratch("seed-weights.safetensors");
    Vgg::write_weights(&path, VggKind::Vgg16, &convs, InputConvention::Torchvision, DType::F16, "fuzz").unwrap();
    std::fs::read(path).unwrap()
}

fn tiny_trainer() -> Trainer {
    let config = GanConfig {
        generator: GeneratorConfig { width: 2, res_blocks: 1, downsamplings: 2, residual: true },
        discriminator: DiscriminatorConfig { width: 2, layers: 1 },
        steps: 1,
        batch_size: 1,
        crop_size: 16,
        // Not the default 512: every checkpoint that reads well builds a
        // trainer, and images brought up to 512 px made this reader's
        // 10,000 cases take five minutes.
        train_size: 24,
        ..GanConfig::default()
    };
    Trainer::new(config, tiny_vgg(), image_tensor(24, 24), vec![image_tensor(24, 24)]).unwrap()
}

/// The five readers, each with its seeds.
pub fn readers() -> Vec<Reader> {
    let trainer = tiny_trainer();
    let (model, checkpoint) = (scratch("seed-model.safetensors"), scratch("seed-checkpoint.safetensors"));
    trainer.save_model(&model, "fuzz").unwrap();
    trainer.save_checkpoint(&checkpoint).unwrap();
    let images = [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Bmp,
        image::ImageFormat::Gif,
        image::ImageFormat::Tiff,
        image::ImageFormat::WebP,
    ]
    .into_iter()
    .map(|format| {
        let mut bytes = Vec::new();
        picture(12, 9).write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
        bytes
    })
    .collect();
    vec![
        Reader {
            name: "VGG weights (safetensors)",
            seeds: vec![weights_seed()],
            read: Box::new(|p| {
                Vgg::inspect(p).map_err(|e| e.to_string())?;
                Vgg::load(p).map(drop).map_err(|e| e.to_string())
            }),
        },
        Reader {
            name: "GAN model (safetensors)",
            seeds: vec![std::fs::read(&model).unwrap()],
            read: Box::new(|p| StyleModel::load(p, Device::Cpu).map(drop).map_err(|e| e.to_string())),
        },
        Reader {
            name: "GAN checkpoint (safetensors)",
            seeds: vec![std::fs::read(&checkpoint).unwrap()],
            read: Box::new(|p| {
                Trainer::resume(p, tiny_vgg(), image_tensor(24, 24), vec![image_tensor(24, 24)], Device::Cpu)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Reader {
            name: "ONNX model",
            seeds: vec![onnx_writer::keras_style_vgg16([2, 2, 3, 3, 3]).0],
            read: Box::new(|p| nn::onnx::read_vgg(p).map(drop).map_err(|e| e.to_string())),
        },
        Reader {
            name: "image (PNG, JPEG, BMP, GIF, TIFF, WebP)",
            seeds: images,
            read: Box::new(|p| style::image_io::load_image(p, None).map(drop).map_err(|e| e.to_string())),
        },
    ]
}

/// One damaged copy of `seed`.
fn mutate(seed: &[u8], kind: u8, at: f64, noise: &[u8], number: u64) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    let pos = ((at * bytes.len() as f64) as usize).min(bytes.len().saturating_sub(1));
    match kind {
        // Cut short.
        0 => bytes.truncate(pos),
        // Flip one bit (and a few more for longer noise).
        1 => {
            for (k, &n) in noise.iter().enumerate().take(4) {
                let i = (pos + k * 977) % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << (n % 8);
                }
            }
        }
        // A huge little-endian length or count.
        2 => {
            let huge = [u64::MAX, u64::MAX / 2, 1 << 40, u32::MAX as u64, number][(number % 5) as usize];
            for (k, b) in huge.to_le_bytes().into_iter().enumerate() {
                if let Some(slot) = bytes.get_mut(pos + k) {
                    *slot = b;
                }
            }
        }
        // A run of random bytes.
        3 => {
            for (k, &n) in noise.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(pos + k) {
                    *slot = n;
                }
            }
        }
        // A number in a text header (safetensors' JSON: shapes, offsets,
        // metadata) made huge, or a dtype swapped for another.
        4 => {
            let text_end = bytes.len().min(4096);
            let digits: Vec<usize> = (8..text_end).filter(|&i| bytes[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let i = digits[(number as usize) % digits.len()];
                let replacement = ["99999999999999999999", "18446744073709551615", "4294967296", "0", "-1"]
                    [(number / 7 % 5) as usize];
                bytes.splice(i..i + 1, replacement.bytes());
            }
            for (from, to) in [(&b"\"F16\""[..], &b"\"I64\""[..]), (b"\"F32\"", b"\"BOOL\""), (b"\"BF16\"", b"\"U8\"")]
            {
                if number % 3 == 0 {
                    if let Some(i) = bytes.windows(from.len()).position(|w| w == from) {
                        bytes.splice(i..i + from.len(), to.iter().copied());
                    }
                }
            }
        }
        // Nothing but random bytes.
        _ => bytes = noise.to_vec(),
    }
    bytes
}

/// Runs `cases` damaged files through `reader`, from a fixed `seed` (the
/// same cases every run) or a random one; `Err` names the case that
/// panicked (proptest then shrinks it).
pub fn fuzz(reader: &Reader, cases: u32, file_name: &str, seed: Option<u64>) -> Result<(), String> {
    let path = scratch(file_name);
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut runner = match seed {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
        }
        None => TestRunner::new(config),
    };
    let strategy =
        (0..reader.seeds.len(), 0u8..6, 0.0..1.0f64, prop::collection::vec(any::<u8>(), 0..64), any::<u64>());
    let outcome = runner.run(&strategy, |(seed, kind, at, noise, number)| {
        let bytes = mutate(&reader.seeds[seed], kind, at, &noise, number);
        std::fs::write(&path, &bytes).unwrap();
        let _ = (reader.read)(&path);
        Ok(())
    });
    std::fs::remove_file(&path).ok();
    outcome.map_err(|e| format!("{}: {e}", reader.name))
}
