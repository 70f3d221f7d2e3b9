//! The Gatys method as a library, on procedural images and a tiny
//! random-feature VGG: the loss falls, sizes are right, runs reproduce bit
//! for bit, colours can be kept, scales chain, temporal targets hold the
//! image where they are reliable, bad settings are refused.

use nn::{Vgg, VggKind};
use style::color::rgb_to_yiq;
use style::gatys::{Gatys, GatysBuilder, Initial, OptimizerKind, TemporalTarget};
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
    Gatys::builder().size(32).scales(1).iterations(12).style_weight(100.0).tv_weight(1.0)
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
fn lbfgs_with_a_line_search_lowers_the_loss_within_its_budget() {
    let gatys = quick().iterations(20).line_search(true).build(vgg()).unwrap();
    let result = gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())).unwrap();
    assert!(result.final_losses.total < 0.7 * result.first_losses.total);
    assert!(result.evaluations <= 20, "{} evaluations for a budget of 20", result.evaluations);
    let adam = quick().line_search(true).optimizer(OptimizerKind::Adam).build(vgg());
    assert!(adam.err().unwrap().to_string().contains("--line-search"));
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
    let gatys = quick().size(64).scales(3).iterations(4).coarse_iterations(4).build(vgg()).unwrap();
    // relu5_1 sits after four poolings: the coarsest scale's 12-pixel side
    // is brought up to 16, keeping the aspect ratio.
    assert_eq!(gatys.min_side(), 16);
    assert_eq!(gatys.scale_dims(48, 64), vec![(16, 21), (24, 32), (48, 64)]);
    let result = gatys.run(&content(48, 64), &[stripes(40)], |_| Ok(())).unwrap();
    assert_eq!(result.image.shape(), [1, 3, 48, 64]);
    let gatys =
        quick().size(64).scales(3).iterations(4).coarse_iterations(4).content_layers(vec![("relu3_1".into(), 1.0)]);
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
fn the_default_schedule_is_two_scales_where_they_fit_and_one_where_not() {
    let builder = || Gatys::builder().style_weight(100.0).tv_weight(1.0).iterations(3).coarse_iterations(5);
    // relu5_1 needs 16 px: at 32 px the coarse scale has them, at 24 not.
    let two = builder().size(32).build(vgg()).unwrap();
    assert_eq!(two.config().scales, 2);
    let mut per_scale = [0; 2];
    let result = two
        .run(&content(24, 32), &[stripes(32)], |p| {
            per_scale[p.scale - 1] += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!((per_scale, result.evaluations), ([5, 3], 8));
    let one = builder().size(24).build(vgg()).unwrap();
    assert_eq!(one.config().scales, 1);
    assert_eq!(one.run(&content(24, 32), &[stripes(32)], |_| Ok(())).unwrap().evaluations, 3);
    // Asked for explicitly, two scales that do not fit are an error.
    let error = builder().size(24).scales(2).build(vgg()).err().unwrap().to_string();
    assert!(error.contains("--scales") && error.contains("use at most 1"), "{error}");
}

#[test]
fn the_loss_is_that_of_the_picture_that_is_saved_and_black_and_white_get_painted() {
    // A heavy style weight pushes L-BFGS's steps out of 0-1; the pixels are
    // projected back before each evaluation.
    let gatys = quick().style_weight(1e4).iterations(25).build(vgg()).unwrap();
    // A photo with pure black and pure white blocks (exactly 0 and 1).
    let base = content(24, 32).to_f64_vec();
    let photo = Tensor::from_fn(&[1, 3, 24, 32], DType::F32, |i| {
        let x = i % 32;
        if x < 8 {
            0.0
        } else if x >= 24 {
            1.0
        } else {
            base[i]
        }
    });
    let painting = stripes(32);
    let mut in_range = true;
    let result = gatys
        .run(&photo, std::slice::from_ref(&painting), |p| {
            in_range &= p.image.to_f64_vec().iter().all(|v| (0.0..=1.0).contains(v));
            Ok(())
        })
        .unwrap();
    assert!(in_range, "an evaluated image left 0-1");
    let saved = gatys.measure(&result.image, &photo, std::slice::from_ref(&painting)).unwrap();
    let reported = result.best_losses.total;
    assert!(
        (saved.total - reported).abs() <= 1e-4 * reported,
        "saved image {} against reported {reported}",
        saved.total
    );
    // Clamping inside the loss instead gave such pixels no gradient, and
    // they never changed.
    let out = result.image.to_f64_vec();
    let moved = |column: std::ops::Range<usize>, from: f64| {
        (0..out.len()).filter(|i| column.contains(&(i % 32)) && (out[*i] - from).abs() > 0.05).count()
    };
    let (black, white) = (moved(0..8, 0.0), moved(24..32, 1.0));
    assert!(black > 50 && white > 50, "painted {black} black and {white} white values of 576 each");
}

#[test]
fn a_scale_ends_when_its_loss_stops_falling_by_min_progress() {
    // No run lowers its loss by 90% in 10 evaluations after its first few:
    // each scale stops after 11 or a few more.
    let gatys = quick().size(64).scales(2).iterations(40).coarse_iterations(40).min_progress(0.9).build(vgg()).unwrap();
    let mut per_scale = [0; 2];
    gatys
        .run(&content(48, 64), &[stripes(40)], |p| {
            per_scale[p.scale - 1] += 1;
            Ok(())
        })
        .unwrap();
    assert!(per_scale.iter().all(|&n| (11..40).contains(&n)), "evaluations per scale: {per_scale:?}");
    let error = quick().min_progress(1.0).build(vgg()).err().unwrap().to_string();
    assert!(error.contains("--min-progress"), "{error}");
    assert!(quick().history(0).build(vgg()).err().unwrap().to_string().contains("--history"));
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
fn a_run_whose_loss_is_not_finite_is_an_error() {
    // Pixels are clamped to 0-1 before the loss, so no step size makes it
    // overflow; a weight that does ends the run at once.
    let gatys = quick().optimizer(OptimizerKind::Adam).style_weight(f64::MAX).iterations(5).build(vgg()).unwrap();
    match gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())) {
        Err(StyleError::Diverged { iteration, .. }) => assert_eq!(iteration, 1),
        other => panic!("expected divergence, got {:?}", other.map(|r| r.final_losses)),
    }
    let gatys = quick().optimizer(OptimizerKind::Adam).learning_rate(1e30).iterations(5).build(vgg()).unwrap();
    let result = gatys.run(&content(24, 32), &[stripes(32)], |_| Ok(())).unwrap();
    assert!(result.final_losses.total.is_finite());
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

/// A video frame's temporal terms (Ruder et al.): where a target's
/// reliability is 1 the image stays at the warped earlier result; where it is
/// 0 the style paints freely. Two targets add up; shapes are checked.
#[test]
fn temporal_targets_hold_the_image_where_they_are_reliable() {
    let (h, w) = (24, 32);
    let anchor = Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| 0.3 + 0.4 * ((i % w) as f64 / w as f64));
    // Reliable on the left half only.
    let left = Tensor::from_fn(&[1, 1, h, w], DType::F32, |i| if i % w < w / 2 { 1.0 } else { 0.0 });
    let target = |weight| TemporalTarget { warped: anchor.clone(), reliability: left.clone(), weight };
    let gatys = quick().iterations(20).initial(Initial::Image(anchor.clone())).build(vgg()).unwrap();
    let moved = |image: &Tensor, left_half: bool| {
        let (a, b) = (image.to_vec::<f32>(), anchor.to_vec::<f32>());
        let picked: Vec<f64> =
            (0..a.len()).filter(|i| (i % w < w / 2) == left_half).map(|i| (a[i] - b[i]).abs() as f64).collect();
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    let held = gatys.run_with_temporal(&content(h, w), &[stripes(32)], &[target(1e6)], |_| Ok(())).unwrap();
    let free = gatys.run_with_temporal(&content(h, w), &[stripes(32)], &[], |_| Ok(())).unwrap();
    let (held_left, held_right, free_left) =
        (moved(&held.image, true), moved(&held.image, false), moved(&free.image, true));
    println!(
        "mean change from the anchor: held {held_left:.4} (reliable) / {held_right:.4} (not); free {free_left:.4}"
    );
    assert!(held_left < 0.02 && held_left * 4.0 < held_right && held_left * 4.0 < free_left);
    assert!(held.final_losses.temporal > 0.0 && free.final_losses.temporal == 0.0);
    // Two targets add their terms.
    let two = gatys.run_with_temporal(&content(h, w), &[stripes(32)], &[target(1e6), target(1e6)], |_| Ok(())).unwrap();
    assert!(two.first_losses.temporal == 0.0 && moved(&two.image, true) <= held_left * 1.5);
    // A target of the wrong size or shape is refused, naming it.
    let small = TemporalTarget { warped: Tensor::zeros(&[1, 3, 8, 8], DType::F32), ..target(1.0) };
    let err = gatys.run_with_temporal(&content(h, w), &[stripes(32)], &[small], |_| Ok(())).err().unwrap();
    assert!(err.to_string().starts_with("temporal target:"), "{err}");
}
