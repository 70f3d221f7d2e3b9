//! `proptest` strategies for gradient checks: shapes, f64 tensors (smooth,
//! kept away from kinks, or with well-separated values for max-like ops),
//! broadcastable shape pairs and convolution/pooling geometries.
//!
//! Sizes are small on purpose: a check costs two forward passes per input
//! element.

use std::ops::RangeInclusive;

use proptest::prelude::*;
use tensor::{Conv2dParams, Pool2dParams, Tensor};

/// Shapes with a rank in `rank` and every dimension in `dim`.
pub fn shape(rank: RangeInclusive<usize>, dim: RangeInclusive<usize>) -> impl Strategy<Value = Vec<usize>> {
    rank.prop_flat_map(move |r| prop::collection::vec(dim.clone(), r))
}

/// An f64 tensor of `shape` with values uniform in `range`.
pub fn tensor_in(shape: Vec<usize>, range: std::ops::Range<f64>) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    prop::collection::vec(range, n).prop_map(move |values| Tensor::from_vec(values, &shape))
}

/// An f64 tensor of `shape` with values in `[-1, 1)`.
pub fn tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    tensor_in(shape, -1.0..1.0)
}

/// A tensor of any shape from `shapes`, values in `[-1, 1)`.
pub fn any_tensor(shapes: impl Strategy<Value = Vec<usize>>) -> impl Strategy<Value = Tensor> {
    shapes.prop_flat_map(tensor)
}

/// Values in `[-1, 1)` at least `margin` away from every point of `kinks`
/// (for relu, abs, clamp: a finite difference across a kink is meaningless).
pub fn away_from(
    shapes: impl Strategy<Value = Vec<usize>>,
    kinks: Vec<f64>,
    margin: f64,
) -> impl Strategy<Value = Tensor> {
    shapes.prop_flat_map(move |shape| {
        let kinks = kinks.clone();
        tensor(shape).prop_map(move |t| {
            let pushed: Vec<f64> = t
                .to_f64_vec()
                .into_iter()
                .map(|v| {
                    kinks.iter().fold(v, |v, &k| {
                        if (v - k).abs() < margin {
                            k + margin.copysign(v - k) * (1.0 + (v - k).abs() / margin)
                        } else {
                            v
                        }
                    })
                })
                .collect();
            Tensor::from_vec(pushed, t.shape())
        })
    })
}

/// Values that are pairwise at least `gap / 2` apart, in random order (for
/// max and max-pool: ties make the gradient ill-defined).
pub fn distinct(shapes: impl Strategy<Value = Vec<usize>>, gap: f64) -> impl Strategy<Value = Tensor> {
    shapes.prop_flat_map(move |shape| {
        let n: usize = shape.iter().product();
        let order = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
        let jitter = prop::collection::vec(-gap / 4.0..gap / 4.0, n);
        (order, jitter).prop_map(move |(order, jitter)| {
            let centre = (n as f64 - 1.0) * gap / 2.0;
            let values = order.iter().zip(&jitter).map(|(&rank, &j)| rank as f64 * gap - centre + j).collect();
            Tensor::from_vec(values, &shape)
        })
    })
}

/// Two shapes that broadcast together (NumPy rules): one may have fewer
/// dimensions and size-1 dimensions where the other does not.
pub fn broadcast_pair(max_rank: usize, max_dim: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(1..=max_rank, 1..=max_dim).prop_flat_map(|full| {
        let r = full.len();
        let keep = |full: Vec<usize>| {
            (0..=full.len() - 1, prop::collection::vec(any::<bool>(), full.len())).prop_map(move |(drop, ones)| {
                full.iter().enumerate().skip(drop).map(|(d, &n)| if ones[d] { 1 } else { n }).collect::<Vec<_>>()
            })
        };
        (keep(full.clone()), keep(full))
            .prop_filter("one operand keeps the full rank", move |(a, b)| a.len() == r || b.len() == r)
    })
}

/// A 2-D convolution problem: input shape, OIHW weight shape and parameters,
/// with at least one output pixel.
#[derive(Clone, Debug)]
pub struct ConvCase {
    /// `[N, C, H, W]`.
    pub input: Vec<usize>,
    /// `[O, C, kh, kw]`.
    pub weight: Vec<usize>,
    /// Stride, padding, dilation.
    pub params: Conv2dParams,
}

/// Small convolutions with strides 1–2, padding 0–2 and dilation 1–2.
pub fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        1usize..=2,
        1usize..=3,
        3usize..=6,
        3usize..=6,
        1usize..=3,
        1usize..=3,
        1usize..=3,
        1usize..=2,
        0usize..=2,
        1usize..=2,
    )
        .prop_map(|(n, c, h, w, o, kh, kw, s, p, d)| ConvCase {
            input: vec![n, c, h, w],
            weight: vec![o, c, kh, kw],
            params: Conv2dParams { stride: (s, s), padding: (p, p), dilation: (d, d) },
        })
        .prop_filter("kernel fits the padded input", |c| {
            let fits = |len: usize, k: usize, p: usize, d: usize| len + 2 * p > d * (k - 1);
            fits(c.input[2], c.weight[2], c.params.padding.0, c.params.dilation.0)
                && fits(c.input[3], c.weight[3], c.params.padding.1, c.params.dilation.1)
                && c.params.padding.0 < c.weight[2].max(2)
        })
}

/// A pooling problem: input shape and window parameters (padding at most
/// half the window, as PyTorch requires).
pub fn pool_case() -> impl Strategy<Value = (Vec<usize>, Pool2dParams)> {
    (1usize..=2, 1usize..=2, 2usize..=6, 2usize..=6, 1usize..=3, 1usize..=3, 0usize..=1).prop_filter_map(
        "window fits",
        |(n, c, h, w, k, s, p)| {
            let p = p.min(k / 2);
            (h + 2 * p >= k && w + 2 * p >= k)
                .then_some((vec![n, c, h, w], Pool2dParams { kernel: (k, k), stride: (s, s), padding: (p, p) }))
        },
    )
}
