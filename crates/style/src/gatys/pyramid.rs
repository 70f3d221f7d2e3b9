//! A multi-scale preconditioner for optimising pixels.
//!
//! A Gatys objective is stiff in the fine directions of the image (the
//! shallow style layers and total variation see every pixel's neighbours)
//! and soft in the coarse ones, so plain gradient steps, and L-BFGS between
//! the few directions its history holds, fix the fine detail quickly and the
//! large-scale layout slowly. Optimising a Gaussian pyramid's levels instead
//! of the pixels evens that out (Snelgrove, "High-resolution multi-scale
//! neural texture synthesis", SIGGRAPH Asia 2017); such a change of
//! variables, written as L-BFGS's starting inverse Hessian, is
//!
//! `M = I + Σₖ₌₁ᴷ wₖ (Rᵏ)ᵀ Rᵏ`
//!
//! with `R` Burt & Adelson's REDUCE (a separable `[1 4 6 4 1]/16` blur, zero
//! outside the image, then every second row and column) and `Rᵀ` its exact
//! transpose (zeros between the samples, then the same blur). Each term is
//! symmetric and positive semi-definite and the identity makes `M` positive
//! definite, as L-BFGS needs. `(Rᵏ)ᵀRᵏ` shrinks a smooth image by `4ᵏ` (the
//! samples are `4ᵏ` times fewer), so `wₖ = (4β)ᵏ` lifts the components of
//! level `k` by about `Σⱼ≤ₖ βʲ` (Snelgrove's pyramid of images, each
//! enlarged by `EXPAND = 4Rᵀ`, is `β = 4`; fresco uses 2, measured below).

/// `β`, how much more each level is lifted than the one below, in Gatys
/// runs: on the README's main job (astronaut × The Starry Night, 512 px,
/// 60 + 200 evaluations, four levels) the loss reached 1.2075 after 150
/// evaluations at the full size with `β = 2` (142 in a first build that
/// summed the terms in another order), 147 with 1, 171 without the
/// preconditioner; `β = 3` and `β = 4` (five levels) were slower than 2
/// from the start.
pub const PRECONDITIONER_LIFT: f32 = 2.0;

/// The pyramid preconditioner for `[planes, height, width]` images, flat.
#[derive(Clone, Debug)]
pub struct PyramidPreconditioner {
    planes: usize,
    /// `(height, width)` of level 0 (the image) to level `K`.
    sizes: Vec<(usize, usize)>,
    /// `wₖ` for levels `1..=K` (index 0 unused, the identity's 1).
    weights: Vec<f32>,
}

/// The binomial filter of Burt & Adelson (1983).
const TAPS: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];

impl PyramidPreconditioner {
    /// `levels` levels above the image (fewer: none is made from a level
    /// with a side under 16 px), each lifted by `beta` more than the one
    /// below.
    pub fn new(planes: usize, height: usize, width: usize, levels: usize, beta: f32) -> PyramidPreconditioner {
        let mut sizes = vec![(height, width)];
        let mut weights = vec![1.0];
        while sizes.len() <= levels {
            let (h, w) = *sizes.last().expect("level 0");
            if h.min(w) < 16 {
                break;
            }
            sizes.push((h.div_ceil(2), w.div_ceil(2)));
            weights.push(weights.last().expect("level 0") * 4.0 * beta);
        }
        PyramidPreconditioner { planes, sizes, weights }
    }

    /// Values per vector: `planes · height · width`.
    pub fn len(&self) -> usize {
        self.planes * self.sizes[0].0 * self.sizes[0].1
    }

    /// Whether the vectors are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `M·v`, in place. Panics unless `v` has [`Self::len`] values.
    pub fn apply(&self, v: &mut [f32]) {
        assert_eq!(
            v.len(),
            self.len(),
            "pyramid preconditioner: {} values for {} planes of {:?}",
            v.len(),
            self.planes,
            self.sizes[0]
        );
        // rₖ = Rᵏv, then from the top: t_K = w_K r_K, tₖ₋₁ = Rᵀtₖ + wₖ₋₁rₖ₋₁,
        // and v itself is r₀ (w₀ = 1), so the last Rᵀ adds onto it.
        let mut reduced: Vec<Vec<f32>> = Vec::with_capacity(self.sizes.len());
        for k in 1..self.sizes.len() {
            let (h, w) = self.sizes[k - 1];
            let finer: &[f32] = if k == 1 { v } else { &reduced[k - 2] };
            reduced.push(reduce(finer, self.planes, h, w));
        }
        let Some(mut t) = reduced.pop() else { return };
        let top = self.sizes.len() - 1;
        t.iter_mut().for_each(|x| *x *= self.weights[top]);
        for k in (0..top).rev() {
            let (h, w) = self.sizes[k];
            match reduced.pop() {
                Some(mut r) => {
                    r.iter_mut().for_each(|x| *x *= self.weights[k]);
                    add_reduce_transposed(&t, self.planes, h, w, &mut r);
                    t = r;
                }
                None => add_reduce_transposed(&t, self.planes, h, w, v),
            }
        }
    }
}

/// Tap `t` of the filter for the sample `2·i` seen from `x` (the filter
/// centred on `x` reaches `x − 2 … x + 2`).
fn tap(x: usize, sample: usize) -> Option<f32> {
    (sample + 2).checked_sub(x).filter(|&t| t < 5).map(|t| TAPS[t])
}

/// REDUCE: the `[1 4 6 4 1]/16` blur in both directions (zero outside the
/// plane), kept at every second row and column (from the first), computed
/// at those places only.
fn reduce(src: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let mut rows = vec![0.0f32; h2 * w];
    let mut padded = vec![0.0f32; 2 * w2 + 4];
    let mut out = Vec::with_capacity(planes * h2 * w2);
    for plane in src.chunks_exact(h * w).take(planes) {
        rows.fill(0.0);
        for (y2, row) in rows.chunks_exact_mut(w).enumerate() {
            for (t, tap) in TAPS.iter().enumerate() {
                let Some(y) = (2 * y2 + t).checked_sub(2).filter(|&y| y < h) else { continue };
                for (o, x) in row.iter_mut().zip(&plane[y * w..(y + 1) * w]) {
                    *o += tap * x;
                }
            }
        }
        for row in rows.chunks_exact(w) {
            // Two zeros either side, then five taps from every second pixel.
            padded[2..w + 2].copy_from_slice(row);
            out.extend((0..w2).map(|x2| {
                let r = &padded[2 * x2..2 * x2 + 5];
                TAPS[0] * r[0] + TAPS[1] * r[1] + TAPS[2] * r[2] + TAPS[3] * r[3] + TAPS[4] * r[4]
            }));
        }
    }
    out
}

/// Adds REDUCE's transpose of `coarse` onto `fine` (`h × w` planes): each
/// coarse sample spread back over the `5 × 5` fine pixels its blur read,
/// with the same taps.
fn add_reduce_transposed(coarse: &[f32], planes: usize, h: usize, w: usize, fine: &mut [f32]) {
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let mut rows = vec![0.0f32; h2 * w];
    let mut padded = vec![0.0f32; w2 + 2];
    for (plane, samples) in fine.chunks_exact_mut(h * w).zip(coarse.chunks_exact(h2 * w2)).take(planes) {
        // Along x: rows[y2][x] = Σ taps · samples[y2][x2]. An even x = 2m
        // reads samples m − 1, m, m + 1 with taps 1, 6, 1 (/16); an odd
        // x = 2m + 1 reads samples m, m + 1 with taps 4, 4. With one zero
        // either side, sample m is padded[m + 1].
        for (row, sample_row) in rows.chunks_exact_mut(w).zip(samples.chunks_exact(w2)) {
            padded[1..w2 + 1].copy_from_slice(sample_row);
            for (pair, m) in row.chunks_mut(2).zip(0..) {
                let p = &padded[m..m + 3];
                pair[0] = TAPS[0] * p[0] + TAPS[2] * p[1] + TAPS[4] * p[2];
                if let Some(odd) = pair.get_mut(1) {
                    *odd = TAPS[1] * p[1] + TAPS[3] * p[2];
                }
            }
        }
        // Along y, onto the plane.
        for (y, out) in plane.chunks_exact_mut(w).enumerate() {
            let first = y.saturating_sub(2).div_ceil(2);
            for y2 in (first..h2).take_while(|&y2| 2 * y2 <= y + 2) {
                let Some(t) = tap(y, 2 * y2) else { continue };
                for (o, r) in out.iter_mut().zip(&rows[y2 * w..(y2 + 1) * w]) {
                    *o += t * r;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
    }

    /// `⟨Ru, v⟩ = ⟨u, Rᵀv⟩` on odd and even sides: the transpose is exact.
    #[test]
    fn reduce_transposed_is_the_transpose() {
        for (h, w) in [(9, 14), (16, 16), (7, 5)] {
            let u = pseudo_random(2 * h * w, 1);
            let v = pseudo_random(2 * h.div_ceil(2) * w.div_ceil(2), 2);
            let mut spread = vec![0.0; u.len()];
            add_reduce_transposed(&v, 2, h, w, &mut spread);
            let (left, right) = (dot(&reduce(&u, 2, h, w), &v), dot(&u, &spread));
            assert!((left - right).abs() < 1e-5 * left.abs().max(1.0), "{h}x{w}: {left} against {right}");
        }
    }

    /// The fused REDUCE against its definition: the 2-D blur at every
    /// second pixel, zero outside.
    #[test]
    fn reduce_is_blur_then_every_second_pixel() {
        let (h, w) = (11, 8);
        let u = pseudo_random(h * w, 5);
        let fast = reduce(&u, 1, h, w);
        let at = |y: isize, x: isize| {
            if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                0.0
            } else {
                u[y as usize * w + x as usize]
            }
        };
        for y2 in 0..h.div_ceil(2) {
            for x2 in 0..w.div_ceil(2) {
                let mut sum = 0.0;
                for (i, ti) in TAPS.iter().enumerate() {
                    for (j, tj) in TAPS.iter().enumerate() {
                        sum += ti * tj * at(2 * y2 as isize + i as isize - 2, 2 * x2 as isize + j as isize - 2);
                    }
                }
                let got = fast[y2 * w.div_ceil(2) + x2];
                assert!((got - sum).abs() < 1e-6, "({y2}, {x2}): {got} against {sum}");
            }
        }
    }

    /// `apply`'s recursion is `v + Σₖ wₖ (Rᵏ)ᵀRᵏ v`, built here term by
    /// term, at odd sides and three levels.
    #[test]
    fn apply_is_the_weighted_sum_of_its_levels() {
        let (h, w) = (70, 66);
        let m = PyramidPreconditioner::new(2, h, w, 3, 2.0);
        assert_eq!(m.sizes.len(), 4, "{:?}", m.sizes);
        let v = pseudo_random(2 * h * w, 6);
        let mut expected = v.clone();
        for k in 1..m.sizes.len() {
            let mut level = v.clone();
            for j in 1..=k {
                let (hj, wj) = m.sizes[j - 1];
                level = reduce(&level, 2, hj, wj);
            }
            level.iter_mut().for_each(|x| *x *= 8f32.powi(k as i32));
            for j in (1..=k).rev() {
                let (hj, wj) = m.sizes[j - 1];
                let mut finer = vec![0.0; 2 * hj * wj];
                add_reduce_transposed(&level, 2, hj, wj, &mut finer);
                level = finer;
            }
            expected.iter_mut().zip(&level).for_each(|(e, l)| *e += l);
        }
        let mut got = v;
        m.apply(&mut got);
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "largest difference {worst}");
    }

    /// `M` is symmetric, positive definite, and lifts a smooth image far
    /// more than a checkerboard.
    #[test]
    fn preconditioner_is_symmetric_positive_and_lifts_coarse_detail() {
        let (h, w) = (40, 36);
        let m = PyramidPreconditioner::new(3, h, w, 3, 1.0);
        let (u, v) = (pseudo_random(3 * h * w, 3), pseudo_random(3 * h * w, 4));
        let applied = |x: &[f32]| {
            let mut y = x.to_vec();
            m.apply(&mut y);
            y
        };
        let (muv, umv) = (dot(&applied(&u), &v), dot(&u, &applied(&v)));
        assert!((muv - umv).abs() < 1e-4 * muv.abs().max(1.0), "{muv} against {umv}");
        assert!(dot(&u, &applied(&u)) > dot(&u, &u), "uᵀMu ≥ uᵀu");
        let smooth: Vec<f32> = (0..3 * h * w).map(|i| ((i % w) as f32 / w as f32 * 3.0).sin()).collect();
        let checker: Vec<f32> = (0..3 * h * w).map(|i| if (i % w + i / w) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let gain = |x: &[f32]| dot(x, &applied(x)) / dot(x, x);
        assert!(gain(&smooth) > 2.5, "smooth gain {}", gain(&smooth));
        assert!(gain(&checker) < 1.01, "checkerboard gain {}", gain(&checker));
    }
}
