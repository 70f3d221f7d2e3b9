//! One gradient property test per op: random small inputs, central finite
//! differences in f64 against `backward`, through a random output weighting.

use autograd::strategies::{
    any_tensor, away_from, broadcast_pair, conv_case, distinct, pool_case, shape, tensor, tensor_in,
};
use autograd::{gradcheck_property, Var};
use proptest::prelude::*;
use tensor::{Conv2dParams, Pad2d, PadMode, Pool2dParams, Tensor, UpsampleMode};

/// Cases per op: enough to meet every branch of the small shapes drawn.
const CASES: u32 = 64;

fn small() -> impl Strategy<Value = Vec<usize>> {
    shape(1..=3, 1..=4)
}

fn images() -> impl Strategy<Value = Vec<usize>> {
    (1usize..=2, 1usize..=3, 2usize..=5, 2usize..=5).prop_map(|(n, c, h, w)| vec![n, c, h, w])
}

fn positive() -> impl Strategy<Value = Tensor> {
    small().prop_flat_map(|s| tensor_in(s, 0.2..2.0))
}

fn pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    broadcast_pair(3, 3).prop_flat_map(|(a, b)| (tensor(a), tensor(b)))
}

fn same_shape_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    small().prop_flat_map(|s| (tensor(s.clone()), tensor(s)))
}

// ---- element-wise ---------------------------------------------------------

// Two-input strategies draw a pair, then the closure sees both.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn add((a, b) in pair()) { check2("add", a, b, |v| &v[0] + &v[1])?; }
    #[test]
    fn sub((a, b) in pair()) { check2("sub", a, b, |v| &v[0] - &v[1])?; }
    #[test]
    fn mul((a, b) in pair()) { check2("mul", a, b, |v| &v[0] * &v[1])?; }
    #[test]
    fn div((a, b) in broadcast_pair(3, 3).prop_flat_map(|(a, b)| (tensor(a), tensor_in(b, 0.5..2.0)))) {
        check2("div", a, b, |v| &v[0] / &v[1])?;
    }
    #[test]
    fn matmul((a, b) in (1usize..=4, 1usize..=4, 1usize..=4, 0usize..=2)
        .prop_flat_map(|(m, k, n, batch)| {
            let lead = vec![2; batch];
            (tensor([lead.clone(), vec![m, k]].concat()), tensor(vec![k, n]))
        })) {
        check2("matmul", a, b, |v| v[0].matmul(&v[1]))?;
    }
    #[test]
    fn mse((a, b) in same_shape_pair()) { check2("mse", a, b, |v| v[0].mse(&v[1]))?; }
    #[test]
    fn broadcast((x, target) in broadcast_pair(3, 3)
        .prop_filter_map("lhs broadcasts to the joint shape", |(a, b)| {
            let joint = tensor::broadcast_shapes("test", &a, &b).ok()?;
            Some((a, joint))
        })
        .prop_flat_map(|(a, joint)| (tensor(a), Just(joint)))) {
        autograd::gradcheck("broadcast_to", &[x], |v| v[0].broadcast_to(&target), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

fn check2(name: &str, a: Tensor, b: Tensor, f: impl Fn(&[Var]) -> Var) -> Result<(), TestCaseError> {
    autograd::gradcheck(name, &[a, b], f, &Default::default())
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

gradcheck_property!(neg, CASES, [any_tensor(small())], |v| v[0].neg());
gradcheck_property!(powf, CASES, [positive()], |v| v[0].powf(1.7));
gradcheck_property!(exp, CASES, [any_tensor(small())], |v| v[0].exp());
gradcheck_property!(log, CASES, [positive()], |v| v[0].log());
gradcheck_property!(sqrt, CASES, [positive()], |v| v[0].sqrt());
gradcheck_property!(abs, CASES, [away_from(small(), vec![0.0], 0.05)], |v| v[0].abs());
gradcheck_property!(relu, CASES, [away_from(small(), vec![0.0], 0.05)], |v| v[0].relu());
gradcheck_property!(leaky_relu, CASES, [away_from(small(), vec![0.0], 0.05)], |v| v[0].leaky_relu(0.2));
gradcheck_property!(tanh, CASES, [any_tensor(small())], |v| v[0].tanh());
gradcheck_property!(sigmoid, CASES, [any_tensor(small())], |v| v[0].sigmoid());
gradcheck_property!(clamp, CASES, [away_from(small(), vec![-0.4, 0.3], 0.05)], |v| v[0].clamp(-0.4, 0.3));
gradcheck_property!(scalar_affine, CASES, [any_tensor(small())], |v| (&v[0] * 2.5) - 0.75);

// ---- reductions and shapes -------------------------------------------------

gradcheck_property!(sum_axes, CASES, [any_tensor(shape(3..=3, 1..=4))], |v| v[0].sum(&[0, 2], false));
gradcheck_property!(sum_keepdim, CASES, [any_tensor(shape(2..=3, 1..=4))], |v| v[0].sum(&[1], true));
gradcheck_property!(mean_axes, CASES, [any_tensor(shape(3..=3, 1..=4))], |v| v[0].mean(&[1, 2], false));
gradcheck_property!(max_axes, CASES, [distinct(shape(3..=3, 1..=4), 0.05)], |v| v[0].max(&[0, 2], false));
gradcheck_property!(max_keepdim, CASES, [distinct(shape(2..=2, 1..=5), 0.05)], |v| v[0].max(&[1], true));
gradcheck_property!(reshape, CASES, [any_tensor(shape(2..=2, 2..=4))], |v| {
    let s = v[0].shape();
    v[0].reshape(&[s[1], s[0]])
});
gradcheck_property!(permute, CASES, [any_tensor(shape(3..=3, 1..=4))], |v| v[0].permute(&[2, 0, 1]).square());
// Weighted after flipping, so a rule that forgot to flip back is caught.
gradcheck_property!(flip, CASES, [any_tensor(shape(3..=3, 1..=4))], |v| {
    let weights = Var::constant(Tensor::randn(v[0].shape(), 0.0, 1.0, 3, v[0].dtype()));
    &v[0].flip(1).flip(2) * &weights
});
gradcheck_property!(narrow, CASES, [any_tensor(shape(2..=3, 3..=5))], |v| v[0].narrow(1, 1, 2));
gradcheck_property!(cat, CASES, [any_tensor(shape(2..=2, 1..=3)), any_tensor(shape(2..=2, 1..=3))], |v| {
    // Join along dim 0 after making the second operand's other dim agree.
    let b = v[1].narrow(1, 0, 1).broadcast_to(&[v[1].shape()[0], v[0].shape()[1]]);
    Var::cat(&[&v[0], &b], 0)
});

// ---- convolution, pooling, resampling, padding ----------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]
    #[test]
    fn conv2d((x, w, b, params) in conv_case().prop_flat_map(|c| {
        let o = c.weight[0];
        (tensor(c.input), tensor(c.weight), tensor(vec![o]), Just(c.params))
    })) {
        autograd::gradcheck("conv2d", &[x, w, b], |v| v[0].conv2d(&v[1], Some(&v[2]), params), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn conv2d_relu((x, w, b, params) in conv_case().prop_flat_map(|c| {
        let o = c.weight[0];
        (tensor(c.input), tensor(c.weight), tensor(vec![o]), Just(c.params))
    })) {
        // Pre-activations near zero would straddle the kink: skip such cases.
        let z = x.conv2d(&w, Some(&b), params);
        prop_assume!(z.abs().min(&(0..z.rank()).collect::<Vec<_>>(), false).to_scalar() > 1e-3);
        autograd::gradcheck("conv2d_relu", &[x, w, b], |v| v[0].try_conv2d_relu(&v[1], Some(&v[2]), params).unwrap(), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn conv2d_relu_max_pool2d_matches_the_three_ops((x, w, b, params, pool) in conv_case().prop_flat_map(|c| {
        let o = c.weight[0];
        let out = |len: usize, k: usize, s: usize, p: usize, d: usize| (len + 2 * p - d * (k - 1) - 1) / s + 1;
        let (oh, ow) = (
            out(c.input[2], c.weight[2], c.params.stride.0, c.params.padding.0, c.params.dilation.0),
            out(c.input[3], c.weight[3], c.params.stride.1, c.params.padding.1, c.params.dilation.1),
        );
        // Windows of 1–3 with strides 1–2 (overlapping ones included) that fit the conv's output.
        let pool = (1usize..=3, 1usize..=2, 0usize..=1).prop_filter_map("window fits", move |(k, s, p)| {
            let p = p.min(k / 2);
            (oh + 2 * p >= k && ow + 2 * p >= k).then_some(Pool2dParams { kernel: (k, k), stride: (s, s), padding: (p, p) })
        });
        (tensor(c.input), tensor(c.weight), tensor(vec![o]), Just(c.params), pool)
    })) {
        // Same value and equal gradients to x, w and b (a gated zero may
        // differ in sign): the fused rule gates by the pooled value, which
        // is each window's maximum.
        let (xv, wv, bv) = (Var::parameter(x), Var::parameter(w), Var::parameter(b));
        let seed_of = |y: &Var| Tensor::randn(y.shape(), 0.0, 1.0, 11, y.dtype());
        let fused = xv.try_conv2d_relu_max_pool2d(&wv, Some(&bv), params, pool).unwrap();
        let apart = xv.try_conv2d(&wv, Some(&bv), params).unwrap().relu().try_max_pool2d(pool).unwrap();
        prop_assert_eq!(fused.value().to_vec::<f64>(), apart.value().to_vec::<f64>());
        let (g_fused, g_apart) = (fused.backward_with(seed_of(&fused)), apart.backward_with(seed_of(&apart)));
        for v in [&xv, &wv, &bv] {
            prop_assert_eq!(g_fused.get(v).unwrap().to_vec::<f64>(), g_apart.get(v).unwrap().to_vec::<f64>());
        }
    }

    #[test]
    fn conv_transpose2d((x, w, b, params, extra) in conv_case().prop_flat_map(|c| {
        // Input [N, O, H, W] and weight [O, C, kh, kw]: the adjoint's shapes.
        let (o, ch) = (c.weight[0], c.weight[1]);
        let input = vec![c.input[0], o, c.input[2].min(4), c.input[3].min(4)];
        let extra = c.params.stride.0 - 1;
        (tensor(input), tensor(c.weight.clone()), tensor(vec![ch]), Just(Conv2dParams { padding: (0, 0), ..c.params }), 0..=extra)
    })) {
        autograd::gradcheck("conv_transpose2d", &[x, w, b], |v| {
            v[0].conv_transpose2d(&v[1], Some(&v[2]), params, (extra, extra))
        }, &Default::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn max_pool2d((x, params) in pool_case().prop_flat_map(|(s, p)| (distinct(Just(s), 0.05), Just(p)))) {
        autograd::gradcheck("max_pool2d", &[x], |v| v[0].max_pool2d(params), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn avg_pool2d((x, params, include) in pool_case().prop_flat_map(|(s, p)| (tensor(s), Just(p), any::<bool>()))) {
        autograd::gradcheck("avg_pool2d", &[x], |v| v[0].avg_pool2d(params, include), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn upsample((x, factor, bilinear) in (any_tensor(images()), 1usize..=3, any::<bool>())) {
        let mode = if bilinear { UpsampleMode::Bilinear } else { UpsampleMode::Nearest };
        autograd::gradcheck("upsample2d", &[x], |v| v[0].upsample2d(factor, mode), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn pad2d((x, amounts, mode) in (
        (1usize..=2, 1usize..=2, 3usize..=5, 3usize..=5).prop_flat_map(|(n, c, h, w)| tensor(vec![n, c, h, w])),
        prop::array::uniform4(0usize..=2),
        prop_oneof![Just(PadMode::Zero), Just(PadMode::Reflect), Just(PadMode::Replicate)],
    )) {
        let pad = Pad2d { top: amounts[0], bottom: amounts[1], left: amounts[2], right: amounts[3] };
        autograd::gradcheck("pad2d", &[x], |v| v[0].pad2d(pad, mode), &Default::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

// ---- normalisation and losses ----------------------------------------------------

gradcheck_property!(instance_norm, CASES, [any_tensor(images())], |v| v[0].instance_norm(1e-5));
gradcheck_property!(batch_norm_train, CASES, [any_tensor(images())], |v| v[0].try_batch_norm_train(1e-5).unwrap().0);
gradcheck_property!(batch_norm_eval, CASES, [any_tensor(images())], |v| {
    let c = v[0].shape()[1];
    let mean = Tensor::from_fn(&[c], tensor::DType::F64, |i| 0.1 * i as f64);
    let variance = Tensor::from_fn(&[c], tensor::DType::F64, |i| 0.5 + i as f64);
    v[0].try_batch_norm_eval(&mean, &variance, 1e-5).unwrap()
});
gradcheck_property!(gram, CASES, [any_tensor(images())], |v| v[0].gram());
gradcheck_property!(total_variation, CASES, [any_tensor(images())], |v| v[0].total_variation());
