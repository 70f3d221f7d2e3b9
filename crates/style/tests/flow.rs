//! Optical flow on synthetic frame pairs whose true flow is known exactly:
//! the second frame samples a continuous procedural texture at the
//! positions the first frame's points move to, so the flow of pixel `x` is
//! `M(x) − x` for the motion `M`. Each case prints its mean endpoint error
//! (over pixels at least 4 px inside the first frame whose destination is
//! inside the second) and its time, and asserts a threshold measured with
//! margin (about three times the error measured). Cases: translations
//! small, large and near the pyramid's reach, with and without noise; zoom;
//! rotation, also across textureless patches; a moving object over a static
//! background with the reliability mask (forward–backward consistency,
//! disocclusion, motion boundaries); zero motion; warping; tiny frames;
//! size checks; and the time of one estimate at 128² and 256² (printed
//! only).

use std::f64::consts::PI;
use std::time::Instant;

use style::video::flow::{endpoint_error, estimate_flow, luminance, reliability, warp, FlowConfig, FlowField};

/// SplitMix64: a seeded source of uniform numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A smooth random texture defined everywhere in the plane: 48 plane waves
/// with wavelengths from 5 to 48 px in random directions (amplitude ∝
/// √wavelength, so contrast at every scale), squashed by a tanh into
/// `mean ± 0.35`.
struct Texture {
    waves: Vec<[f64; 4]>,
    scale: f64,
    mean: f64,
}

impl Texture {
    fn new(seed: u64, mean: f64) -> Self {
        let mut rng = Rng(seed);
        let waves: Vec<[f64; 4]> = (0..48)
            .map(|_| {
                let wavelength = 5.0 * (48.0f64 / 5.0).powf(rng.uniform());
                let angle = 2.0 * PI * rng.uniform();
                let k = 2.0 * PI / wavelength;
                [k * angle.cos(), k * angle.sin(), 2.0 * PI * rng.uniform(), wavelength.sqrt()]
            })
            .collect();
        // Standard deviation of the sum: sqrt(Σ a² / 2).
        let scale = (waves.iter().map(|w| w[3] * w[3]).sum::<f64>() / 2.0).sqrt();
        Texture { waves, scale, mean }
    }

    fn at(&self, x: f64, y: f64) -> f32 {
        let s: f64 = self.waves.iter().map(|[kx, ky, phase, a]| a * (kx * x + ky * y + phase).sin()).sum();
        (self.mean + 0.35 * (s / self.scale).tanh()) as f32
    }
}

/// A `w × h` plane of `f(x, y)` at the pixel centres.
fn render(w: usize, h: usize, f: impl Fn(f64, f64) -> f32) -> Vec<f32> {
    (0..w * h).map(|i| f((i % w) as f64, (i / w) as f64)).collect()
}

/// A frame pair for the motion `forward` (with inverse `inverse`): the
/// first frame is the texture, the second the texture moved, the true flow
/// `forward(x) − x`, and the mask of pixels at least 4 px inside the first
/// frame whose destination lies inside the second.
struct Pair {
    w: usize,
    h: usize,
    first: Vec<f32>,
    second: Vec<f32>,
    truth: FlowField,
    mask: Vec<f32>,
}

fn pair(
    w: usize,
    h: usize,
    texture: impl Fn(f64, f64) -> f32,
    forward: impl Fn(f64, f64) -> (f64, f64),
    inverse: impl Fn(f64, f64) -> (f64, f64),
) -> Pair {
    let first = render(w, h, &texture);
    let second = render(w, h, |x, y| {
        let (sx, sy) = inverse(x, y);
        texture(sx, sy)
    });
    let mut truth = FlowField::zeros(w, h);
    let mut mask = vec![0.0; w * h];
    for (i, m) in mask.iter_mut().enumerate() {
        let (x, y) = ((i % w) as f64, (i / w) as f64);
        let (mx, my) = forward(x, y);
        truth.dx[i] = (mx - x) as f32;
        truth.dy[i] = (my - y) as f32;
        let interior = x >= 4.0 && y >= 4.0 && x < (w - 4) as f64 && y < (h - 4) as f64;
        let lands = mx >= 0.0 && my >= 0.0 && mx <= (w - 1) as f64 && my <= (h - 1) as f64;
        *m = if interior && lands { 1.0 } else { 0.0 };
    }
    Pair { w, h, first, second, truth, mask }
}

/// Estimates the pair's flow with the default settings, prints and returns
/// the endpoint error.
fn measure(name: &str, p: &Pair) -> (f64, FlowField) {
    let start = Instant::now();
    let flow = estimate_flow(&p.first, &p.second, p.w, p.h, &FlowConfig::default());
    let elapsed = start.elapsed().as_secs_f64();
    let epe = endpoint_error(&flow, &p.truth, Some(&p.mask));
    println!("{name} ({}×{}): endpoint error {epe:.4} px, {:.1} ms", p.w, p.h, elapsed * 1e3);
    (epe, flow)
}

fn translation(w: usize, h: usize, seed: u64, tx: f64, ty: f64) -> Pair {
    let texture = Texture::new(seed, 0.5);
    pair(w, h, |x, y| texture.at(x, y), |x, y| (x + tx, y + ty), |x, y| (x - tx, y - ty))
}

fn zoom(w: usize, h: usize, seed: u64, s: f64) -> Pair {
    let (cx, cy) = ((w - 1) as f64 / 2.0, (h - 1) as f64 / 2.0);
    let texture = Texture::new(seed, 0.5);
    pair(
        w,
        h,
        |x, y| texture.at(x, y),
        |x, y| (cx + s * (x - cx), cy + s * (y - cy)),
        |x, y| (cx + (x - cx) / s, cy + (y - cy) / s),
    )
}

/// Rotation by `degrees` about the centre of the texture `texture`.
fn rotation_of(w: usize, h: usize, texture: impl Fn(f64, f64) -> f32, degrees: f64) -> Pair {
    let (cx, cy) = ((w - 1) as f64 / 2.0, (h - 1) as f64 / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    pair(
        w,
        h,
        texture,
        |x, y| (cx + cos * (x - cx) - sin * (y - cy), cy + sin * (x - cx) + cos * (y - cy)),
        |x, y| (cx + cos * (x - cx) + sin * (y - cy), cy - sin * (x - cx) + cos * (y - cy)),
    )
}

fn rotation(w: usize, h: usize, seed: u64, degrees: f64) -> Pair {
    let texture = Texture::new(seed, 0.5);
    rotation_of(w, h, |x, y| texture.at(x, y), degrees)
}

fn mean_abs_diff(a: &[f32], b: &[f32], mask: &[f32]) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for ((a, b), m) in a.iter().zip(b).zip(mask) {
        if *m > 0.5 {
            sum += f64::from((a - b).abs());
            n += 1;
        }
    }
    sum / n as f64
}

fn fraction(values: &[f32], mask: &[bool], want: f32) -> f64 {
    let selected = values.iter().zip(mask).filter(|(_, m)| **m);
    let (hits, n) = selected.fold((0usize, 0usize), |(h, n), (v, _)| (h + usize::from(*v == want), n + 1));
    hits as f64 / n as f64
}

/// Zero-mean Gaussian noise of standard deviation `sigma` (Box–Muller).
fn add_noise(plane: &mut [f32], sigma: f64, rng: &mut Rng) {
    for v in plane {
        let (a, b) = (rng.uniform().max(1e-12), rng.uniform());
        *v += (sigma * (-2.0 * a.ln()).sqrt() * (2.0 * PI * b).cos()) as f32;
    }
}

#[test]
fn small_translation() {
    let (epe, _) = measure("translation (2.5, -1.5)", &translation(160, 120, 11, 2.5, -1.5));
    assert!(epe < 0.03, "endpoint error {epe}");
}

#[test]
fn large_translation_needs_the_pyramid() {
    let (epe, _) = measure("translation (7, 4)", &translation(160, 120, 12, 7.0, 4.0));
    assert!(epe < 0.03, "endpoint error {epe}");
}

/// Near the largest motion the default pyramid finds at this size (four
/// levels, the coarsest 20 × 15: 14 px there is 1.75 px).
#[test]
fn translation_near_the_pyramids_reach() {
    let (epe, _) = measure("translation (14, 8)", &translation(160, 120, 12, 14.0, 8.0));
    assert!(epe < 0.05, "endpoint error {epe}");
}

/// Sensor-like noise (σ = 0.01, about 2.5 grey levels of 255) on both
/// frames of the small translation.
#[test]
fn small_translation_with_noise() {
    let mut p = translation(160, 120, 11, 2.5, -1.5);
    let mut rng = Rng(77);
    add_noise(&mut p.first, 0.01, &mut rng);
    add_noise(&mut p.second, 0.01, &mut rng);
    let (epe, _) = measure("translation (2.5, -1.5), noise σ 0.01", &p);
    assert!(epe < 0.1, "endpoint error {epe}");
}

/// A rotation of a texture with flat patches (about 45% of the frame has no
/// texture at all): the smoothness term has to carry the flow across them.
#[test]
fn rotation_across_textureless_patches() {
    let (texture, envelope) = (Texture::new(300, 0.5), Texture::new(400, 0.5));
    // Contrast 0 where the slow envelope is below its mean, rising to 1.
    let contrast = |x: f64, y: f64| ((f64::from(envelope.at(x / 4.0, y / 4.0)) - 0.5) * 8.0).clamp(0.0, 1.0);
    let (w, h) = (160usize, 120usize);
    let p = rotation_of(w, h, |x, y| (0.5 + contrast(x, y) * (f64::from(texture.at(x, y)) - 0.5)) as f32, 3.0);
    let flat: Vec<f32> = render(w, h, |x, y| if contrast(x, y) == 0.0 { 1.0 } else { 0.0 });
    let flat_fraction = flat.iter().zip(&p.mask).filter(|(f, m)| **f * **m > 0.5).count() as f64
        / p.mask.iter().filter(|m| **m > 0.5).count() as f64;
    let (epe, flow) = measure("rotation 3°, textureless patches", &p);
    let flat_mask: Vec<f32> = flat.iter().zip(&p.mask).map(|(f, m)| f * m).collect();
    let epe_flat = endpoint_error(&flow, &p.truth, Some(&flat_mask));
    println!(
        "rotation 3°, textureless patches: endpoint error {epe_flat:.4} px on the {:.0}% without texture",
        100.0 * flat_fraction
    );
    assert!(epe < 0.15, "endpoint error {epe}");
    assert!(epe_flat < 0.3, "endpoint error {epe_flat} without texture");
}

#[test]
fn zoom_about_the_centre() {
    let (epe, _) = measure("zoom 1.05", &zoom(160, 120, 13, 1.05));
    assert!(epe < 0.1, "endpoint error {epe}");
}

#[test]
fn rotation_about_the_centre() {
    let (epe, _) = measure("rotation 3°", &rotation(160, 120, 14, 3.0));
    assert!(epe < 0.05, "endpoint error {epe}");
}

#[test]
fn warping_the_second_frame_brings_it_closer_to_the_first() {
    let p = zoom(160, 120, 13, 1.05);
    let (_, flow) = measure("zoom 1.05, for warping", &p);
    let warped = warp(&p.second, 1, &flow);
    let (before, after) = (mean_abs_diff(&p.second, &p.first, &p.mask), mean_abs_diff(&warped, &p.first, &p.mask));
    println!("zoom 1.05: mean |second − first| {before:.4}, mean |warp(second) − first| {after:.4}");
    assert!(after < 0.15 * before, "warping does not help enough: {before} → {after}");
}

/// A textured 40 px square moving by (4, 3) px over a static textured
/// background: the flow on the background and inside the object, and the
/// reliability mask Ruder et al. would use to carry frame 0's stylisation
/// to frame 1 (flow frame 1 → frame 0, checked against frame 0 → frame 1).
#[test]
fn moving_object_over_a_static_background() {
    let (w, h, side) = (160usize, 120usize, 40.0);
    let (ox, oy, mx, my) = (56.0, 36.0, 4.0, 3.0);
    let (background, object) = (Texture::new(21, 0.45), Texture::new(22, 0.6));
    let (background, object) = (&background, &object);
    let inside = |x: f64, y: f64, sx: f64, sy: f64| x >= sx && x < sx + side && y >= sy && y < sy + side;
    let frame = |t: f64| {
        render(w, h, move |x, y| {
            let (sx, sy) = (ox + t * mx, oy + t * my);
            if inside(x, y, sx, sy) {
                object.at(x - sx, y - sy)
            } else {
                background.at(x, y)
            }
        })
    };
    let (frame0, frame1) = (frame(0.0), frame(1.0));
    // Distance (Chebyshev, px) from a square's boundary, positive inside.
    let depth = |x: f64, y: f64, sx: f64, sy: f64| {
        let d = (x - sx).min(sx + side - 1.0 - x).min(y - sy).min(sy + side - 1.0 - y);
        if inside(x, y, sx, sy) {
            d
        } else {
            -((sx - x).max(x - (sx + side - 1.0)).max(sy - y).max(y - (sy + side - 1.0)))
        }
    };
    let pixels: Vec<(f64, f64)> = (0..w * h).map(|i| ((i % w) as f64, (i / w) as f64)).collect();
    let interior = |x: f64, y: f64| x >= 4.0 && y >= 4.0 && x < (w - 4) as f64 && y < (h - 4) as f64;
    // Background at least 8 px from the square in both frames.
    let far_background: Vec<bool> = pixels
        .iter()
        .map(|&(x, y)| interior(x, y) && depth(x, y, ox, oy) <= -8.0 && depth(x, y, ox + mx, oy + my) <= -8.0)
        .collect();
    let to_mask = |b: &[bool]| b.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect::<Vec<f32>>();

    let start = Instant::now();
    let forward = estimate_flow(&frame0, &frame1, w, h, &FlowConfig::default());
    let backward = estimate_flow(&frame1, &frame0, w, h, &FlowConfig::default());
    let elapsed = start.elapsed().as_secs_f64() / 2.0;

    // Frame 0 → frame 1: the object moves by (4, 3).
    let mut truth = FlowField::zeros(w, h);
    let object0: Vec<bool> = pixels.iter().map(|&(x, y)| depth(x, y, ox, oy) >= 6.0).collect();
    for (i, &(x, y)) in pixels.iter().enumerate() {
        if inside(x, y, ox, oy) {
            truth.dx[i] = mx as f32;
            truth.dy[i] = my as f32;
        }
    }
    let epe_background = endpoint_error(&forward, &truth, Some(&to_mask(&far_background)));
    let epe_object = endpoint_error(&forward, &truth, Some(&to_mask(&object0)));
    let near: Vec<bool> = pixels
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| interior(x, y) && !far_background[i] && !object0[i] && !inside(x, y, ox + mx, oy + my))
        .collect();
    let epe_near = endpoint_error(&forward, &truth, Some(&to_mask(&near)));
    println!(
        "moving object ({w}×{h}, {elapsed:.3} s per flow): endpoint error {epe_background:.4} px on the background \
         ≥ 8 px away, {epe_object:.4} px ≥ 6 px inside the object, {epe_near:.4} px on the band between \
         (background visible in both frames)"
    );
    assert!(epe_background < 0.04, "background endpoint error {epe_background}");
    assert!(epe_object < 0.15, "object endpoint error {epe_object}");

    // Reliability per pixel of frame 1, of the flow frame 1 → frame 0.
    let mask = reliability(&backward, &forward);
    let disoccluded: Vec<bool> =
        pixels.iter().map(|&(x, y)| inside(x, y, ox, oy) && !inside(x, y, ox + mx, oy + my)).collect();
    let object1: Vec<bool> = pixels.iter().map(|&(x, y)| depth(x, y, ox + mx, oy + my) >= 6.0).collect();
    let (zeros_disoccluded, ones_background, ones_object) =
        (fraction(&mask, &disoccluded, 0.0), fraction(&mask, &far_background, 1.0), fraction(&mask, &object1, 1.0));
    println!(
        "moving object: reliability 0 on {:.1}% of the disoccluded strip, 1 on {:.1}% of the far background and \
         {:.1}% of the object interior",
        100.0 * zeros_disoccluded,
        100.0 * ones_background,
        100.0 * ones_object
    );
    assert!(zeros_disoccluded >= 0.6, "disoccluded strip marked unreliable: {zeros_disoccluded}");
    assert!(ones_background >= 0.9, "static background marked reliable: {ones_background}");
}

#[test]
fn zero_motion() {
    let p = translation(160, 120, 31, 0.0, 0.0);
    let (epe, flow) = measure("zero motion", &p);
    let reverse = estimate_flow(&p.second, &p.first, p.w, p.h, &FlowConfig::default());
    let ones = fraction(&reliability(&flow, &reverse), &vec![true; p.w * p.h], 1.0);
    println!("zero motion: reliability 1 on {:.2}% of the pixels", 100.0 * ones);
    assert!(epe < 0.05, "endpoint error {epe}");
    assert!(ones >= 0.99, "reliable fraction {ones}");
}

#[test]
fn warp_with_zero_and_integer_flows() {
    let (w, h) = (37usize, 23usize);
    let mut rng = Rng(5);
    let image: Vec<f32> = (0..3 * w * h).map(|_| rng.uniform() as f32).collect();
    assert_eq!(warp(&image, 3, &FlowField::zeros(w, h)), image);

    let (sx, sy) = (3isize, -2isize);
    let mut flow = FlowField::zeros(w, h);
    flow.dx.fill(sx as f32);
    flow.dy.fill(sy as f32);
    let warped = warp(&image, 3, &flow);
    for c in 0..3 {
        for y in 2..h - 3 {
            for x in 0..w - 3 {
                let source = c * w * h + (y as isize + sy) as usize * w + (x as isize + sx) as usize;
                assert_eq!(warped[c * w * h + y * w + x], image[source], "channel {c} at ({x}, {y})");
            }
        }
    }
}

#[test]
fn tiny_frames_do_not_panic() {
    let mut rng = Rng(9);
    for (w, h) in [(1, 1), (2, 3), (3, 2), (5, 4), (1, 7), (0, 0), (0, 3)] {
        let a: Vec<f32> = (0..w * h).map(|_| rng.uniform() as f32).collect();
        let b: Vec<f32> = (0..w * h).map(|_| rng.uniform() as f32).collect();
        let flow = estimate_flow(&a, &b, w, h, &FlowConfig::default());
        let reverse = estimate_flow(&b, &a, w, h, &FlowConfig::default());
        assert_eq!((flow.width, flow.height, flow.dx.len(), flow.dy.len()), (w, h, w * h, w * h));
        assert!(flow.dx.iter().chain(&flow.dy).all(|v| v.is_finite()), "{w}×{h}: {flow:?}");
        assert_eq!(warp(&b, 1, &flow).len(), w * h);
        assert_eq!(reliability(&flow, &reverse).len(), w * h);
        if w * h > 0 {
            assert!(endpoint_error(&flow, &reverse, None).is_finite());
        }
        if w * h > 0 {
            assert_eq!(flow.resized(1, 1).dx.len(), 1);
            assert_eq!(flow.resized(2 * w, 3 * h).dx.len(), 6 * w * h);
        }
    }
    let one = estimate_flow(&[0.3], &[0.7], 1, 1, &FlowConfig::default());
    assert_eq!((one.dx[0], one.dy[0]), (0.0, 0.0));
}

#[test]
fn resizing_scales_the_vectors() {
    let mut flow = FlowField::zeros(64, 48);
    flow.dx.fill(2.0);
    flow.dy.fill(-1.0);
    let half = flow.resized(32, 12);
    assert!(half.dx.iter().all(|&v| v == 1.0) && half.dy.iter().all(|&v| v == -0.25), "{half:?}");
    // A linear flow field stays linear (pixel centres aligned).
    let ramp = FlowField { width: 8, height: 1, dx: (0..8).map(|x| x as f32).collect(), dy: vec![0.0; 8] };
    let doubled = ramp.resized(16, 1);
    for (x, v) in doubled.dx.iter().enumerate().take(15).skip(1) {
        let expected = 2.0 * ((x as f32 + 0.5) / 2.0 - 0.5);
        assert!((v - expected).abs() < 1e-5, "at {x}: {v} against {expected}");
    }
}

#[test]
fn luminance_uses_rec_601_weights() {
    let rgb = [1.0, 0.0, 0.5, 0.0, 1.0, 0.5, 0.0, 0.0, 0.5];
    let y = luminance(&rgb, 3, 1);
    for (got, want) in y.iter().zip([0.299, 0.587, 0.5]) {
        assert!((got - want).abs() < 1e-6, "{y:?}");
    }
}

#[test]
#[should_panic(expected = "estimate_flow: 4×3 frames need 12 values each, got 12 and 11")]
fn estimate_flow_checks_sizes() {
    estimate_flow(&[0.0; 12], &[0.0; 11], 4, 3, &FlowConfig::default());
}

#[test]
#[should_panic(expected = "warp: a 3×2×2 image needs 12 values, got 4")]
fn warp_checks_sizes() {
    warp(&[0.0; 4], 3, &FlowField::zeros(2, 2));
}

#[test]
#[should_panic(expected = "reliability: the flow is 2×2 but the reverse flow is 2×3")]
fn reliability_checks_sizes() {
    reliability(&FlowField::zeros(2, 2), &FlowField::zeros(2, 3));
}

#[test]
#[should_panic(expected = "endpoint_error: a 2×2 flow needs a mask of 4 values, got 3")]
fn endpoint_error_checks_the_mask() {
    endpoint_error(&FlowField::zeros(2, 2), &FlowField::zeros(2, 2), Some(&[1.0; 3]));
}

/// Times one estimate at 128² and 256² with the default settings (prints
/// only: timings depend on the machine).
#[test]
fn timing() {
    for side in [128usize, 256] {
        let p = translation(side, side, 41, 2.0, 1.0);
        // One run to warm up rayon's pool, then the best of three.
        let _ = estimate_flow(&p.first, &p.second, side, side, &FlowConfig::default());
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                let _ = estimate_flow(&p.first, &p.second, side, side, &FlowConfig::default());
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!("estimate_flow at {side}×{side}: {:.1} ms (best of 3, default settings)", best * 1e3);
    }
}
