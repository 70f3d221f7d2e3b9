//! Pooling, upsampling and padding against direct references; gradients by
//! the adjoint identity `⟨backward(g), x⟩ = ⟨g, forward(x)⟩` for the linear
//! ones and by index bookkeeping for max pooling.

use kernels::padding::{pad2d_backward, pad2d_forward, Pad2d, PadMode};
use kernels::pooling::*;
use kernels::upsample::{upsample2d_backward, upsample2d_forward, UpsampleMode};
use proptest::prelude::*;

fn values(len: usize, seed: u64) -> Vec<f64> {
    // Distinct values (no ties for max pooling): a random permutation scaled.
    let mut v: Vec<f64> = (0..len).map(|i| i as f64 / len.max(1) as f64 - 0.5).collect();
    let mut state = seed | 1;
    for i in (1..len).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.swap(i, (state % (i as u64 + 1)) as usize);
    }
    v
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn pool_geometry() -> impl Strategy<Value = Pool2dGeometry> {
    (1usize..4, 1usize..10, 1usize..10, 1usize..4, 1usize..4, 1usize..4, 1usize..4, 0usize..2, 0usize..2)
        .prop_map(|(planes, h, w, kh, kw, sy, sx, py, px)| Pool2dGeometry {
            planes,
            in_height: h,
            in_width: w,
            kernel: (kh, kw),
            stride: (sy, sx),
            padding: (py, px),
        })
        .prop_filter("valid", |g| g.validate().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn max_pool_picks_window_maximum(g in pool_geometry(), seed in any::<u64>()) {
        let x = values(g.planes * g.in_height * g.in_width, seed);
        let (oh, ow) = (g.out_height(), g.out_width());
        let mut y = vec![0.0; g.planes * oh * ow];
        let mut idx = vec![0u32; y.len()];
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        for p in 0..g.planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = f64::NEG_INFINITY;
                    for ky in 0..g.kernel.0 {
                        for kx in 0..g.kernel.1 {
                            let iy = (oy * g.stride.0 + ky) as isize - g.padding.0 as isize;
                            let ix = (ox * g.stride.1 + kx) as isize - g.padding.1 as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < g.in_height && (ix as usize) < g.in_width {
                                best = best.max(x[(p * g.in_height + iy as usize) * g.in_width + ix as usize]);
                            }
                        }
                    }
                    let o = (p * oh + oy) * ow + ox;
                    prop_assert_eq!(y[o], best);
                    prop_assert_eq!(x[p * g.in_height * g.in_width + idx[o] as usize], best);
                }
            }
        }
        let gy = values(y.len(), seed ^ 9);
        let mut gx = vec![f64::NAN; x.len()];
        max_pool2d_backward(&g, &gy, &idx, &mut gx);
        let mut expected = vec![0.0; x.len()];
        for (o, &i) in idx.iter().enumerate() {
            expected[(o / (oh * ow)) * g.in_height * g.in_width + i as usize] += gy[o];
        }
        prop_assert_eq!(gx, expected);
    }

    #[test]
    fn avg_pool_forward_and_adjoint(g in pool_geometry(), include_pad in any::<bool>(), seed in any::<u64>()) {
        let x = values(g.planes * g.in_height * g.in_width, seed);
        let (oh, ow) = (g.out_height(), g.out_width());
        let mut y = vec![0.0; g.planes * oh * ow];
        avg_pool2d_forward(&g, include_pad, &x, &mut y);
        for p in 0..g.planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut sum, mut inside, mut padded) = (0.0, 0usize, 0usize);
                    for ky in 0..g.kernel.0 {
                        for kx in 0..g.kernel.1 {
                            let iy = (oy * g.stride.0 + ky) as isize - g.padding.0 as isize;
                            let ix = (ox * g.stride.1 + kx) as isize - g.padding.1 as isize;
                            let in_padded = iy < (g.in_height + g.padding.0) as isize && ix < (g.in_width + g.padding.1) as isize;
                            if in_padded { padded += 1; }
                            if iy >= 0 && ix >= 0 && (iy as usize) < g.in_height && (ix as usize) < g.in_width {
                                sum += x[(p * g.in_height + iy as usize) * g.in_width + ix as usize];
                                inside += 1;
                            }
                        }
                    }
                    let expected = sum / if include_pad { padded } else { inside } as f64;
                    prop_assert!((y[(p * oh + oy) * ow + ox] - expected).abs() < 1e-12);
                }
            }
        }
        let gy = values(y.len(), seed ^ 5);
        let mut gx = vec![f64::NAN; x.len()];
        avg_pool2d_backward(&g, include_pad, &gy, &mut gx);
        prop_assert!((dot(&gx, &x) - dot(&gy, &y)).abs() < 1e-10);
    }

    #[test]
    fn upsample_forward_and_adjoint(bilinear in any::<bool>(), planes in 1usize..3, h in 1usize..7, w in 1usize..7, factor in 1usize..4, seed in any::<u64>()) {
        let mode = if bilinear { UpsampleMode::Bilinear } else { UpsampleMode::Nearest };
        let x = values(planes * h * w, seed);
        let mut y = vec![f64::NAN; x.len() * factor * factor];
        upsample2d_forward(mode, planes, h, w, factor, &x, &mut y);
        let (oh, ow) = (h * factor, w * factor);
        for p in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let expected = if bilinear {
                        // PyTorch align_corners=False: source = (dst + 0.5) / factor - 0.5, clamped at 0.
                        let sample = |o: usize, n: usize| {
                            let s = ((o as f64 + 0.5) / factor as f64 - 0.5).max(0.0);
                            let i0 = (s.floor() as usize).min(n - 1);
                            (i0, (i0 + 1).min(n - 1), s - i0 as f64)
                        };
                        let (y0, y1, ly) = sample(oy, h);
                        let (x0, x1, lx) = sample(ox, w);
                        let at = |yy: usize, xx: usize| x[(p * h + yy) * w + xx];
                        (1.0 - ly) * ((1.0 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1.0 - lx) * at(y1, x0) + lx * at(y1, x1))
                    } else {
                        x[(p * h + oy / factor) * w + ox / factor]
                    };
                    prop_assert!((y[(p * oh + oy) * ow + ox] - expected).abs() < 1e-12);
                }
            }
        }
        let gy = values(y.len(), seed ^ 3);
        let mut gx = vec![f64::NAN; x.len()];
        upsample2d_backward(mode, planes, h, w, factor, &gy, &mut gx);
        prop_assert!((dot(&gx, &x) - dot(&gy, &y)).abs() < 1e-10);
    }

    #[test]
    fn pad_forward_and_adjoint(mode in prop_oneof![Just(PadMode::Zero), Just(PadMode::Reflect), Just(PadMode::Replicate)],
                               planes in 1usize..3, h in 1usize..7, w in 1usize..7,
                               (top, bottom, left, right) in (0usize..4, 0usize..4, 0usize..4, 0usize..4), seed in any::<u64>()) {
        let pad = Pad2d { top, bottom, left, right };
        prop_assume!(pad.validate(mode, h, w).is_ok());
        let x = values(planes * h * w, seed);
        let (oh, ow) = (h + top + bottom, w + left + right);
        let mut y = vec![f64::NAN; planes * oh * ow];
        pad2d_forward(mode, &pad, planes, h, w, &x, &mut y);
        let src = |i: usize, before: usize, n: usize| -> Option<usize> {
            let j = i as isize - before as isize;
            match mode {
                _ if (0..n as isize).contains(&j) => Some(j as usize),
                PadMode::Zero => None,
                PadMode::Replicate => Some(j.clamp(0, n as isize - 1) as usize),
                PadMode::Reflect => Some(if j < 0 { (-j) as usize } else { 2 * (n - 1) - j as usize }),
            }
        };
        for p in 0..planes {
            for yy in 0..oh {
                for xx in 0..ow {
                    let expected = match (src(yy, top, h), src(xx, left, w)) {
                        (Some(a), Some(b)) => x[(p * h + a) * w + b],
                        _ => 0.0,
                    };
                    prop_assert_eq!(y[(p * oh + yy) * ow + xx], expected);
                }
            }
        }
        let gy = values(y.len(), seed ^ 7);
        let mut gx = vec![f64::NAN; x.len()];
        pad2d_backward(mode, &pad, planes, h, w, &gy, &mut gx);
        prop_assert!((dot(&gx, &x) - dot(&gy, &y)).abs() < 1e-10);
    }
}

#[test]
fn reflection_wider_than_the_plane_is_rejected() {
    let message = Pad2d::uniform(3).validate(PadMode::Reflect, 3, 10).unwrap_err();
    assert!(message.contains("smaller than the plane"), "{message}");
}

/// The reference choice of max pooling in a window: scanning row-major from
/// −∞, the first NaN, else the first of the largest values (its in-plane
/// index; the first position when every value is −∞).
fn reference_max<T: kernels::Float>(
    plane: &[T],
    w: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> (T, usize) {
    let (mut best, mut at) = (T::NEG_INFINITY, rows.start * w + cols.start);
    for y in rows {
        for x in cols.clone() {
            let v = plane[y * w + x];
            if v.is_nan() {
                return (v, y * w + x);
            }
            if v > best {
                (best, at) = (v, y * w + x);
            }
        }
    }
    (best, at)
}

fn check_two_by_two<T: kernels::Float + std::fmt::Debug>(planes: usize, h: usize, w: usize, picks: &[usize]) {
    let palette =
        [T::from_f64(f64::NAN), T::NEG_INFINITY, T::from_f64(-1.0), T::from_f64(-0.0), T::ZERO, T::ONE, T::INFINITY];
    let x: Vec<T> = picks[..planes * h * w].iter().map(|&p| palette[p % palette.len()]).collect();
    let g = Pool2dGeometry { planes, in_height: h, in_width: w, kernel: (2, 2), stride: (2, 2), padding: (0, 0) };
    let (oh, ow) = (g.out_height(), g.out_width());
    let mut y = vec![T::ZERO; planes * oh * ow];
    let mut idx = vec![0u32; y.len()];
    max_pool2d_forward(&g, &x, &mut y, &mut idx);
    for p in 0..planes {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let (best, at) = reference_max(plane, w, 2 * oy..2 * oy + 2, 2 * ox..2 * ox + 2);
                let o = (p * oh + oy) * ow + ox;
                assert_eq!(
                    (y[o].to_f64().to_bits(), idx[o] as usize),
                    (best.to_f64().to_bits(), at),
                    "plane {p} output ({oy}, {ox})"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// VGG's window (2×2, stride 2, no padding) has a loop of its own; with
    /// values from a small palette (NaN, ±∞, ±0, ties everywhere) it must
    /// choose exactly as the general loop's rule, on odd sizes too.
    #[test]
    fn max_pool_two_by_two_chooses_as_the_general_rule(
        planes in 1usize..3, h in 2usize..9, w in 2usize..9, picks in proptest::collection::vec(0usize..7, 2 * 8 * 8)
    ) {
        check_two_by_two::<f32>(planes, h, w, &picks);
        check_two_by_two::<f64>(planes, h, w, &picks);
    }
}
