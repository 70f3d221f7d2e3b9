//! The graph's memory across an optimisation loop. Alone in its own test
//! binary because it reads the process-wide count of live graph nodes.

use autograd::{live_nodes, Var};
use tensor::{Conv2dParams, DType, Tensor};

/// An optimisation loop frees each iteration's graph: the number of live
/// nodes is the same after 10 and after 1,000 steps.
#[test]
fn thousand_steps_hold_constant_graph_memory() {
    let weight = Var::constant(Tensor::randn(&[4, 3, 3, 3], 0.0, 0.3, 9, DType::F32));
    let target = Var::constant(Tensor::rand_uniform(&[1, 4, 4], 0.0, 0.1, 10, DType::F32));
    let mut image = Var::parameter(Tensor::rand_uniform(&[1, 3, 16, 16], 0.0, 1.0, 11, DType::F32));
    let mut live_after = Vec::new();
    for step in 1..=1000 {
        let features = image.conv2d(&weight, None, Conv2dParams::new(1, 1)).relu();
        let loss = features.gram().mse(&target) + image.total_variation().mul_scalar(0.1);
        let grad = loss.backward().remove(&image).unwrap();
        image.set_value(image.value() - &grad.mul_scalar(0.1));
        if step == 10 || step == 1000 {
            live_after.push(live_nodes());
        }
    }
    assert_eq!(live_after[0], live_after[1], "graph nodes leaked between step 10 and step 1000");
}
