//! Gradients through a chain of ops, and the graph's memory behaviour.

use autograd::{gradcheck, no_grad, GradcheckOptions, Var};
use tensor::{Conv2dParams, DType, Pool2dParams, Tensor};

/// A VGG-shaped block — conv → relu → max-pool → conv → Gram → MSE against
/// a target Gram — differentiated to its input, as a style loss is.
#[test]
fn vgg_shaped_block_gradient_to_the_input() {
    let w1 = Var::constant(Tensor::randn(&[4, 3, 3, 3], 0.0, 0.4, 1, DType::F64));
    let b1 = Var::constant(Tensor::randn(&[4], 0.0, 0.1, 2, DType::F64));
    let w2 = Var::constant(Tensor::randn(&[5, 4, 3, 3], 0.0, 0.3, 3, DType::F64));
    let target = Var::constant(Tensor::rand_uniform(&[1, 5, 5], 0.0, 0.2, 4, DType::F64));
    let block = |v: &[Var]| {
        let h = v[0].conv2d(&w1, Some(&b1), Conv2dParams::new(1, 1)).relu();
        let h = h.max_pool2d(Pool2dParams::new(2, 2));
        let h = h.conv2d(&w2, None, Conv2dParams::new(1, 1));
        h.gram().mse(&target)
    };
    let image = Tensor::rand_uniform(&[1, 3, 8, 8], -1.0, 1.0, 5, DType::F64);
    let options = GradcheckOptions { atol: 1e-8, rtol: 1e-5, ..Default::default() };
    let report = gradcheck("vgg_block", &[image], block, &options).unwrap();
    assert_eq!(report.elements, 3 * 8 * 8);
}

/// The same block with conv → relu → max-pool as one fused op (what VGG
/// runs when the ReLU's output is not asked for), against finite differences.
#[test]
fn fused_conv_relu_max_pool_block_gradient_to_the_input() {
    let w1 = Var::constant(Tensor::randn(&[4, 3, 3, 3], 0.0, 0.4, 1, DType::F64));
    let b1 = Var::constant(Tensor::randn(&[4], 0.0, 0.1, 2, DType::F64));
    let w2 = Var::constant(Tensor::randn(&[5, 4, 3, 3], 0.0, 0.3, 3, DType::F64));
    let target = Var::constant(Tensor::rand_uniform(&[1, 5, 5], 0.0, 0.2, 4, DType::F64));
    let block = |v: &[Var]| {
        let h =
            v[0].try_conv2d_relu_max_pool2d(&w1, Some(&b1), Conv2dParams::new(1, 1), Pool2dParams::new(2, 2)).unwrap();
        h.conv2d(&w2, None, Conv2dParams::new(1, 1)).gram().mse(&target)
    };
    let image = Tensor::rand_uniform(&[1, 3, 8, 8], -1.0, 1.0, 5, DType::F64);
    let options = GradcheckOptions { atol: 1e-8, rtol: 1e-5, ..Default::default() };
    let report = gradcheck("fused_vgg_block", &[image], block, &options).unwrap();
    assert_eq!(report.elements, 3 * 8 * 8);
}

/// `detach` stops the flow: the GAN trains the discriminator on a detached
/// fake, so no gradient reaches the generator.
#[test]
fn detach_stops_gradients() {
    let g = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let fake = g.mul_scalar(3.0);
    let through = fake.square().sum_all().backward();
    let cut = fake.detach().square().sum_all().backward();
    assert_eq!(through.get(&g).unwrap().to_vec::<f64>(), vec![18.0, 36.0]);
    assert!(cut.get(&g).is_none());
}

/// A var used twice receives the sum of both paths' gradients.
#[test]
fn shared_inputs_accumulate() {
    let x = Var::parameter(Tensor::from_vec(vec![3.0f64], &[1]));
    let y = (&x * &x + &x).sum_all(); // x² + x, dy/dx = 2x + 1 = 7
    assert_eq!(y.backward().get(&x).unwrap().to_vec::<f64>(), vec![7.0]);
}

/// The backward pass writes gates and sums into gradients it alone holds;
/// one gradient handed to several paths (an add's fan-out into a ReLU and a
/// leaf, the same var twice, conv+ReLU after a fan-out) and a seed the
/// caller keeps must come out as if every step made a new buffer.
#[test]
fn gradients_shared_between_paths_are_not_written_in_place() {
    let w = Var::constant(Tensor::randn(&[3, 2, 3, 3], 0.0, 0.5, 6, DType::F64));
    let net = |v: &[Var]| {
        let h = &v[0].relu() + &v[0];
        let c = h.try_conv2d_relu(&w, None, Conv2dParams::new(1, 1)).unwrap();
        (&(&c + &c) * &c).sum_all() + (&h * &h).sum_all()
    };
    let x = Tensor::rand_uniform(&[1, 2, 5, 5], -1.0, 1.0, 7, DType::F64);
    let options = GradcheckOptions { atol: 1e-8, rtol: 1e-5, ..Default::default() };
    gradcheck("fan_out_relu", &[x], net, &options).unwrap();

    // A seed the caller keeps is left as it was.
    let p = Var::parameter(Tensor::from_vec(vec![-1.0f64, 2.0, 3.0], &[3]));
    let y = &p.relu() + &p;
    let seed = Tensor::from_vec(vec![1.0f64, 1.0, 1.0], &[3]);
    let grads = y.backward_with(seed.clone());
    assert_eq!(grads.get(&p).unwrap().to_vec::<f64>(), vec![1.0, 2.0, 2.0]);
    assert_eq!(seed.to_vec::<f64>(), vec![1.0, 1.0, 1.0]);
}

/// Constants build no graph; parameters keep their id across updates.
#[test]
fn constants_record_nothing_and_updates_keep_ids() {
    let c = Var::constant(Tensor::ones(&[2, 2], DType::F32));
    let y = c.exp().sum_all();
    assert!(y.is_leaf() && !y.requires_grad());
    let mut p = Var::parameter(Tensor::ones(&[2], DType::F32));
    let id = p.id();
    p.set_value(Tensor::zeros(&[2], DType::F32));
    assert_eq!(p.id(), id);
    let grads = p.add_scalar(1.0).square().sum_all().backward();
    assert_eq!(grads.get(&p).unwrap().to_vec::<f32>(), vec![2.0, 2.0]);
}

/// Inside `no_grad` nothing is recorded, even on parameters.
#[test]
fn no_grad_records_nothing() {
    let p = Var::parameter(Tensor::ones(&[3], DType::F32));
    let y = no_grad(|| p.exp().sum_all());
    assert!(y.is_leaf() && !y.requires_grad());
    assert!(p.exp().sum_all().requires_grad(), "recording resumes after no_grad");
}
