//! The reverse walk: order the graph so every node comes after its inputs,
//! then visit it backwards, handing each node's gradient to its op's rule and
//! accumulating what the rule returns into the inputs' gradients.

use std::collections::HashMap;
use std::sync::Arc;

use tensor::{BinaryOp, Tensor};

use crate::op::Op;
use crate::ops::{conv, custom, elementwise, linalg, loss, norm, reduce, shape};
use crate::var::{Node, VarId};
use crate::Var;

/// The gradients of the parameters a backward pass reached.
#[derive(Default)]
pub struct Gradients {
    by_id: HashMap<VarId, Tensor>,
}

impl Gradients {
    /// `∂L/∂var`, if `var` is a parameter the loss depends on.
    pub fn get(&self, var: &Var) -> Option<&Tensor> {
        self.by_id.get(&var.id())
    }

    /// Takes `∂L/∂var` out (no copy).
    pub fn remove(&mut self, var: &Var) -> Option<Tensor> {
        self.by_id.remove(&var.id())
    }

    /// Number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no parameter was reached.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Nodes that need a gradient, each after all of its inputs.
fn topological_order(root: &Arc<Node>) -> Vec<Arc<Node>> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // Iterative depth-first search: (node, inputs already pushed?).
    let mut stack = vec![(Arc::clone(root), false)];
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if !seen.insert(Arc::as_ptr(&node)) {
            continue;
        }
        stack.push((Arc::clone(&node), true));
        if let Some(op) = &node.op {
            for input in op.inputs() {
                if input.requires_grad() && !seen.contains(&Arc::as_ptr(&input.node)) {
                    stack.push((Arc::clone(&input.node), false));
                }
            }
        }
    }
    order
}

fn accumulate(slot: Option<Tensor>, grad: Tensor) -> Tensor {
    match slot {
        // Summed into the earlier gradient's buffer when nothing else holds it.
        Some(previous) => previous
            .try_binary_consuming(BinaryOp::Add, &grad)
            .expect("gradients of one node share its shape, dtype and device"),
        None => grad,
    }
}

/// Gradients of `op`'s inputs, given its output `y` and `g = ∂L/∂y`;
/// `needs[i]` says whether input `i` wants one. `g` is consumed: the ReLU
/// rules write their gate into its buffer when nothing else holds it.
fn input_gradients(op: &Op, y: &Tensor, g_owned: Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
    let one = |f: &dyn Fn() -> Tensor| vec![needs[0].then(f)];
    let g = &g_owned;
    match op {
        Op::Unary(u, x) => vec![needs[0].then(|| elementwise::unary_backward(*u, x.value(), y, g_owned))],
        Op::Binary(b, lhs, rhs) => elementwise::binary_backward(*b, lhs.value(), rhs.value(), g, needs),
        Op::Matmul(a, b) => linalg::matmul_backward(a.value(), b.value(), g, needs),
        Op::Reduce { kind, input, axes, keepdim } => {
            one(&|| reduce::reduce_backward(*kind, input.value(), y, g, axes, *keepdim))
        }
        // ∂L/∂x = Σ of ∂L/∂y over the broadcast axes
        Op::BroadcastTo(x) => one(&|| shape::sum_to(g, x.shape())),
        // A reshape moves no values: the gradient takes the input's shape back.
        Op::Reshape(x) => one(&|| g.reshape(x.shape())),
        Op::Permute(_, order) => one(&|| shape::permute_backward(g, order)),
        // A flip is its own inverse and moves values without changing them:
        // the gradient is flipped back.
        Op::Flip(_, dim) => one(&|| g.flip(*dim)),
        Op::Narrow { input, dim, start } => one(&|| shape::narrow_backward(g, input.shape(), *dim, *start)),
        Op::Cat(parts, dim) => shape::cat_backward(g, parts, *dim, needs),
        Op::Conv2d { input, weight, params, .. } => {
            conv::conv2d_backward(input.value(), weight.value(), g, *params, needs)
        }
        // y = relu(z), z = conv(x): ∂L/∂z = ∂L/∂y · [y > 0] (y > 0 exactly
        // where z > 0), then the convolution's rule with ∂L/∂z.
        Op::Conv2dRelu { input, weight, params, .. } => {
            let g = elementwise::relu_gate(g_owned, y);
            conv::conv2d_backward(input.value(), weight.value(), &g, *params, needs)
        }
        // y = maxpool(r), r = relu(z): ∂L/∂r is ∂L/∂y routed to each window's
        // maximum, and the gate [r > 0] at a window's maximum is [y > 0] (the
        // maximum is the value pooled), so gating before routing is exact.
        Op::Conv2dReluMaxPool { input, weight, params, indices, .. } => {
            let g = elementwise::relu_gate(g_owned, y);
            let g = g.try_max_pool2d_backward(indices).expect("indices recorded in forward");
            conv::conv2d_backward(input.value(), weight.value(), &g, *params, needs)
        }
        Op::ConvTranspose2d { input, weight, params, .. } => {
            conv::conv_transpose2d_backward(input.value(), weight.value(), g, *params, needs)
        }
        // Each output's gradient goes to the input position that won its window.
        Op::MaxPool2d { indices, .. } => {
            one(&|| g.try_max_pool2d_backward(indices).expect("indices recorded in forward"))
        }
        // Each output's gradient is shared equally by the inputs of its window.
        Op::AvgPool2d { input, params, count_include_pad } => one(&|| {
            g.try_avg_pool2d_backward(input.shape(), *params, *count_include_pad).expect("shapes checked in forward")
        }),
        // The adjoint of interpolation: each output's gradient goes back to its
        // taps with the interpolation weights.
        Op::Upsample2d { factor, mode, .. } => {
            one(&|| g.try_upsample2d_backward(*factor, *mode).expect("shapes checked in forward"))
        }
        // Border values were copies of inner ones: their gradients add onto the
        // source positions (reflection, replication), or vanish (zero padding).
        Op::Pad2d { pad, mode, .. } => one(&|| g.try_pad2d_backward(*pad, *mode).expect("shapes checked in forward")),
        Op::Normalize { axes, stats, .. } => one(&|| norm::normalize_backward(y, g, axes, stats)),
        Op::Mse(a, b) => loss::mse_backward(a.value(), b.value(), g, needs),
        Op::Gram { input, scale } => one(&|| linalg::gram_backward(input.value(), g, *scale)),
        Op::TotalVariation(x) => one(&|| loss::total_variation_backward(x.value(), g)),
        Op::Custom(custom_op, inputs) => custom::custom_backward(custom_op.as_ref(), inputs, y, g),
    }
}

impl Var {
    /// Back-propagates from this scalar (one-element) var: `∂self/∂p` for
    /// every parameter `p` it depends on.
    ///
    /// # Panics
    /// If the var holds more than one element (use [`Var::backward_with`]).
    pub fn backward(&self) -> Gradients {
        assert_eq!(
            self.numel(),
            1,
            "backward: needs a one-element loss, got shape {:?}; use backward_with for a seed gradient",
            self.shape()
        );
        self.backward_with(self.value().ones_like())
    }

    /// Back-propagates a seed gradient `∂L/∂self` of this var's shape.
    ///
    /// # Panics
    /// If `seed` has another shape.
    pub fn backward_with(&self, seed: Tensor) -> Gradients {
        assert_eq!(
            seed.shape(),
            self.shape(),
            "backward_with: seed shape {:?} vs var shape {:?}",
            seed.shape(),
            self.shape()
        );
        if !self.requires_grad() {
            return Gradients::default();
        }
        walk(topological_order(&self.node), seed)
    }

    /// [`Var::backward`], consuming the loss so that the graph can be freed
    /// as the walk goes: each node that nothing outside the graph still
    /// refers to (an intermediate activation, say) is dropped as soon as its
    /// gradient rule has run, instead of all of them at the end. The
    /// backward pass of a deep network then holds only the activations not
    /// yet visited, not the whole forward pass, at its widest layers.
    ///
    /// # Panics
    /// If the var holds more than one element.
    pub fn backward_and_free(self) -> Gradients {
        assert_eq!(self.numel(), 1, "backward_and_free: needs a one-element loss, got shape {:?}", self.shape());
        if !self.requires_grad() {
            return Gradients::default();
        }
        let seed = self.value().ones_like();
        let order = topological_order(&self.node);
        drop(self);
        walk(order, seed)
    }
}

/// The reverse walk over `order` (every node after its inputs, the loss
/// last) from `seed`, the loss's gradient. Each node's handle is dropped
/// once its rule has run: whatever nothing else holds is freed then.
fn walk(order: Vec<Arc<Node>>, seed: Tensor) -> Gradients {
    let mut result = Gradients::default();
    // Gradients of nodes still to be visited, keyed by node address (a
    // parameter's old and new values share an id but are distinct nodes).
    // Every key's node is alive: it is in `order`, not yet visited.
    let mut pending: HashMap<*const Node, Tensor> = HashMap::new();
    if let Some(root) = order.last() {
        pending.insert(Arc::as_ptr(root), seed);
    }
    for node in order.into_iter().rev() {
        let Some(g) = pending.remove(&Arc::as_ptr(&node)) else { continue };
        let Some(op) = &node.op else {
            let slot = result.by_id.remove(&node.id);
            result.by_id.insert(node.id, accumulate(slot, g));
            continue;
        };
        let inputs = op.inputs();
        let needs: Vec<bool> = inputs.iter().map(|v| v.requires_grad()).collect();
        let grads = input_gradients(op, &node.value, g, &needs);
        for ((input, grad), need) in inputs.into_iter().zip(grads).zip(needs) {
            let (Some(grad), true) = (grad, need) else { continue };
            debug_assert_eq!(grad.shape(), input.shape(), "{}: gradient shape", op.name());
            let key = Arc::as_ptr(&input.node);
            let slot = pending.remove(&key);
            pending.insert(key, accumulate(slot, grad));
        }
    }
    result
}
