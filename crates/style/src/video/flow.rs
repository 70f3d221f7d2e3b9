//! Dense optical flow for video style transfer: coarse-to-fine Horn–Schunck
//! with warping (Horn and Schunck 1981; the warping scheme of Brox, Bruhn,
//! Papenberg and Weickert 2004), a median filter on the flow after every
//! warp (Sun, Roth and Black 2010, "Secrets of optical flow estimation and
//! their principles"), bilinear warping along a flow, and the reliability
//! mask of Ruder, Dosovitskiy and Brox 2016 (forward–backward consistency
//! and motion boundaries, after Sundaram, Brox and Keutzer 2010).
//!
//! # Why Horn–Schunck and not TV-L1
//!
//! The flow here is used to carry the previous stylised frame onto the next
//! one, where the network or optimiser blends it in. A smooth (quadratic,
//! Horn–Schunck) regulariser gives a smooth flow, which warps brush strokes
//! without tearing them; the places where a smooth flow is wrong —
//! occlusions, disocclusions and motion boundaries — are exactly the places
//! that [`reliability`] marks as unreliable, and those are re-painted rather
//! than warped. TV-L1 gives sharper motion boundaries, but the mask removes
//! the boundaries anyway, and it needs more parameters (data weight, TV
//! weight, dual step sizes, threshold schedule) and more iterations.
//!
//! # Conventions
//!
//! Images are planar, row-major `f32`: a grayscale plane is `height × width`
//! values, pixel `(x, y)` at index `y · width + x`, with its centre at the
//! integer coordinates `(x, y)`. Intensities are luminance in 0–1 (see
//! [`luminance`]). A [`FlowField`] holds displacements in pixels of its own
//! grid.
//!
//! # Method (per pyramid level, for each of `warps` warps)
//!
//! The energy is `Σ (I₂(x + w) − I₁(x))² + α² (|∇u|² + |∇v|²)` with
//! `w = (u, v)` and forward differences for `∇`. Around the current flow
//! `w₀` it is linearised after warping `I₂` by `w₀`:
//! `I₂(x + w) ≈ I₂(x + w₀) + Iₓ (u − u₀) + I_y (v − v₀)`, so the data
//! residual is `r = Iₓ u + I_y v + c` with
//! `c = I₂(x + w₀) − I₁(x) − Iₓ u₀ − I_y v₀`. The spatial derivatives are the
//! average of `∇I₁(x)` and `∇I₂` sampled at `x + w₀` (Sun et al.'s choice;
//! on the tests it matched the warped image's gradient alone within a few
//! per cent), with the five-point stencil `[1, −8, 0, 8, −1] / 12`. `I₂`
//! and its gradient are sampled bicubically (Keys, a = −½): bilinear
//! sampling smooths the warped image by a different amount at each
//! sub-pixel offset, which biased a (2.5, −1.5) px translation by 0.06 px
//! (0.008 px bicubic). Where `x + w₀` leaves the frame the data term is
//! switched off and the smoothness term fills the flow in.
//!
//! Both frames are smoothed with a Gaussian of σ = 1 px first (on clean
//! textures σ = 0.5 was more accurate under zoom, but with noise of
//! σ = 0.01 it was worse everywhere). Each coarser level is the finer one
//! smoothed with σ = 1 px and resampled to half the size (sides rounded
//! up, pixel centres aligned); each finer level starts from the coarser flow resampled and
//! scaled ([`FlowField::resized`]).
//!
//! The Euler–Lagrange equations of the quadratic energy, with the discrete
//! Laplacian `Σₙ (uₙ − u) = N (ū − u)` over the `N` neighbours inside the
//! frame (Neumann borders: `N` = 4 inside, fewer on the border; `ū` their
//! mean), are
//!
//! ```text
//! Iₓ (Iₓ u + I_y v + c) − α² N (ū − u) = 0
//! I_y (Iₓ u + I_y v + c) − α² N (v̄ − v) = 0
//! ```
//!
//! For fixed neighbours this is a 2 × 2 system in `(u, v)` per pixel; with
//! `λ = α² N` its solution is (Horn and Schunck's update)
//!
//! ```text
//! u = ū − Iₓ (Iₓ ū + I_y v̄ + c) / (λ + Iₓ² + I_y²)
//! v = v̄ − I_y (Iₓ ū + I_y v̄ + c) / (λ + Iₓ² + I_y²)
//! ```
//!
//! (substitute `u = ū − Iₓ t`, `v = v̄ − I_y t` into both rows: each
//! becomes `t (λ + Iₓ² + I_y²) = Iₓ ū + I_y v̄ + c`). Horn and Schunck's
//! paper writes `α²` where `λ` stands, the Laplacian's factor absorbed into
//! their `α`; here `α` is the one in the energy. The update is applied as
//! red-black successive over-relaxation (pixels of one chessboard colour
//! depend only on the other colour, so each half-sweep is an exact block
//! Gauss–Seidel step, then over-relaxed by `ω` = 1.9); the system is
//! symmetric positive definite, so this converges for `0 < ω < 2`.
//! Halves of the sweep read one buffer and write another, so rows run in
//! parallel (rayon) on larger levels with results independent of the
//! thread count.

use std::sync::LazyLock;

use rayon::prelude::*;

/// Gaussian σ (pixels) of the smoothing applied to both frames before the
/// pyramid is built.
const PRESMOOTH_SIGMA: f32 = 1.0;
/// Gaussian σ (pixels of the finer level) of the anti-aliasing filter
/// applied before each halving.
const DOWNSAMPLE_SIGMA: f32 = 1.0;
/// Over-relaxation factor of the red-black SOR sweeps.
const SOR_OMEGA: f32 = 1.9;
/// Side of the median filter window applied to the flow after each warp.
const MEDIAN_SIDE: usize = 5;
/// Planes with fewer pixels than this are processed on one thread (rayon's
/// per-task overhead would dominate).
const PARALLEL_MIN_PIXELS: usize = 64 * 64;

/// Per-pixel displacement in pixels: pixel `(x, y)` of the first frame
/// moves to `(x + dx, y + dy)` in the second.
///
/// `dx` and `dy` are `height × width` planes, row-major. The fields are
/// public; functions taking a flow panic if their lengths are not
/// `width · height`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowField {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Horizontal displacement, pixels, positive to the right.
    pub dx: Vec<f32>,
    /// Vertical displacement, pixels, positive downwards.
    pub dy: Vec<f32>,
}

impl FlowField {
    /// The zero flow of a `width × height` frame.
    pub fn zeros(width: usize, height: usize) -> Self {
        FlowField { width, height, dx: vec![0.0; width * height], dy: vec![0.0; width * height] }
    }

    /// This flow resampled to `width × height`: bilinear, pixel centres
    /// aligned (`x_src = (x + ½) · self.width / width − ½`, clamped to the
    /// grid), and the vectors scaled by the size ratio per axis
    /// (`dx · width / self.width`, `dy · height / self.height`), so that the
    /// result is in pixels of the new grid. A zero-sized target gives an
    /// empty field.
    ///
    /// # Panics
    ///
    /// If `dx` or `dy` does not hold `self.width · self.height` values, or
    /// if this flow is empty and the target is not.
    pub fn resized(&self, width: usize, height: usize) -> FlowField {
        self.check("FlowField::resized");
        if width == 0 || height == 0 {
            return FlowField::zeros(width, height);
        }
        assert!(
            self.width > 0 && self.height > 0,
            "FlowField::resized: cannot resize an empty {}×{} flow to {width}×{height}",
            self.width,
            self.height
        );
        let (sx, sy) = (width as f32 / self.width as f32, height as f32 / self.height as f32);
        let dx = resample(&self.dx, self.width, self.height, width, height);
        let dy = resample(&self.dy, self.width, self.height, width, height);
        FlowField {
            width,
            height,
            dx: dx.into_iter().map(|v| v * sx).collect(),
            dy: dy.into_iter().map(|v| v * sy).collect(),
        }
    }

    /// Panics naming `function` if the planes do not match the size.
    /// [`FlowField::check`] on both flows, and that they have one size.
    fn check_pair(&self, other: &FlowField, function: &str, names: [&str; 2]) {
        self.check(function);
        other.check(function);
        assert!(
            self.width == other.width && self.height == other.height,
            "{function}: the {} is {}×{} but the {} is {}×{}",
            names[0],
            self.width,
            self.height,
            names[1],
            other.width,
            other.height
        );
    }

    fn check(&self, function: &str) {
        let n = self.width * self.height;
        assert!(
            self.dx.len() == n && self.dy.len() == n,
            "{function}: a {}×{} flow needs {n} values per component, got dx {} and dy {}",
            self.width,
            self.height,
            self.dx.len(),
            self.dy.len()
        );
    }
}

/// Settings of [`estimate_flow`].
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// `α` of the energy `Σ (I₂(x + w) − I₁(x))² + α² (|∇u|² + |∇v|²)`, for
    /// intensities in 0–1 and flow in pixels of each level; larger is
    /// smoother. Should be finite and > 0: at 0 a pixel without texture
    /// keeps whatever flow it starts with.
    pub smoothness: f32,
    /// The pyramid halves the frames (each side rounded up) while the
    /// shorter side of the next level would be at least this many pixels;
    /// values below 1 act as 1, and a frame whose shorter side is below
    /// `2 · min_side` is solved at its own size only. A motion is found
    /// when it is within about 1.5 px at the coarsest level. Levels of a few
    /// pixels hold too little texture to be trusted: on a 256² procedural
    /// texture `min_side` 8 lost a (20, 11.4) px motion that 12 and 16
    /// found.
    pub min_side: usize,
    /// Linearise-and-solve rounds (warps of the second frame) per level.
    pub warps: usize,
    /// Red-black SOR sweeps per warp.
    pub iterations: usize,
    /// Apply a 5 × 5 median filter to `u` and `v` after each warp (Sun,
    /// Roth and Black 2010). It removes the isolated outliers a quadratic
    /// data term lets through, which matters most for [`reliability`]'s
    /// motion-boundary check.
    pub median_filter: bool,
}

impl Default for FlowConfig {
    /// `smoothness` 0.03, `min_side` 12, `warps` 3, `iterations` 30,
    /// `median_filter` on, chosen on procedural textures at 160 × 120
    /// (translations, zoom, rotation, a moving object, textureless patches,
    /// with and without noise; `crates/style/tests/flow.rs`):
    ///
    /// * `smoothness`: 0.02 gives a slightly sharper moving object but lets
    ///   noise through (σ = 0.01 noise: 91% of a static background passes
    ///   [`reliability`], against 96% at 0.03); 0.04 blurs the object more.
    /// * `min_side` 12 rather than 16: at 160 × 120 the pyramid gains a
    ///   level and then finds translations up to about 15 px instead of 7.
    /// * `warps` and `iterations`: 10 sweeps already converge on these
    ///   tests at the SOR factor 1.9 (1.5 needed far more across flat
    ///   regions); 30 leaves a margin for larger textureless regions. Three
    ///   warps match four or five; one loses accuracy on a 7 px motion.
    /// * The median filter lowers every error measured (a (7, 4) px
    ///   translation 0.14 → 0.004 px, mostly at the border) and, with noise,
    ///   lifts the static background marked reliable from 69% to 96%.
    ///
    /// At 256 × 256 this takes about 0.1 s on two cores.
    fn default() -> Self {
        FlowConfig { smoothness: 0.03, min_side: 12, warps: 3, iterations: 30, median_filter: true }
    }
}

/// Luminance (Rec. 601 weights: `0.299 R + 0.587 G + 0.114 B`) of a planar
/// RGB image `[3 × height × width]` in 0–1; returns a `height × width`
/// plane.
///
/// # Panics
///
/// If `rgb.len()` is not `3 · width · height`.
pub fn luminance(rgb: &[f32], width: usize, height: usize) -> Vec<f32> {
    let n = width * height;
    assert_eq!(rgb.len(), 3 * n, "luminance: a 3×{height}×{width} image needs {} values, got {}", 3 * n, rgb.len());
    let (r, rest) = rgb.split_at(n);
    let (g, b) = rest.split_at(n);
    r.iter().zip(g).zip(b).map(|((r, g), b)| 0.299 * r + 0.587 * g + 0.114 * b).collect()
}

/// Optical flow from `first` to `second`, grayscale planes of
/// `height × width` in 0–1: `first(x) ≈ second(x + flow(x))`, flow in
/// pixels. Coarse-to-fine Horn–Schunck with warping and median filtering;
/// see the module documentation for the equations.
///
/// Frames too small for a pyramid are solved at their own size; a 1 × 1 or
/// empty frame gives the zero flow.
///
/// # Panics
///
/// If `first` or `second` does not hold `width · height` values.
pub fn estimate_flow(first: &[f32], second: &[f32], width: usize, height: usize, config: &FlowConfig) -> FlowField {
    let n = width * height;
    assert!(
        first.len() == n && second.len() == n,
        "estimate_flow: {width}×{height} frames need {n} values each, got {} and {}",
        first.len(),
        second.len()
    );
    if n == 0 {
        return FlowField::zeros(width, height);
    }
    // Pyramid: level 0 is the (pre-smoothed) full size.
    let mut levels = vec![(
        width,
        height,
        blur(first, width, height, PRESMOOTH_SIGMA),
        blur(second, width, height, PRESMOOTH_SIGMA),
    )];
    let min_side = config.min_side.max(1);
    loop {
        let (w, h, i1, i2) = levels.last().expect("the pyramid has level 0");
        let (nw, nh) = (w.div_ceil(2), h.div_ceil(2));
        if nw.min(nh) < min_side || (nw == *w && nh == *h) {
            break;
        }
        let down = |img: &[f32]| resample(&blur(img, *w, *h, DOWNSAMPLE_SIGMA), *w, *h, nw, nh);
        let next = (nw, nh, down(i1), down(i2));
        levels.push(next);
    }
    let mut flow: Option<FlowField> = None;
    for (w, h, i1, i2) in levels.iter().rev() {
        let mut current = match flow {
            Some(coarse) => coarse.resized(*w, *h),
            None => FlowField::zeros(*w, *h),
        };
        solve_level(i1, i2, &mut current, config);
        flow = Some(current);
    }
    flow.expect("the pyramid has at least one level")
}

/// Samples the planar `channels × height × width` `image` at
/// `x + flow(x)` for every pixel `x` (bilinear, coordinates clamped to the
/// border), with `width × height` taken from `flow`: with
/// `flow = estimate_flow(a, b)`, `warp(b, flow) ≈ a`. Returns
/// `channels × height × width` values.
///
/// # Panics
///
/// If `image.len()` is not `channels · flow.width · flow.height`, or the
/// flow's planes do not match its size.
pub fn warp(image: &[f32], channels: usize, flow: &FlowField) -> Vec<f32> {
    flow.check("warp");
    let (w, h) = (flow.width, flow.height);
    let n = w * h;
    assert_eq!(
        image.len(),
        channels * n,
        "warp: a {channels}×{h}×{w} image needs {} values, got {}",
        channels * n,
        image.len()
    );
    let mut out = vec![0.0; channels * n];
    if n == 0 {
        return out;
    }
    for (plane_out, plane) in out.chunks_mut(n).zip(image.chunks(n)) {
        for_rows(plane_out, w, |y, row| {
            for (x, o) in row.iter_mut().enumerate() {
                let i = y * w + x;
                *o = bilinear(plane, w, h, x as f32 + flow.dx[i], y as f32 + flow.dy[i]);
            }
        });
    }
    out
}

/// The reliability of `flow` (first → second) given `reverse`
/// (second → first), per pixel of the first frame, as 0.0 or 1.0
/// (Ruder, Dosovitskiy and Brox 2016, the weights `c` of the temporal loss;
/// the checks are those of Sundaram, Brox and Keutzer 2010). A pixel `x`
/// with flow `w = (u, v)` is 0 where
///
/// * `x + w` leaves the frame (`[0, width − 1] × [0, height − 1]`);
/// * the forward–backward check fails:
///   `|w + ŵ|² > 0.01 (|w|² + |ŵ|²) + 0.5`, with `ŵ` = `reverse` sampled
///   bilinearly at `x + w` (an occluded or disoccluded pixel, or a wrong
///   flow, does not come back to itself);
/// * it is on a motion boundary: `|∇u|² + |∇v|² > 0.01 |w|² + 0.002`, the
///   gradient by central differences (one-sided on the border);
///
/// and 1 elsewhere. Returns `height × width` values.
///
/// # Panics
///
/// If the two flows differ in size, or a flow's planes do not match its
/// size.
pub fn reliability(flow: &FlowField, reverse: &FlowField) -> Vec<f32> {
    flow.check_pair(reverse, "reliability", ["flow", "reverse flow"]);
    let (w, h) = (flow.width, flow.height);
    let mut out = vec![0.0; w * h];
    if w * h == 0 {
        return out;
    }
    // Central difference along a line of `len` samples at `k`, `stride`
    // apart; one-sided at the ends, 0 for a single sample.
    let diff = |p: &[f32], i: usize, k: usize, len: usize, stride: usize| -> f32 {
        match (k > 0, k + 1 < len) {
            (true, true) => 0.5 * (p[i + stride] - p[i - stride]),
            (false, true) => p[i + stride] - p[i],
            (true, false) => p[i] - p[i - stride],
            (false, false) => 0.0,
        }
    };
    for_rows(&mut out, w, |y, row| {
        for (x, o) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let (u, v) = (flow.dx[i], flow.dy[i]);
            let (px, py) = (x as f32 + u, y as f32 + v);
            if !(px >= 0.0 && px <= (w - 1) as f32 && py >= 0.0 && py <= (h - 1) as f32) {
                continue;
            }
            let (ru, rv) = (bilinear(&reverse.dx, w, h, px, py), bilinear(&reverse.dy, w, h, px, py));
            let (su, sv) = (u + ru, v + rv);
            let (ww, rr) = (u * u + v * v, ru * ru + rv * rv);
            if su * su + sv * sv > 0.01 * (ww + rr) + 0.5 {
                continue;
            }
            let (ux, vx) = (diff(&flow.dx, i, x, w, 1), diff(&flow.dy, i, x, w, 1));
            let (uy, vy) = (diff(&flow.dx, i, y, h, w), diff(&flow.dy, i, y, h, w));
            if ux * ux + uy * uy + vx * vx + vy * vy > 0.01 * ww + 0.002 {
                continue;
            }
            *o = 1.0;
        }
    });
    out
}

/// Mean endpoint error `sqrt((dx − dx')² + (dy − dy')²)`, in pixels, of
/// `estimate` against `truth` over the pixels where `mask` is > 0.5 (all
/// pixels if `None`); NaN when no pixel is selected. Accumulated in f64.
///
/// # Panics
///
/// If the two flows differ in size, a flow's planes do not match its size,
/// or `mask` does not hold `width · height` values.
pub fn endpoint_error(estimate: &FlowField, truth: &FlowField, mask: Option<&[f32]>) -> f64 {
    estimate.check_pair(truth, "endpoint_error", ["estimate", "truth"]);
    let n = estimate.width * estimate.height;
    if let Some(m) = mask {
        assert_eq!(
            m.len(),
            n,
            "endpoint_error: a {}×{} flow needs a mask of {n} values, got {}",
            estimate.width,
            estimate.height,
            m.len()
        );
    }
    let (mut sum, mut count) = (0.0f64, 0usize);
    for i in 0..n {
        if mask.is_none_or(|m| m[i] > 0.5) {
            let ex = f64::from(estimate.dx[i]) - f64::from(truth.dx[i]);
            let ey = f64::from(estimate.dy[i]) - f64::from(truth.dy[i]);
            sum += (ex * ex + ey * ey).sqrt();
            count += 1;
        }
    }
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Runs `f(y, row)` over the `w`-wide rows of `plane`, in parallel when
/// the plane is large enough to pay for it.
fn for_rows<T, F>(plane: &mut [T], w: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    if plane.len() >= PARALLEL_MIN_PIXELS {
        plane.par_chunks_mut(w).enumerate().for_each(|(y, row)| f(y, row));
    } else {
        plane.chunks_mut(w).enumerate().for_each(|(y, row)| f(y, row));
    }
}

/// [`for_rows`] over two planes of the same size at once.
fn for_rows2<F>(a: &mut [f32], b: &mut [f32], w: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync,
{
    if a.len() >= PARALLEL_MIN_PIXELS {
        a.par_chunks_mut(w).zip(b.par_chunks_mut(w)).enumerate().for_each(|(y, (ra, rb))| f(y, ra, rb));
    } else {
        a.chunks_mut(w).zip(b.chunks_mut(w)).enumerate().for_each(|(y, (ra, rb))| f(y, ra, rb));
    }
}

/// Bilinear sample of a `h × w` plane at `(x, y)`, coordinates clamped to
/// `[0, w − 1] × [0, h − 1]`. Exact at integer coordinates.
#[inline]
fn bilinear(p: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    // NaN coordinates clamp to NaN; `as usize` turns them into 0.
    let (x0, y0) = ((x as usize).min(w - 1), (y as usize).min(h - 1));
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let top = p[y0 * w + x0] + tx * (p[y0 * w + x1] - p[y0 * w + x0]);
    let bottom = p[y1 * w + x0] + tx * (p[y1 * w + x1] - p[y1 * w + x0]);
    top + ty * (bottom - top)
}

/// Keys' cubic convolution weights (a = −½, Catmull–Rom) for the four taps
/// at offsets −1, 0, 1, 2 from a sample at fraction `t` ∈ [0, 1).
#[inline]
fn cubic_weights(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [0.5 * (-t3 + 2.0 * t2 - t), 0.5 * (3.0 * t3 - 5.0 * t2 + 2.0), 0.5 * (-3.0 * t3 + 4.0 * t2 + t), 0.5 * (t3 - t2)]
}

/// Bicubic (Keys) samples of three `h × w` planes at `(x, y)`,
/// coordinates clamped to the grid and taps to the border. Exact at integer
/// coordinates.
#[inline]
fn bicubic3(planes: [&[f32]; 3], w: usize, h: usize, x: f32, y: f32) -> [f32; 3] {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = ((x as usize).min(w - 1), (y as usize).min(h - 1));
    let (wx, wy) = (cubic_weights(x - x0 as f32), cubic_weights(y - y0 as f32));
    let col = |k: usize| (x0 + k).saturating_sub(1).min(w - 1);
    let cols = [col(0), col(1), col(2), col(3)];
    let mut sums = [0.0; 3];
    for (k, wy) in wy.iter().enumerate() {
        let start = (y0 + k).saturating_sub(1).min(h - 1) * w;
        for (sum, p) in sums.iter_mut().zip(planes) {
            let row = &p[start..start + w];
            *sum += wy * (wx[0] * row[cols[0]] + wx[1] * row[cols[1]] + wx[2] * row[cols[2]] + wx[3] * row[cols[3]]);
        }
    }
    sums
}

/// Resamples a `h × w` plane to `nh × nw` by bilinear interpolation with
/// pixel centres aligned (no prefilter).
fn resample(p: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let (rx, ry) = (w as f32 / nw as f32, h as f32 / nh as f32);
    let mut out = vec![0.0; nw * nh];
    for_rows(&mut out, nw, |y, row| {
        let sy = (y as f32 + 0.5) * ry - 0.5;
        for (x, o) in row.iter_mut().enumerate() {
            *o = bilinear(p, w, h, (x as f32 + 0.5) * rx - 0.5, sy);
        }
    });
    out
}

/// Separable Gaussian blur of a `h × w` plane with standard deviation
/// `sigma` pixels (kernel radius `⌈3σ⌉`, border pixels replicated).
fn blur(p: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as usize;
    let kernel: Vec<f32> = (0..=2 * radius)
        .map(|k| {
            let d = k as f32 - radius as f32;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let mut horizontal = vec![0.0; w * h];
    for_rows(&mut horizontal, w, |y, row| {
        let src = &p[y * w..(y + 1) * w];
        for (x, o) in row.iter_mut().enumerate() {
            *o = kernel
                .iter()
                .enumerate()
                .map(|(k, c)| c * src[clamp(x as isize + k as isize - radius as isize, w)])
                .sum();
        }
    });
    let mut out = vec![0.0; w * h];
    for_rows(&mut out, w, |y, row| {
        for (k, c) in kernel.iter().enumerate() {
            let sy = clamp(y as isize + k as isize - radius as isize, h);
            for (o, s) in row.iter_mut().zip(&horizontal[sy * w..(sy + 1) * w]) {
                *o += c * s;
            }
        }
    });
    out
}

/// Derivatives of a `h × w` plane along x and y with the five-point stencil
/// `[1, −8, 0, 8, −1] / 12`, indices clamped to the border.
fn gradient(p: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let at = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let stencil = |f: &dyn Fn(usize) -> f32, k: usize, n: usize| {
        let k = k as isize;
        (f(at(k - 2, n)) - 8.0 * f(at(k - 1, n)) + 8.0 * f(at(k + 1, n)) - f(at(k + 2, n))) / 12.0
    };
    let mut gx = vec![0.0; w * h];
    let mut gy = vec![0.0; w * h];
    for_rows(&mut gx, w, |y, row| {
        let src = &p[y * w..(y + 1) * w];
        for (x, o) in row.iter_mut().enumerate() {
            *o = stencil(&|i| src[i], x, w);
        }
    });
    for_rows(&mut gy, w, |y, row| {
        for (x, o) in row.iter_mut().enumerate() {
            *o = stencil(&|i| p[i * w + x], y, h);
        }
    });
    (gx, gy)
}

/// Median of the truncated `MEDIAN_SIDE × MEDIAN_SIDE` window around
/// `(x, y)` (the upper median when the border leaves an even count).
fn window_median(p: &[f32], w: usize, h: usize, x: usize, y: usize, window: &mut Vec<f32>) -> f32 {
    let r = MEDIAN_SIDE / 2;
    let (x0, x1) = (x.saturating_sub(r), (x + r).min(w - 1));
    window.clear();
    for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
        window.extend_from_slice(&p[yy * w + x0..=yy * w + x1]);
    }
    let mid = window.len() / 2;
    *window.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// Pixels per batch of the median network.
const MEDIAN_LANES: usize = 8;
/// Values in a full median window.
const MEDIAN_TAPS: usize = MEDIAN_SIDE * MEDIAN_SIDE;

/// A comparator network that leaves the median of `MEDIAN_TAPS` values at
/// position `MEDIAN_TAPS / 2`: Batcher's odd–even merge sort of 32 inputs
/// (the last `32 − MEDIAN_TAPS` being +∞), keeping only the comparators
/// that can change that position. Each pair is `(i, j)` with `i < j`: the
/// smaller value goes to `i`.
fn median_network() -> Vec<(usize, usize)> {
    const N: usize = 32;
    // Batcher's merge-exchange, iterative form: for each merge size `2p`
    // and distance `k`, compare elements `k` apart within the same block.
    let mut sort = Vec::new();
    let mut p = 1;
    while p < N {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < N {
                for i in 0..k.min(N - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        sort.push((i + j, i + j + k));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    // Forward: a comparator whose upper input is still a padding +∞ leaves
    // both inputs in place.
    let mut infinite = [false; N];
    infinite[MEDIAN_TAPS..].fill(true);
    let mut live = Vec::new();
    for (i, j) in sort {
        if infinite[j] {
            continue;
        }
        if infinite[i] {
            // The +∞ moves up to `j`; the value comes down to `i`.
            infinite.swap(i, j);
        }
        live.push((i, j));
    }
    // Backward: keep the comparators that feed the median's position.
    let mut needed = [false; N];
    needed[MEDIAN_TAPS / 2] = true;
    let mut network: Vec<(usize, usize)> = live
        .into_iter()
        .rev()
        .filter(|&(i, j)| {
            let keep = needed[i] || needed[j];
            if keep {
                needed[i] = true;
                needed[j] = true;
            }
            keep
        })
        .collect();
    network.reverse();
    network
}

static MEDIAN_NETWORK: LazyLock<Vec<(usize, usize)>> = LazyLock::new(median_network);

/// `MEDIAN_SIDE × MEDIAN_SIDE` median filter of a `h × w` plane, the window
/// truncated at the border. Interior pixels go through
/// [`median_network`] `MEDIAN_LANES` at a time (branch-free min/max that
/// the compiler vectorises across the batch); the border through a
/// selection.
fn median(p: &[f32], w: usize, h: usize) -> Vec<f32> {
    let r = MEDIAN_SIDE / 2;
    let network = &*MEDIAN_NETWORK;
    let mut out = vec![0.0; w * h];
    for_rows(&mut out, w, |y, row| {
        let mut window = Vec::with_capacity(MEDIAN_TAPS);
        if y < r || y + r >= h || w < MEDIAN_SIDE {
            for (x, o) in row.iter_mut().enumerate() {
                *o = window_median(p, w, h, x, y, &mut window);
            }
            return;
        }
        for x in (0..r).chain(w - r..w) {
            row[x] = window_median(p, w, h, x, y, &mut window);
        }
        let mut v = [[0.0f32; MEDIAN_LANES]; 32];
        for start in (r..w - r).step_by(MEDIAN_LANES) {
            let count = MEDIAN_LANES.min(w - r - start);
            for (k, lanes) in v.iter_mut().take(MEDIAN_TAPS).enumerate() {
                // `start ≥ r`, so the window's left column is in the row.
                let base = (y + k / MEDIAN_SIDE - r) * w + start + k % MEDIAN_SIDE - r;
                for (l, lane) in lanes.iter_mut().enumerate() {
                    // Lanes past the row's interior repeat its last pixel.
                    *lane = p[base + l.min(count - 1)];
                }
            }
            for &(i, j) in network {
                let (a, b) = (v[i], v[j]);
                for l in 0..MEDIAN_LANES {
                    let less = a[l] < b[l];
                    v[i][l] = if less { a[l] } else { b[l] };
                    v[j][l] = if less { b[l] } else { a[l] };
                }
            }
            row[start..start + count].copy_from_slice(&v[MEDIAN_TAPS / 2][..count]);
        }
    });
    out
}

/// The per-pixel data of the linearised problem at one warp, as
/// `[Iₓ, I_y, c, 1 / (α² N + Iₓ² + I_y²)]` (the last 0 where the
/// denominator is 0: a pixel with no neighbours and no gradient keeps its
/// flow).
type Linearised = Vec<[f32; 4]>;

/// Linearises the data term around `flow` (see the module documentation):
/// samples `i2` and its gradient at `x + w₀`, averages the gradients with
/// `i1`'s.
fn linearise(
    i1: &[f32],
    grad1: &(Vec<f32>, Vec<f32>),
    i2: &[f32],
    grad2: &(Vec<f32>, Vec<f32>),
    flow: &FlowField,
    alpha2: f32,
) -> Linearised {
    let (w, h) = (flow.width, flow.height);
    let mut lin = vec![[0.0; 4]; w * h];
    for_rows(&mut lin, w, |y, row| {
        let ny = usize::from(y > 0) + usize::from(y + 1 < h);
        for (x, out) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let (u0, v0) = (flow.dx[i], flow.dy[i]);
            let (px, py) = (x as f32 + u0, y as f32 + v0);
            let neighbours = (ny + usize::from(x > 0) + usize::from(x + 1 < w)) as f32;
            let inside = px >= 0.0 && px <= (w - 1) as f32 && py >= 0.0 && py <= (h - 1) as f32;
            let (gx, gy, c) = if inside {
                let [g2x, g2y, i2w] = bicubic3([&grad2.0, &grad2.1, i2], w, h, px, py);
                let (gx, gy) = (0.5 * (grad1.0[i] + g2x), 0.5 * (grad1.1[i] + g2y));
                (gx, gy, i2w - i1[i] - gx * u0 - gy * v0)
            } else {
                (0.0, 0.0, 0.0)
            };
            let denom = alpha2 * neighbours + gx * gx + gy * gy;
            *out = [gx, gy, c, if denom > 0.0 { 1.0 / denom } else { 0.0 }];
        }
    });
    lin
}

/// One half-sweep of red-black SOR: updates the pixels with
/// `(x + y) % 2 == parity` of `(u, v)` from their neighbours (all of the
/// other colour), writing the whole of `(u_out, v_out)` (the other colour
/// copied). Reading one buffer and writing another lets rows run in
/// parallel without aliasing.
fn half_sweep(lin: &Linearised, u: &[f32], v: &[f32], u_out: &mut [f32], v_out: &mut [f32], w: usize, parity: usize) {
    let h = u.len() / w;
    for_rows2(u_out, v_out, w, |y, uo, vo| {
        let row = y * w;
        uo.copy_from_slice(&u[row..row + w]);
        vo.copy_from_slice(&v[row..row + w]);
        // Block Gauss–Seidel at pixel `x` of this row given the sums of its
        // `count` neighbours: the exact solution of the 2 × 2 system for
        // fixed neighbours (module documentation), over-relaxed.
        let update = |uo: &mut [f32], vo: &mut [f32], x: usize, su: f32, sv: f32, count: f32| {
            let i = row + x;
            let (ub, vb) = (su / count, sv / count);
            let [a, b, c, inv] = lin[i];
            let t = (a * ub + b * vb + c) * inv;
            uo[x] = u[i] + SOR_OMEGA * (ub - a * t - u[i]);
            vo[x] = v[i] + SOR_OMEGA * (vb - b * t - v[i]);
        };
        // Neumann border: only the neighbours inside the frame count.
        let border = |uo: &mut [f32], vo: &mut [f32], x: usize| {
            let i = row + x;
            let (mut su, mut sv, mut count) = (0.0f32, 0.0f32, 0.0f32);
            let mut add = |j: usize| {
                su += u[j];
                sv += v[j];
                count += 1.0;
            };
            if x > 0 {
                add(i - 1);
            }
            if x + 1 < w {
                add(i + 1);
            }
            if y > 0 {
                add(i - w);
            }
            if y + 1 < h {
                add(i + w);
            }
            if count > 0.0 {
                update(uo, vo, x, su, sv, count);
            }
        };
        let start = (y + parity) % 2;
        if y == 0 || y + 1 == h || w < 3 {
            for x in (start..w).step_by(2) {
                border(uo, vo, x);
            }
            return;
        }
        if start == 0 {
            border(uo, vo, 0);
        }
        if (w - 1 + start) % 2 == 0 {
            border(uo, vo, w - 1);
        }
        let first = if start == 0 { 2 } else { 1 };
        for x in (first..w - 1).step_by(2) {
            let i = row + x;
            let su = u[i - 1] + u[i + 1] + u[i - w] + u[i + w];
            let sv = v[i - 1] + v[i + 1] + v[i - w] + v[i + w];
            update(uo, vo, x, su, sv, 4.0);
        }
    });
}

/// Refines `flow` on one pyramid level: `config.warps` rounds of
/// linearising around the current flow, `config.iterations` red-black SOR
/// sweeps, and the optional median filter.
fn solve_level(i1: &[f32], i2: &[f32], flow: &mut FlowField, config: &FlowConfig) {
    let (w, h) = (flow.width, flow.height);
    let alpha2 = config.smoothness * config.smoothness;
    let grad1 = gradient(i1, w, h);
    let grad2 = gradient(i2, w, h);
    let (mut u2, mut v2) = (vec![0.0; w * h], vec![0.0; w * h]);
    for _ in 0..config.warps {
        let lin = linearise(i1, &grad1, i2, &grad2, flow, alpha2);
        for _ in 0..config.iterations {
            half_sweep(&lin, &flow.dx, &flow.dy, &mut u2, &mut v2, w, 0);
            half_sweep(&lin, &u2, &v2, &mut flow.dx, &mut flow.dy, w, 1);
        }
        if config.median_filter && w * h > 1 {
            flow.dx = median(&flow.dx, w, h);
            flow.dy = median(&flow.dy, w, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median network agrees with a selection on random windows, ties
    /// included, and the filter with the truncated-window definition
    /// everywhere.
    #[test]
    fn median_network_matches_selection() {
        let mut state = 1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 7) as f32 * 0.5 - (state % 1000) as f32 * 1e-3 * f32::from(u8::from(state % 3 == 0))
        };
        for (w, h) in [(5, 5), (13, 9), (30, 7), (4, 11), (21, 21)] {
            let p: Vec<f32> = (0..w * h).map(|_| next()).collect();
            let fast = median(&p, w, h);
            let mut window = Vec::new();
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(fast[y * w + x], window_median(&p, w, h, x, y, &mut window), "{w}×{h} at ({x}, {y})");
                }
            }
        }
        println!("median network: {} comparators", MEDIAN_NETWORK.len());
    }
}
