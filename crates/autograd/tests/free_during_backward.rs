//! `Var::backward_and_free` frees the graph during the walk, not after it,
//! and computes what `Var::backward` does. Alone in its own test binary
//! because it reads the process-wide count of live graph nodes.

use std::sync::{Arc, Mutex};

use autograd::{live_nodes, CustomOp, Var};
use tensor::{DType, Tensor};

/// The identity, whose gradient rule notes how many graph nodes are alive
/// when it runs.
struct Probe(Mutex<Option<usize>>);

impl CustomOp for Probe {
    fn name(&self) -> &str {
        "probe"
    }

    fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
        Ok(inputs[0].clone())
    }

    // y = x: ∂L/∂x = ∂L/∂y.
    fn backward(&self, _inputs: &[&Tensor], _output: &Tensor, grad_output: &Tensor) -> Vec<Option<Tensor>> {
        *self.0.lock().unwrap() = Some(live_nodes());
        vec![Some(grad_output.clone())]
    }
}

/// `x → x² → probe → ten more ops → sum`: the gradient of x, and the live
/// nodes the probe saw.
fn run(free: bool) -> (Vec<f64>, usize) {
    let x = Var::parameter(Tensor::rand_uniform(&[2, 3], -1.0, 1.0, 4, DType::F64));
    let probe = Arc::new(Probe(Mutex::new(None)));
    let mut h = Var::custom(probe.clone(), &[&x.square()]).unwrap();
    for k in 0..10 {
        h = h.mul_scalar(0.9).add_scalar(k as f64 * 0.01).tanh();
    }
    let loss = h.sum_all();
    drop(h);
    let grads = if free { loss.backward_and_free() } else { loss.backward() };
    let seen = probe.0.lock().unwrap().expect("the probe's rule ran");
    (grads.get(&x).unwrap().to_f64_vec(), seen)
}

#[test]
fn the_graph_after_a_node_is_freed_before_the_node_rule_runs() {
    let (kept_grad, kept_live) = run(false);
    let (freed_grad, freed_live) = run(true);
    assert_eq!(kept_grad, freed_grad);
    // The 30 nodes after the probe (three per step, and the sum) are gone
    // by the time its rule runs.
    assert!(freed_live + 30 <= kept_live, "live nodes at the probe: {freed_live} freeing, {kept_live} not");
}
