//! The Gatys method as a library, on procedural images and a tiny
//! random-feature VGG: the loss falls, sizes are right, runs reproduce bit
//! for bit, colours can be kept, scales chain, bad settings are refused.

use nn::{Vgg, VggKind};
use style::color::rgb_to_yiq;
use style::gatys::{Gatys, GatysBuilder, Initial, OptimizerKind};
use style::perceptual::parse_layers;
use style::StyleError;
use tensor::{DType, Tensor};

fn vgg() -> Vgg {
    Vgg::random_with_widths(VggKind::Vgg19, [8, 12, 16, 16, 16], 3)
}

/// A smooth colour gradient with a disc: the "photo".
fn content(h: usize, w: usize) -> Tensor {
    Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| {
        let (c, p) = (i / (h * w), i % (h * w));
        let (y, x) = ((p / w) as f64 / h as f64, (p % w) as f64 / w as f64);
        let disc = if (y - 0.5).powi(2) + (x - 0.5).powi(2) < 0.08 { 0.4 } else { 0.0 };
        [0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.8 - 0.5 * x][c] * 0.7 + disc
    })
}

/// Diagonal stripes in two colours: the "painting".
fn stripes(side: usize) -> Tensor {
    Tensor::from_fn(&[1, 3, side, side], DType::F32, |i| {
        let (c, p) = (i / (side * side), i % (side * side));
        let on = ((p / side + p % side) / 4) % 2 == 0;
        if on {
            [0.9, 0.8, 0.1][c]
        } else {
            [0.1, 0.2, 0.6][c]
        }
    })
}

fn quick() -> GatysBuilder {
    Gatys::builder().size(32).iterations(12).style_weight(100.0).tv_weight(1.0)
}

#[test]
fn lbfgs_and_adam_lower_the_loss() {
    for optimizer in [OptimizerKind::Lbfgs, OptimizerKind::Adam] {
        let gatys = quick().optimizer(optimizer).iterations(20).build(vgg()).unwrap();
        let result = gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())).unwrap();
        let (first, last) = (result.first_losses.total, result.final_losses.total);
        assert!(last < 0.7 * first, "{optimizer:?}: loss {first} -> {last}");
        assert_eq!(result.evaluations, 20);
    }
}

#[test]
fn output_has_the_requested_size_and_range() {
    let gatys = quick().size(40).iterations(3).build(vgg()).unwrap();
    let result = gatys.run(&content(30, 60), &[stripes(50)], |_| Ok(())).unwrap();
    assert_eq!(result.image.shape(), [1, 3, 20, 40]);
    assert!(result.image.to_f64_vec().iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn the_seed_makes_a_run_reproducible_bit_for_bit() {
    let run = |seed| {
        let gatys = quick().initial(Initial::Noise).seed(seed).build(vgg()).unwrap();
        gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())).unwrap().image.to_vec::<f32>()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "same seed, different pixels");
    assert_ne!(a, c, "different seeds gave the same image");
}

#[test]
fn preserve_colors_keeps_the_contents_chroma() {
    let photo = content(24, 32);
    let gatys = quick().preserve_colors(true).build(vgg()).unwrap();
    let result = gatys.run(&photo, &[stripes(32)], |_| Ok(())).unwrap();
    let (out, reference) = (rgb_to_yiq(&result.image), rgb_to_yiq(&photo));
    let chroma = |t: &Tensor| t.narrow(1, 1, 2).to_f64_vec();
    let worst = chroma(&out).iter().zip(chroma(&reference)).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let without = quick().build(vgg()).unwrap().run(&photo, &[stripes(32)], |_| Ok(())).unwrap();
    let moved = chroma(&rgb_to_yiq(&without.image))
        .iter()
        .zip(chroma(&reference))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    // Only clamping to 0–1 may move the chroma of a colour-preserving result.
    println!("largest chroma change: {worst:.4} preserving colours, {moved:.4} without");
    assert!(worst < 0.05 && worst < moved / 4.0, "chroma moved by {worst} (plain transfer: {moved})");
}

#[test]
fn multi_scale_runs_coarse_to_fine_and_ends_at_full_size() {
    let gatys = quick().size(64).scales(3).iterations(4).build(vgg()).unwrap();
    // relu5_1 sits after four poolings: the coarsest scale's 12-pixel side
    // is brought up to 16, keeping the aspect ratio.
    assert_eq!(gatys.min_side(), 16);
    assert_eq!(gatys.scale_dims(48, 64), vec![(16, 21), (24, 32), (48, 64)]);
    let result = gatys.run(&content(48, 64), &[stripes(40)], |_| Ok(())).unwrap();
    assert_eq!(result.image.shape(), [1, 3, 48, 64]);
    let gatys = quick().size(64).scales(3).iterations(4).content_layers(vec![("relu3_1".into(), 1.0)]);
    let gatys = gatys.style_layers(vec![("relu1_1".into(), 1.0), ("relu4_1".into(), 1.0)]).build(vgg()).unwrap();
    let mut sizes = Vec::new();
    let result = gatys
        .run(&content(48, 64), &[stripes(40)], |p| {
            sizes.push((p.scale, p.image.shape()[3]));
            Ok(())
        })
        .unwrap();
    assert_eq!(result.image.shape(), [1, 3, 48, 64]);
    assert_eq!(sizes.first(), Some(&(1, 16)));
    assert_eq!(sizes.last(), Some(&(3, 64)));
    assert_eq!(result.evaluations, 12);
}

#[test]
fn several_styles_blend_by_weight() {
    let gatys = quick().style_blend(vec![3.0, 1.0]).build(vgg()).unwrap();
    let dark = Tensor::full(&[1, 3, 32, 32], 0.1, DType::F32);
    assert!(gatys.run(&content(24, 32), &[stripes(32), dark.clone()], |_| Ok(())).is_ok());
    let error = gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())).err().unwrap();
    assert!(error.to_string().contains("2 weights for 1 style images"), "{error}");
}

#[test]
fn bad_settings_are_refused_with_their_name() {
    let message = |b: GatysBuilder| b.build(vgg()).err().unwrap().to_string();
    assert!(message(quick().content_layers(vec![("relu9_9".into(), 1.0)])).contains("relu9_9"));
    assert!(message(quick().size(8)).contains("size"));
    assert!(message(quick().size(64).scales(4)).contains("scales"));
    assert!(message(quick().style_weight(-1.0)).contains("style weight"));
    assert!(parse_layers("--style-layers", "relu1_1:x").unwrap_err().to_string().contains("relu1_1:x"));
    assert_eq!(
        parse_layers("l", "relu1_1, relu2_1:0.5").unwrap(),
        vec![("relu1_1".into(), 1.0), ("relu2_1".into(), 0.5)]
    );
}

#[test]
fn a_diverging_run_is_an_error() {
    let gatys = quick().optimizer(OptimizerKind::Adam).learning_rate(1e30).iterations(5).build(vgg()).unwrap();
    match gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())) {
        Err(StyleError::Diverged { iteration, .. }) => assert!(iteration >= 2),
        other => panic!("expected divergence, got {:?}", other.map(|r| r.final_losses)),
    }
}

#[test]
fn the_observer_can_stop_a_run() {
    let gatys = quick().build(vgg()).unwrap();
    let error =
        gatys.run(
            &content(24, 32),
            &[stripes(32)],
            |p| if p.iteration == 3 { Err("disk full".into()) } else { Ok(()) },
        );
    assert_eq!(error.err().unwrap().to_string(), "disk full");
}
