//! The tensor API: views share storage and read the right elements, ops
//! broadcast and agree with element-by-element references on permuted and
//! narrowed views, dtype conversions round-trip, errors name the op and shapes.

use proptest::prelude::*;
use tensor::{Conv2dParams, DType, Pad2d, PadMode, Pool2dParams, Tensor, TensorError, UpsampleMode};

fn seq(shape: &[usize]) -> Tensor {
    Tensor::from_fn(shape, DType::F64, |i| i as f64 * 0.5 - 3.0)
}

#[test]
fn views_share_storage_and_index_correctly() {
    let a = seq(&[2, 3, 4]);
    let p = a.permute(&[2, 0, 1]);
    assert!(p.shares_storage_with(&a));
    assert!(!p.is_contiguous());
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert_eq!(p.get(&[3, 1, 2]), a.get(&[1, 2, 3]));
    let n = a.narrow(2, 1, 2);
    assert_eq!(n.get(&[1, 0, 1]), a.get(&[1, 0, 2]));
    let b = a.select(0, 1).unsqueeze(0).broadcast_to(&[5, 3, 4]);
    assert_eq!(b.get(&[4, 2, 3]), a.get(&[1, 2, 3]));
    assert_eq!(b.strides()[0], 0);
    let c = p.contiguous();
    assert!(c.is_contiguous());
    assert_eq!(c.get(&[3, 1, 2]), a.get(&[1, 2, 3]));
    // Reshape of a contiguous tensor is a view; of a permuted one, a copy.
    assert!(a.reshape(&[6, 4]).shares_storage_with(&a));
    assert!(!p.reshape(&[24]).shares_storage_with(&a));
    assert_eq!(p.reshape(&[24]).to_f64_vec(), c.to_f64_vec());
}

#[test]
fn arithmetic_broadcasts_and_operators_work() {
    let a = seq(&[2, 3]);
    let col = Tensor::from_vec(vec![10.0f64, 20.0], &[2, 1]);
    let s = &a + &col;
    assert_eq!(s.shape(), &[2, 3]);
    assert_eq!(s.get(&[1, 2]), a.get(&[1, 2]) + 20.0);
    let t = (&a * 2.0 - 1.0) / 4.0;
    assert!((t.get(&[0, 1]) - (a.get(&[0, 1]) * 2.0 - 1.0) / 4.0).abs() < 1e-15);
    assert_eq!((-&a).get(&[1, 1]), -a.get(&[1, 1]));
    assert_eq!(a.relu().min(&[0, 1], false).to_scalar(), 0.0);
    assert_eq!(a.sum_all().to_scalar(), a.to_f64_vec().iter().sum::<f64>());
    assert_eq!(a.mean(&[1], true).shape(), &[2, 1]);
    assert_eq!(a.max(&[0], false).to_f64_vec(), a.select(0, 1).to_f64_vec());
}

#[test]
fn matmul_matches_reference_on_batched_transposed_views() {
    let a = Tensor::randn(&[3, 5, 7], 0.0, 1.0, 1, DType::F64);
    let b = Tensor::randn(&[6, 7], 0.0, 1.0, 2, DType::F64).t(); // [7, 6] view
    let c = a.matmul(&b.unsqueeze(0)); // broadcast batch
    assert_eq!(c.shape(), &[3, 5, 6]);
    for i in 0..3 {
        for r in 0..5 {
            for col in 0..6 {
                let expected: f64 = (0..7).map(|k| a.get(&[i, r, k]) * b.get(&[k, col])).sum();
                assert!((c.get(&[i, r, col]) - expected).abs() < 1e-12);
            }
        }
    }
    let f32_product = a.to_dtype(DType::F32).matmul(&b.to_dtype(DType::F32).unsqueeze(0));
    let worst = f32_product.to_dtype(DType::F64).sub(&c).abs().max(&[0, 1, 2], false).to_scalar();
    assert!(worst < 1e-5, "f32 matmul off by {worst}");
}

#[test]
fn cat_stack_and_index_select() {
    let a = seq(&[2, 3]);
    let b = seq(&[2, 1]);
    let c = Tensor::cat(&[&a, &b], 1);
    assert_eq!(c.shape(), &[2, 4]);
    assert_eq!(c.get(&[1, 3]), b.get(&[1, 0]));
    assert_eq!(c.get(&[1, 2]), a.get(&[1, 2]));
    let s = Tensor::stack(&[&a, &a.mul_scalar(2.0)], 0);
    assert_eq!(s.shape(), &[2, 2, 3]);
    assert_eq!(s.get(&[1, 1, 1]), 2.0 * a.get(&[1, 1]));
    let picked = a.index_select(1, &[2, 0]);
    assert_eq!(picked.to_f64_vec(), vec![a.get(&[0, 2]), a.get(&[0, 0]), a.get(&[1, 2]), a.get(&[1, 0])]);
}

#[test]
fn dtype_round_trips() {
    let a = Tensor::randn(&[4, 5], 0.0, 3.0, 7, DType::F32);
    let back = a.to_dtype(DType::F16).to_dtype(DType::F32);
    let err = back.sub(&a).abs().max(&[0, 1], false).to_scalar();
    assert!(err < 3.0 * 12.0 / 1024.0, "f16 round trip error {err}");
    let bf = a.to_dtype(DType::BF16);
    assert_eq!(bf.to_dtype(DType::F64).to_dtype(DType::BF16).to_vec::<half::bf16>(), bf.to_vec::<half::bf16>());
    assert_eq!(a.to_dtype(DType::F64).to_dtype(DType::F32).to_vec::<f32>(), a.to_vec::<f32>());
    // A permuted f16 view is made contiguous correctly.
    let h = Tensor::from_fn(&[2, 3], DType::F16, |i| i as f64);
    assert_eq!(h.t().contiguous().to_f64_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
}

#[test]
fn random_creation_is_reproducible_and_has_the_right_moments() {
    let a = Tensor::randn(&[100_000], 1.0, 2.0, 42, DType::F64);
    assert_eq!(a.to_f64_vec(), Tensor::randn(&[100_000], 1.0, 2.0, 42, DType::F64).to_f64_vec());
    assert_ne!(a.to_f64_vec(), Tensor::randn(&[100_000], 1.0, 2.0, 43, DType::F64).to_f64_vec());
    let mean = a.mean_all().to_scalar();
    let var = a.add_scalar(-mean).square().mean_all().to_scalar();
    assert!((mean - 1.0).abs() < 0.03 && (var - 4.0).abs() < 0.1, "mean {mean}, var {var}");
    let u = Tensor::rand_uniform(&[10_000], -1.0, 1.0, 3, DType::F32);
    assert!(u.max(&[0], false).to_scalar() < 1.0 && u.min(&[0], false).to_scalar() >= -1.0);
}

#[test]
fn image_ops_have_the_expected_shapes() {
    let x = Tensor::randn(&[2, 3, 8, 10], 0.0, 1.0, 5, DType::F32);
    let w = Tensor::randn(&[4, 3, 3, 3], 0.0, 0.1, 6, DType::F32);
    let b = Tensor::zeros(&[4], DType::F32);
    let y = x.conv2d(&w, Some(&b), Conv2dParams::new(2, 1));
    assert_eq!(y.shape(), &[2, 4, 4, 5]);
    assert_eq!(y.conv2d_backward_input_shape_check(&w, x.shape()), x.shape());
    let (p, idx) = x.try_max_pool2d(Pool2dParams::new(2, 2)).unwrap();
    assert_eq!(p.shape(), &[2, 3, 4, 5]);
    assert_eq!(p.try_max_pool2d_backward(&idx).unwrap().shape(), x.shape());
    assert_eq!(x.avg_pool2d(Pool2dParams::new(2, 2), true).shape(), &[2, 3, 4, 5]);
    assert_eq!(x.upsample2d(2, UpsampleMode::Bilinear).shape(), &[2, 3, 16, 20]);
    assert_eq!(x.pad2d(Pad2d::uniform(2), PadMode::Reflect).shape(), &[2, 3, 12, 14]);
}

trait ShapeCheck {
    fn conv2d_backward_input_shape_check(&self, w: &Tensor, input_shape: &[usize]) -> Vec<usize>;
}

impl ShapeCheck for Tensor {
    fn conv2d_backward_input_shape_check(&self, w: &Tensor, input_shape: &[usize]) -> Vec<usize> {
        self.try_conv2d_backward_input(w, input_shape, Conv2dParams::new(2, 1)).unwrap().shape().to_vec()
    }
}

#[test]
fn errors_name_the_op_and_shapes() {
    let a = Tensor::zeros(&[2, 3], DType::F32);
    let b = Tensor::zeros(&[4, 5], DType::F32);
    let e = a.try_add(&b).unwrap_err();
    assert_eq!(e.to_string(), "add: shapes [2, 3] and [4, 5] cannot be broadcast together");
    let e = a.try_matmul(&b).unwrap_err();
    assert!(e.to_string().starts_with("matmul: shapes [2, 3] and [4, 5] do not agree"), "{e}");
    let e = a.to_dtype(DType::F16).try_unary(tensor::UnaryOp::Exp).unwrap_err();
    assert!(matches!(e, TensorError::UnsupportedDType { .. }), "{e}");
    assert!(e.to_string().contains("f16"));
    let e = Tensor::try_from_vec(vec![1.0f32; 5], &[2, 3]).unwrap_err();
    assert_eq!(e.to_string(), "from_vec: shape [2, 3] needs 6 elements, got 5");
    let x = Tensor::zeros(&[1, 3, 8, 8], DType::F32);
    let w = Tensor::zeros(&[4, 2, 3, 3], DType::F32);
    let e = x.try_conv2d(&w, None, Conv2dParams::default()).unwrap_err();
    assert!(e.to_string().contains("input has 3 channels, weight expects 2"), "{e}");
    let e = a.try_to_device(tensor::Device::Cuda(0)).unwrap_err();
    assert!(e.to_string().contains("cuda:0"), "{e}");
}

#[test]
#[should_panic(expected = "narrow: range 2..5 of dimension 1 exceeds its size 3")]
fn panicking_forms_carry_the_same_message() {
    Tensor::zeros(&[2, 3], DType::F32).narrow(1, 2, 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any chain of views reads the same elements as the same indexing on a
    /// contiguous copy, and binary ops on views match element-wise results.
    #[test]
    fn ops_on_views_match_elementwise(
        shape in prop::collection::vec(1usize..5, 2..4),
        seed in any::<u64>(),
        narrow_start in 0usize..2,
    ) {
        let a = Tensor::randn(&shape, 0.0, 1.0, seed, DType::F64);
        let rank = shape.len();
        let order: Vec<usize> = (0..rank).rev().collect();
        let view = a.permute(&order);
        let len = view.shape()[0].saturating_sub(narrow_start).max(1);
        let start = narrow_start.min(view.shape()[0] - len);
        let view = view.narrow(0, start, len);
        let dense = view.contiguous();
        prop_assert_eq!(view.to_f64_vec(), dense.to_f64_vec());
        let product = view.mul(&dense).add(&view.exp());
        let expected: Vec<f64> = dense.to_f64_vec().iter().map(|v| v * v + v.exp()).collect();
        for (g, e) in product.to_f64_vec().iter().zip(&expected) {
            prop_assert!((g - e).abs() < 1e-12);
        }
        let sums = view.sum(&[rank - 1], false).to_f64_vec();
        let inner = *view.shape().last().unwrap();
        let dense_values = dense.to_f64_vec();
        for (i, s) in sums.iter().enumerate() {
            let e: f64 = dense_values[i * inner..(i + 1) * inner].iter().sum();
            prop_assert!((s - e).abs() < 1e-12);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The optimisers' one-pass dot product and in-place axpy give what the
    /// two-op forms give, bit for bit (their runs are reproduced exactly):
    /// contiguous tensors of any length (vector bodies and scalar tails),
    /// views (which take the two-op path), and a buffer another tensor
    /// shares (which must be left as it was).
    #[test]
    fn dot_and_axpy_equal_their_two_op_forms(
        len in 1usize..300,
        seed in any::<u64>(),
        scale in -3.0f64..3.0,
        f64_dtype in any::<bool>(),
    ) {
        let dtype = if f64_dtype { DType::F64 } else { DType::F32 };
        let (a, b) = (Tensor::randn(&[len], 0.0, 1.0, seed, dtype), Tensor::randn(&[len], 0.0, 1.0, seed ^ 1, dtype));
        prop_assert_eq!(a.try_dot(&b).unwrap().to_bits(), a.mul(&b).sum_all().to_scalar().to_bits());
        let expected = a.add(&b.mul_scalar(scale)).to_f64_vec();
        let fresh = Tensor::from_vec(a.to_f64_vec(), &[len]).to_dtype(dtype);
        prop_assert_eq!(fresh.try_add_scaled_consuming(&b, scale).unwrap().to_f64_vec(), expected.clone());
        let kept = a.clone();
        prop_assert_eq!(a.clone().try_add_scaled_consuming(&b, scale).unwrap().to_f64_vec(), expected);
        prop_assert_eq!(kept.to_f64_vec(), a.to_f64_vec());
        // A transposed view: the general path.
        let m = Tensor::randn(&[3, len], 0.0, 1.0, seed ^ 2, dtype);
        let (t, u) = (m.permute(&[1, 0]), Tensor::randn(&[len, 3], 0.0, 1.0, seed ^ 3, dtype));
        prop_assert_eq!(t.try_dot(&u).unwrap().to_bits(), t.mul(&u).sum_all().to_scalar().to_bits());
    }
}

/// `flip` reverses one axis of any layout (storage-only dtypes are refused
/// by name), and a quarter turn of an image (transpose, then mirror) is
/// undone by mirror, then transpose.
#[test]
fn flip_reverses_one_axis_and_undoes_a_quarter_turn() {
    let t = seq(&[2, 3, 4]);
    let flipped = t.flip(1).to_f64_vec();
    for (i, j, k) in (0..2).flat_map(|i| (0..3).flat_map(move |j| (0..4).map(move |k| (i, j, k)))) {
        assert_eq!(flipped[i * 12 + j * 4 + k], t.to_f64_vec()[i * 12 + (2 - j) * 4 + k]);
    }
    assert_eq!(t.flip(2).flip(2).to_f64_vec(), t.to_f64_vec());
    assert_eq!(t.permute(&[2, 0, 1]).flip(0).to_f64_vec(), t.flip(2).permute(&[2, 0, 1]).to_f64_vec());
    let error = t.to_dtype(DType::F16).try_flip(1).unwrap_err().to_string();
    assert!(error.contains("flip") && error.contains("f16"), "{error}");
    let image = Tensor::randn(&[1, 3, 5, 7], 0.0, 1.0, 4, DType::F32);
    let turned = image.permute(&[0, 1, 3, 2]).flip(3);
    assert_eq!(turned.shape(), [1, 3, 7, 5]);
    assert_eq!(turned.flip(3).permute(&[0, 1, 3, 2]).to_vec::<f32>(), image.to_vec::<f32>());
    assert!(t.try_flip(3).unwrap_err().to_string().contains("flip"));
}

/// Long enough that the axpy runs in parallel chunks (a 512² RGB image).
#[test]
fn dot_and_axpy_of_an_image_equal_their_two_op_forms() {
    let shape = [1, 3, 512, 512];
    let (a, b) = (Tensor::randn(&shape, 0.0, 1.0, 5, DType::F32), Tensor::randn(&shape, 0.0, 1.0, 6, DType::F32));
    assert_eq!(a.try_dot(&b).unwrap().to_bits(), a.mul(&b).sum_all().to_scalar().to_bits());
    let expected = a.add(&b.mul_scalar(-0.37)).to_vec::<f32>();
    let fresh = Tensor::from_vec(a.to_vec::<f32>(), &shape);
    assert_eq!(fresh.try_add_scaled_consuming(&b, -0.37).unwrap().to_vec::<f32>(), expected);
}

#[test]
fn dot_of_two_shapes_is_an_error_naming_both() {
    let message =
        Tensor::zeros(&[2, 3], DType::F32).try_dot(&Tensor::zeros(&[3, 2], DType::F32)).unwrap_err().to_string();
    assert!(message.contains("dot") && message.contains("[2, 3]") && message.contains("[3, 2]"), "{message}");
}

/// Storage-only dtypes (f16, bf16) reach no kernel: every op that computes
/// refuses them with an error naming the op as the user called it.
#[test]
fn storage_dtypes_are_refused_by_every_computing_op() {
    for dtype in [DType::F16, DType::BF16] {
        let x = Tensor::rand_uniform(&[1, 2, 6, 6], 0.0, 1.0, 1, DType::F32).to_dtype(dtype);
        let w = Tensor::rand_uniform(&[3, 2, 3, 3], 0.0, 1.0, 2, DType::F32).to_dtype(dtype);
        let m = Tensor::rand_uniform(&[4, 4], 0.0, 1.0, 3, DType::F32).to_dtype(dtype);
        let g = Tensor::rand_uniform(&[1, 3, 4, 4], 0.0, 1.0, 4, DType::F32).to_dtype(dtype);
        let pool = Pool2dParams::new(2, 2);
        let pad = Pad2d { top: 1, bottom: 1, left: 1, right: 1 };
        let cases: Vec<(&str, Result<Tensor, TensorError>)> = vec![
            ("add", m.try_add(&m)),
            ("sum", m.try_reduce(tensor::ReduceOp::Sum, &[0], false)),
            ("matmul", m.try_matmul(&m)),
            ("cat", Tensor::try_cat(&[&m, &m], 0)),
            ("conv2d", x.try_conv2d(&w, None, Conv2dParams::default())),
            ("conv2d_backward_input", g.try_conv2d_backward_input(&w, x.shape(), Conv2dParams::default())),
            ("conv2d_backward_weight", x.try_conv2d_backward_weight(&g, w.shape(), Conv2dParams::default())),
            ("max_pool2d", x.try_max_pool2d(pool).map(|(t, _)| t)),
            ("avg_pool2d", x.try_avg_pool2d(pool, true)),
            ("upsample2d", x.try_upsample2d(2, UpsampleMode::Nearest)),
            ("pad2d", x.try_pad2d(pad, PadMode::Reflect)),
        ];
        for (op, result) in cases {
            let e = result.unwrap_err();
            assert!(matches!(e, TensorError::UnsupportedDType { .. }), "{op}: {e}");
            assert!(e.to_string().starts_with(&format!("{op}:")), "{op}: {e}");
        }
        assert_eq!(
            m.t().contiguous().to_dtype(DType::F32).to_vec::<f32>(),
            m.to_dtype(DType::F32).t().contiguous().to_vec::<f32>()
        );
    }
}
