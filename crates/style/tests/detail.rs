//! The detail and control terms of the Gatys objective, as a library, on
//! procedural images and a tiny random-feature VGG: the Laplacian loss keeps
//! the content's edges, the histogram loss brings the feature distributions
//! to the style's, masks keep a style to its region, and the combinations
//! that have no meaning are refused.

use autograd::Var;
use nn::{Vgg, VggKind};
use style::gatys::{Gatys, GatysBuilder, Initial};
use style::perceptual::histogram::sorted_distance;
use style::perceptual::laplacian::laplacian_correlation;
use style::perceptual::parse_layers;
use tensor::{DType, Tensor};

fn vgg() -> Vgg {
    Vgg::random_with_widths(VggKind::Vgg19, [8, 12, 16, 16, 16], 3)
}

/// Sharp-edged rectangles and a few lines on a smooth background: the
/// "photo", with edges to keep.
fn content(h: usize, w: usize) -> Tensor {
    Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| {
        let (c, p) = (i / (h * w), i % (h * w));
        let (y, x) = (p / w, p % w);
        let block = (x / 8 + y / 8) % 3 == 0;
        let line = x % 11 == 0 || y % 13 == 0;
        let base = [0.3, 0.5, 0.6][c] + 0.2 * (x as f64 / w as f64);
        if line {
            0.05
        } else if block {
            [0.9, 0.85, 0.2][c]
        } else {
            base
        }
    })
}

/// Soft blue-yellow waves: the "painting", with no edges of the photo's.
fn waves(side: usize) -> Tensor {
    Tensor::from_fn(&[1, 3, side, side], DType::F32, |i| {
        let (c, p) = (i / (side * side), i % (side * side));
        let (y, x) = ((p / side) as f64, (p % side) as f64);
        let t = 0.5 + 0.5 * ((x * 0.45 + 2.0 * (y * 0.2).sin()).sin());
        [0.1 + 0.8 * t, 0.2 + 0.6 * t, 0.7 - 0.5 * t][c]
    })
}

fn quick() -> GatysBuilder {
    Gatys::builder().size(48).scales(1).iterations(25).style_weight(200.0).tv_weight(1.0)
}

#[test]
fn the_laplacian_loss_keeps_the_contents_edges() {
    let photo = content(48, 48);
    let mut kept = Vec::new();
    for weight in [0.0, 100.0] {
        // From noise, the deep content layer alone does not draw the edges.
        let gatys = quick()
            .style_weight(10.0)
            .laplacian_weight(weight)
            .laplacian_pools(vec![1, 2])
            .initial(Initial::Noise)
            .build(vgg())
            .unwrap();
        let result = gatys.run(&photo, &[waves(48)], |_| Ok(())).unwrap();
        assert_eq!(result.final_losses.laplacian > 0.0, weight > 0.0);
        kept.push(laplacian_correlation(&photo, &result.image, 1).unwrap().expect("the photo has edges"));
    }
    assert!(kept[1] > kept[0] + 0.1, "Laplacian correlation without {:.3}, with the loss {:.3}", kept[0], kept[1]);
}

#[test]
fn the_histogram_loss_brings_the_distributions_to_the_styles() {
    let style = waves(48);
    let vgg = vgg();
    let layer = "relu1_1";
    let features = |t: &Tensor| {
        autograd::no_grad(|| vgg.forward_features(&Var::constant(t.clone()), &[layer])).unwrap()[0].value().clone()
    };
    let style_features = features(&style).to_vec::<f32>();
    let mut distances = Vec::new();
    for weight in [0.0, 100.0] {
        let gatys = quick()
            .style_weight(5.0)
            .histogram_weight(weight)
            .histogram_layers(parse_layers("histogram layers", layer).unwrap())
            .initial(Initial::Noise)
            .build(vgg.clone())
            .unwrap();
        let result = gatys.run(&content(48, 48), std::slice::from_ref(&style), |_| Ok(())).unwrap();
        assert_eq!(result.final_losses.histogram > 0.0, weight > 0.0);
        if weight > 0.0 {
            assert!(result.final_losses.histogram < result.first_losses.histogram);
        }
        let f = features(&result.image).to_vec::<f32>();
        let m = 48 * 48;
        let channels = f.len() / m;
        let d: f64 =
            (0..channels).map(|c| sorted_distance(&f[c * m..(c + 1) * m], &style_features[c * m..(c + 1) * m])).sum();
        distances.push(d / channels as f64);
    }
    assert!(distances[1] < 0.8 * distances[0], "distance to the style's distributions: {distances:?}");
}

#[test]
fn a_mask_keeps_its_style_to_its_region_and_the_photo_elsewhere() {
    let photo = content(48, 48);
    let left = Tensor::from_fn(&[1, 3, 48, 48], DType::F32, |i| f64::from(i % 48 < 24));
    let change = |image: &Tensor, right: bool| {
        let (a, b) = (image.to_vec::<f32>(), photo.to_vec::<f32>());
        let cols: Vec<usize> = if right { (30..48).collect() } else { (0..18).collect() };
        let mut sum = 0.0;
        for c in 0..3 {
            for y in 0..48 {
                for &x in &cols {
                    let i = (c * 48 + y) * 48 + x;
                    sum += f64::from((a[i] - b[i]).abs());
                }
            }
        }
        sum / (3 * 48 * cols.len()) as f64
    };
    let masked = quick().style_masks(vec![left]).build(vgg()).unwrap();
    let masked = masked.run(&photo, &[waves(48)], |_| Ok(())).unwrap().image;
    let whole = quick().build(vgg()).unwrap().run(&photo, &[waves(48)], |_| Ok(())).unwrap().image;
    let (inside, outside) = (change(&masked, false), change(&masked, true));
    assert!(outside < 0.5 * inside, "masked run: change inside {inside:.4}, outside {outside:.4}");
    assert!(
        outside < 0.5 * change(&whole, true),
        "outside {outside:.4}, unmasked run there {:.4}",
        change(&whole, true)
    );
}

#[test]
fn meaningless_combinations_are_refused_naming_the_option() {
    let mask = Tensor::full(&[1, 3, 48, 48], 1.0, DType::F32);
    let with_blend = quick().style_masks(vec![mask.clone()]).style_blend(vec![1.0]).build(vgg());
    assert!(with_blend.err().unwrap().to_string().contains("--style-blend"));
    let with_histogram = quick().style_masks(vec![mask.clone()]).histogram_weight(1.0).build(vgg());
    assert!(with_histogram.err().unwrap().to_string().contains("histogram"));
    let two_masks = quick().style_masks(vec![mask.clone(), mask]).build(vgg()).unwrap();
    let e = two_masks.run(&content(48, 48), &[waves(48)], |_| Ok(())).err().unwrap().to_string();
    assert!(e.contains("2 masks for 1 style"), "{e}");
    let e = quick().laplacian_weight(1.0).laplacian_pools(vec![]).build(vgg()).err().unwrap().to_string();
    assert!(e.contains("--laplacian-pool"), "{e}");
    let e = quick().laplacian_weight(1.0).laplacian_pools(vec![32]).build(vgg()).unwrap();
    let e = e.run(&content(48, 48), &[waves(48)], |_| Ok(())).err().unwrap().to_string();
    assert!(e.contains("--laplacian-pool"), "{e}");
}
