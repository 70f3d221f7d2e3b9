//! GAN training on procedural images and tiny networks: style loss falls,
//! checkpoints resume bit for bit, `apply` reproduces the trainer's output,
//! bad inputs are refused.

use nn::{Vgg, VggKind};
use style::gan::{apply_generator, DiscriminatorConfig, GanConfig, GeneratorConfig, StyleModel, Trainer};
use tensor::{DType, Device, Tensor};

fn vgg() -> Vgg {
    Vgg::random_with_widths(VggKind::Vgg16, [6, 8, 8, 8, 8], 5)
}

fn photos() -> Vec<Tensor> {
    (0..3)
        .map(|k| {
            Tensor::from_fn(&[1, 3, 24, 28], DType::F32, move |i| {
                let (c, p) = (i / (24 * 28), i % (24 * 28));
                let (y, x) = ((p / 28) as f64, (p % 28) as f64);
                (0.5 + 0.4 * ((x + k as f64 * 3.0) / 5.0 + c as f64).sin() * (y / 7.0).cos()).clamp(0.0, 1.0)
            })
        })
        .collect()
}

fn painting() -> Tensor {
    Tensor::from_fn(&[1, 3, 24, 24], DType::F32, |i| {
        let (c, p) = (i / 576, i % 576);
        if ((p / 24) / 3 + (p % 24) / 3) % 2 == 0 {
            [0.95, 0.7, 0.1][c]
        } else {
            [0.1, 0.15, 0.5][c]
        }
    })
}

fn tiny(steps: usize) -> GanConfig {
    GanConfig {
        generator: GeneratorConfig { width: 4, res_blocks: 1, downsamplings: 2, residual: true },
        discriminator: DiscriminatorConfig { width: 4, layers: 2 },
        steps,
        batch_size: 2,
        crop_size: 16,
        train_size: 28,
        content_layers: "relu2_2".into(),
        style_layers: "relu1_2,relu2_2,relu3_3".into(),
        lr: 5e-3,
        pool_size: 3,
        seed: 11,
        ..GanConfig::default()
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("fresco-gan-{}-{name}", std::process::id()))
}

#[test]
fn training_lowers_the_generators_style_loss() {
    let mut trainer = Trainer::new(tiny(40), vgg(), painting(), photos()).unwrap();
    let probe = photos()[0].narrow(2, 0, 16).narrow(3, 0, 16).contiguous();
    let before = trainer.style_loss_on(&probe).unwrap();
    for _ in 0..40 {
        let losses = trainer.step().unwrap();
        assert!(losses.generator.is_finite() && losses.discriminator.is_finite());
    }
    let after = trainer.style_loss_on(&probe).unwrap();
    assert!(after < 0.7 * before, "style loss {before} -> {after}");
}

#[test]
fn an_untrained_residual_generator_returns_the_photo() {
    use autograd::Var;
    use nn::ParamStore;
    use style::gan::Generator;
    let photo = photos()[2].narrow(2, 0, 20).narrow(3, 0, 24).contiguous();
    for (residual, close) in [(true, true), (false, false)] {
        let mut store = ParamStore::new(3, DType::F32);
        let config = GeneratorConfig { width: 8, res_blocks: 2, downsamplings: 2, residual };
        let generator = Generator::new(&mut store, "g", config).unwrap();
        let out = generator.forward(&Var::constant(photo.clone())).unwrap();
        let worst = out
            .value()
            .to_vec::<f32>()
            .iter()
            .zip(photo.to_vec::<f32>())
            .map(|(a, b)| (a - b.clamp(0.005, 0.995)).abs())
            .fold(0.0f32, f32::max);
        assert_eq!(worst < 0.05, close, "residual {residual}: largest change {worst}");
    }
}

#[test]
fn a_checkpoint_resumes_to_identical_parameters() {
    let mut straight = Trainer::new(tiny(6), vgg(), painting(), photos()).unwrap();
    for _ in 0..6 {
        straight.step().unwrap();
    }
    let mut first = Trainer::new(tiny(6), vgg(), painting(), photos()).unwrap();
    for _ in 0..3 {
        first.step().unwrap();
    }
    let path = temp("checkpoint.safetensors");
    first.save_checkpoint(&path).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&path, vgg(), painting(), photos(), Device::Cpu).unwrap();
    assert_eq!(resumed.step_count(), 3);
    for _ in 0..3 {
        resumed.step().unwrap();
    }
    for (store_a, store_b) in [
        (straight.generator_store(), resumed.generator_store()),
        (straight.discriminator_store(), resumed.discriminator_store()),
    ] {
        for (name, value) in store_a.values() {
            let (a, b) = (value.to_vec::<f32>(), store_b.values()[&name].to_vec::<f32>());
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs after resuming");
        }
    }
}

#[test]
fn apply_reproduces_the_training_time_output_at_any_size() {
    for match_colours in [true, false] {
        let mut trainer = Trainer::new(GanConfig { match_colours, ..tiny(2) }, vgg(), painting(), photos()).unwrap();
        trainer.step().unwrap();
        let path = temp(&format!("model_{match_colours}.safetensors"));
        trainer.save_model(&path, "test model").unwrap();
        let model = StyleModel::load(&path, Device::Cpu).unwrap();
        assert_eq!(model.description, "test model");
        assert_eq!(model.colour_target(), trainer.colour_target());
        assert_eq!(model.colour_target().is_some(), match_colours);
        // 22 × 27 is not a multiple of 4: apply pads and crops back.
        let image = photos()[1].narrow(2, 0, 22).narrow(3, 0, 27).contiguous();
        // What the generator saw in training: the photo in the painting's colours.
        let seen = match trainer.colour_target() {
            Some(target) => style::color::match_colours(&image, &target),
            None => image.clone(),
        };
        let expected = apply_generator(trainer.generator(), &seen, Device::Cpu).unwrap();
        let got = model.apply(&image).unwrap();
        assert_eq!(got.shape(), [1, 3, 22, 27]);
        assert_eq!(got.to_vec::<f32>(), expected.to_vec::<f32>(), "colour matching {match_colours}");
    }
}

#[test]
fn bad_inputs_are_refused() {
    let big = GanConfig { crop_size: 32, ..tiny(1) };
    let message = Trainer::new(big, vgg(), painting(), photos()).err().unwrap().to_string();
    assert!(message.contains("--train-size") && message.contains("28 is smaller than the 32 px crops"), "{message}");
    for (config, option) in [
        (GanConfig { scale_jitter: 0.5, ..tiny(1) }, "--scale-jitter"),
        (GanConfig { colour_jitter: f64::NAN, ..tiny(1) }, "--colour-jitter"),
    ] {
        let message = Trainer::new(config, vgg(), painting(), photos()).err().unwrap().to_string();
        assert!(message.contains(option), "{message}");
    }
    let message = Trainer::new(tiny(1), vgg(), painting(), Vec::new()).err().unwrap().to_string();
    assert!(message.contains("none to train on"), "{message}");

    let trainer = Trainer::new(tiny(1), vgg(), painting(), photos()).unwrap();
    let path = temp("for-another-style.safetensors");
    trainer.save_checkpoint(&path).unwrap();
    let other = painting().mul_scalar(0.5);
    let message = Trainer::resume(&path, vgg(), other, photos(), Device::Cpu).err().unwrap().to_string();
    assert!(message.contains("another style image"), "{message}");

    let message = StyleModel::load(&path, Device::Cpu).err().unwrap().to_string();
    assert!(message.contains("not a fresco GAN model"), "{message}");
}

#[test]
fn a_deeper_generator_applies_at_any_size_and_its_file_says_how_deep() {
    use autograd::Var;
    use nn::ParamStore;
    use std::collections::HashMap;
    use style::gan::Generator;
    let config = GeneratorConfig { width: 4, res_blocks: 1, downsamplings: 3, residual: true };
    let mut store = ParamStore::new(4, DType::F32);
    let generator = Generator::new(&mut store, "g", config).unwrap();
    // 21 x 27 is padded to 24 x 32 (multiples of 2^3) and cropped back.
    let photo = photos()[0].narrow(2, 0, 21).narrow(3, 0, 27).contiguous();
    assert_eq!(apply_generator(&generator, &photo, Device::Cpu).unwrap().shape(), &[1, 3, 21, 27]);
    let e = generator.forward(&Var::constant(photos()[0].narrow(2, 0, 20).contiguous())).err().unwrap();
    assert!(e.to_string().contains("multiples of 8"), "{e}");
    let mut metadata: HashMap<String, String> = config.to_metadata().into_iter().collect();
    assert_eq!(GeneratorConfig::from_metadata(&metadata), Some(config));
    metadata.insert("generator.downsamplings".into(), "9".into());
    assert_eq!(GeneratorConfig::from_metadata(&metadata), None);
    // Files written before the setting existed have two.
    metadata.remove("generator.downsamplings");
    assert_eq!(GeneratorConfig::from_metadata(&metadata).map(|c| c.downsamplings), Some(2));
    let bad = GanConfig { generator: config, crop_size: 20, ..tiny(1) };
    assert!(bad.check().unwrap_err().to_string().contains("multiple of 8"));
}

/// Photos and a configuration large enough for the temporal term's shifted
/// copies (crops of at least 48 px).
fn temporal_setup(temporal_weight: f64) -> (GanConfig, Vec<Tensor>) {
    let photos = (0..2)
        .map(|k| {
            Tensor::from_fn(&[1, 3, 64, 64], DType::F32, move |i| {
                let (c, p) = (i / 4096, i % 4096);
                let (y, x) = ((p / 64) as f64, (p % 64) as f64);
                (0.5 + 0.45 * ((x + 7.0 * k as f64) / 3.0 + c as f64).sin() * (y / 4.0).cos()).clamp(0.0, 1.0)
            })
        })
        .collect();
    let config = GanConfig { crop_size: 48, train_size: 64, temporal_weight, ..tiny(12) };
    (config, photos)
}

#[test]
fn the_temporal_term_compares_the_same_pixels_and_training_with_it_steadies_the_generator() {
    // An untrained residual generator returns its input, so the two outputs
    // differ by the added noise alone (σ 0.01: a mean square near 1e-4)
    // when the shifted copy is compared where it belongs; misplaced by a
    // pixel, these stripes would differ by far more.
    let (config, photos) = temporal_setup(1.0);
    let mut trainer = Trainer::new(config, vgg(), painting(), photos.clone()).unwrap();
    let first = trainer.step().unwrap().temporal;
    assert!((0.5e-4..2e-4).contains(&first), "temporal term of an untrained generator {first}");
    // Trained with a heavy temporal weight against none, the generator
    // ends steadier under shifts.
    let end = |weight: f64| {
        let (config, photos) = temporal_setup(weight);
        let mut trainer = Trainer::new(config, vgg(), painting(), photos).unwrap();
        let last = (0..12).map(|_| trainer.step().unwrap()).last().unwrap();
        assert_eq!(last.temporal == 0.0, weight == 0.0);
        trainer
    };
    let probe = photos[0].narrow(2, 8, 48).narrow(3, 8, 48).contiguous();
    let probe = |trainer: &Trainer| trainer.temporal_loss_on(&probe).unwrap();
    let (steady, free) = (probe(&end(2000.0)), probe(&end(0.0)));
    assert!(steady < 0.7 * free, "temporal term after training with it {steady}, without {free}");
}

#[test]
fn the_temporal_term_needs_room_in_the_crop() {
    let (mut config, _) = temporal_setup(1.0);
    config.crop_size = 32;
    let error = config.check().unwrap_err().to_string();
    assert!(error.contains("--crop-size") && error.contains("at least 48"), "{error}");
    config.temporal_weight = 0.0;
    config.check().unwrap();
}

#[test]
fn a_checkpoint_with_a_temporal_term_resumes_to_identical_parameters() {
    let (config, photos) = temporal_setup(5.0);
    let config = GanConfig { steps: 4, batch_size: 3, ..config };
    let mut straight = Trainer::new(config.clone(), vgg(), painting(), photos.clone()).unwrap();
    (0..4).for_each(|_| assert!(straight.step().unwrap().temporal > 0.0));
    let mut first = Trainer::new(config, vgg(), painting(), photos.clone()).unwrap();
    for _ in 0..2 {
        first.step().unwrap();
    }
    let path = temp("temporal-checkpoint.safetensors");
    first.save_checkpoint(&path).unwrap();
    let mut resumed = Trainer::resume(&path, vgg(), painting(), photos, Device::Cpu).unwrap();
    assert_eq!(resumed.config().temporal_weight, 5.0);
    for _ in 0..2 {
        resumed.step().unwrap();
    }
    for (name, value) in straight.generator_store().values() {
        let (a, b) = (value.to_vec::<f32>(), resumed.generator_store().values()[&name].to_vec::<f32>());
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs after resuming");
    }
    std::fs::remove_file(&path).ok();
}

/// The teacher term pulls the generator's outputs toward the teachers'
/// pictures (here each photo's negative, far from anything the photo's own
/// statistics ask for), and is refused without pictures or with too few.
#[test]
fn the_teacher_term_pulls_the_outputs_toward_the_teachers_pictures() {
    let teachers: Vec<Tensor> = photos().iter().map(|p| p.neg().add_scalar(1.0)).collect();
    let config = GanConfig { teacher_weight: 1.0, content_weight: 0.0, style_weight: 0.0, tv_weight: 0.0, ..tiny(60) };
    let mut trainer =
        Trainer::new(config.clone(), vgg(), painting(), photos()).unwrap().with_teachers(Box::new(teachers)).unwrap();
    let first = trainer.step().unwrap().teacher;
    let mut last = first;
    for _ in 1..60 {
        last = trainer.step().unwrap().teacher;
    }
    assert!(first > 0.2 && last < 0.8 * first, "teacher term {first} -> {last}");

    let untaught = Trainer::new(config.clone(), vgg(), painting(), photos()).unwrap().step();
    assert!(untaught.is_err_and(|e| e.to_string().contains("--teacher-weight")));
    let short = Trainer::new(config, vgg(), painting(), photos()).unwrap().with_teachers(Box::new(vec![painting()]));
    assert!(short.is_err_and(|e| e.to_string().contains("1 pictures for 3 photos")));
    // Without a teacher weight, the term is not computed.
    assert_eq!(Trainer::new(tiny(1), vgg(), painting(), photos()).unwrap().step().unwrap().teacher, 0.0);
}
