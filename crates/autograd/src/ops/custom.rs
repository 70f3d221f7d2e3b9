//! User-defined ops: a [`CustomOp`] supplies its forward value and its
//! gradient rule, and joins the graph like a built-in op.

use std::sync::Arc;

use tensor::{Result, Tensor};

use crate::op::{CustomOp, Op};
use crate::Var;

/// Gradients of a custom op, checked against its inputs' shapes.
pub(crate) fn custom_backward(op: &dyn CustomOp, inputs: &[Var], y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
    let values: Vec<&Tensor> = inputs.iter().map(Var::value).collect();
    let grads = op.backward(&values, y, g);
    assert_eq!(
        grads.len(),
        inputs.len(),
        "{}: backward returned {} gradients for {} inputs",
        op.name(),
        grads.len(),
        inputs.len()
    );
    for (grad, input) in grads.iter().zip(inputs) {
        if let Some(grad) = grad {
            assert_eq!(
                grad.shape(),
                input.shape(),
                "{}: backward returned a gradient of shape {:?} for an input of shape {:?}",
                op.name(),
                grad.shape(),
                input.shape()
            );
        }
    }
    grads
}

impl Var {
    /// Applies a user-defined op to `inputs`.
    pub fn custom(op: Arc<dyn CustomOp>, inputs: &[&Var]) -> Result<Var> {
        let values: Vec<&Tensor> = inputs.iter().map(|v| v.value()).collect();
        let value = op.forward(&values)?;
        Ok(Var::from_op(value, Op::Custom(op, inputs.iter().map(|&v| v.clone()).collect())))
    }
}
