//! The table of kept Winograd kernels (one process-wide table, so this file
//! holds a single test and runs in its own process): a weight's transforms
//! are kept from its second forward pass on a small image, give the same
//! results as fresh ones, are given back when a larger image does not pay
//! for them, and go when the weight is dropped.

use tensor::{kept_kernel_bytes, Conv2dParams, DType, Tensor};

#[test]
fn kept_kernels_are_kept_while_they_pay_and_given_back() {
    let (inputs, outputs) = (16, 32);
    let weight = Tensor::randn(&[outputs, inputs, 3, 3], 0.0, 0.1, 1, DType::F32);
    let small = Tensor::randn(&[1, inputs, 16, 16], 0.0, 1.0, 2, DType::F32);
    let large = Tensor::randn(&[1, inputs, 64, 64], 0.0, 1.0, 3, DType::F32);
    let params = Conv2dParams::new(1, 1);
    let forward = |x: &Tensor| x.conv2d(&weight, None, params).to_vec::<f32>();
    let gradient = |g: &Tensor, x: &Tensor| {
        g.try_conv2d_backward_input(&weight, x.shape(), params).expect("shapes agree").to_vec::<f32>()
    };
    let small_grad = Tensor::randn(&[1, outputs, 16, 16], 0.0, 1.0, 4, DType::F32);

    // First sighting: nothing kept yet.
    let first = forward(&small);
    let first_gradient = gradient(&small_grad, &small);
    assert_eq!(kept_kernel_bytes(), 0);
    // Second: the forward transform is kept (36 positions × O × C values,
    // packed for the products: rows padded to whole panels); then the input
    // gradient's (36 × C × O).
    let packed = |rows, cols| 36 * kernels::gemm::PackedRows::<f32>::packed_len(rows, cols) * size_of::<f32>();
    let (forward_bytes, gradient_bytes) = (packed(outputs, inputs), packed(inputs, outputs));
    assert_eq!(forward(&small), first);
    assert_eq!(kept_kernel_bytes(), forward_bytes);
    assert_eq!(gradient(&small_grad, &small), first_gradient);
    let both_passes = forward_bytes + gradient_bytes;
    assert_eq!(kept_kernel_bytes(), both_passes);
    // Reused, not made again, and still exact.
    assert_eq!(forward(&small), first);
    assert_eq!(gradient(&small_grad, &small), first_gradient);
    assert_eq!(kept_kernel_bytes(), both_passes);

    // A view with another layout is another weight.
    let halves = weight.narrow(0, 0, outputs / 2);
    let half = small.conv2d(&halves, None, params).to_vec::<f32>();
    assert_eq!(&half[..], &first[..half.len()]);
    assert_eq!(kept_kernel_bytes(), both_passes);

    // 256 tiles do not pay: the weight's kernels are given back.
    let _ = forward(&large);
    assert_eq!(kept_kernel_bytes(), 0);

    // Kept again on small images, then gone with the weight.
    for _ in 0..2 {
        let _ = forward(&small);
    }
    assert_eq!(kept_kernel_bytes(), forward_bytes);
    drop((weight, halves));
    assert_eq!(kept_kernel_bytes(), 0);
}
