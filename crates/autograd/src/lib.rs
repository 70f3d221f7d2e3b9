//! Reverse-mode automatic differentiation for fresco's tensors, and a
//! finite-difference gradient checker to prove each rule.
//!
//! A [`Var`] is a tensor that remembers how it was made. Parameters want
//! gradients; constants do not; [`Var::detach`] cuts a value loose. Calling
//! [`Var::backward`] on a scalar walks the graph in reverse and returns the
//! [`Gradients`] of every parameter it reached:
//!
//! ```
//! use autograd::Var;
//! use tensor::{DType, Tensor};
//!
//! let w = Var::parameter(Tensor::from_vec(vec![1.0f64, -2.0, 3.0], &[3]));
//! let x = Var::constant(Tensor::from_vec(vec![0.5f64, 0.25, 2.0], &[3]));
//! let loss = (&w * &x).relu().sum_all(); // relu(w·x) summed = 0.5 + 0 + 6
//! assert_eq!(loss.to_scalar(), 6.5);
//! let grads = loss.backward();
//! // ∂loss/∂w = x where w·x > 0, else 0
//! assert_eq!(grads.get(&w).unwrap().to_vec::<f64>(), vec![0.5, 0.0, 2.0]);
//! ```
//!
//! Gradient rules are written in tensor ops (so they run wherever tensors
//! do), except convolution, pooling, upsampling and padding, whose backward
//! passes are dedicated kernels. Every rule carries a one-line derivation.
//!
//! # Adding an op and proving its gradient
//!
//! An op of your own implements [`CustomOp`]: a forward value and a backward
//! rule. [`gradcheck`] then compares the rule with central finite
//! differences of a randomly weighted sum of the outputs. Here is softplus,
//! `y = ln(1 + eˣ)`, whose derivative is the logistic sigmoid:
//!
//! ```
//! use std::sync::Arc;
//! use autograd::{gradcheck, CustomOp, GradcheckOptions, Var};
//! use tensor::Tensor;
//!
//! struct Softplus;
//!
//! impl CustomOp for Softplus {
//!     fn name(&self) -> &str {
//!         "softplus"
//!     }
//!     fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
//!         Ok(inputs[0].exp().add_scalar(1.0).log())
//!     }
//!     fn backward(&self, inputs: &[&Tensor], _output: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>> {
//!         // d ln(1 + eˣ)/dx = eˣ/(1 + eˣ) = σ(x)
//!         vec![Some(grad * &inputs[0].sigmoid())]
//!     }
//! }
//!
//! let softplus = |v: &[Var]| Var::custom(Arc::new(Softplus), &[&v[0]]).unwrap();
//! let x = Tensor::from_vec(vec![-1.5f64, -0.2, 0.0, 0.7, 2.5, 4.0], &[2, 3]);
//! gradcheck("softplus", &[x.clone()], softplus, &GradcheckOptions::default()).unwrap();
//!
//! // A wrong rule is caught, with the element and both values:
//! struct WrongSoftplus;
//! impl CustomOp for WrongSoftplus {
//!     fn name(&self) -> &str {
//!         "wrong_softplus"
//!     }
//!     fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
//!         Softplus.forward(inputs)
//!     }
//!     fn backward(&self, inputs: &[&Tensor], _: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>> {
//!         vec![Some(grad * &inputs[0].exp())] // forgot to divide by 1 + eˣ
//!     }
//! }
//! let wrong = |v: &[Var]| Var::custom(Arc::new(WrongSoftplus), &[&v[0]]).unwrap();
//! let error = gradcheck("wrong_softplus", &[x], wrong, &GradcheckOptions::default()).unwrap_err();
//! assert!(error.to_string().starts_with("gradcheck wrong_softplus: input 0"));
//! ```
//!
//! To make it a property test over random inputs, one line in a test file
//! does it (this crate's `tests/gradients.rs` checks every built-in op this
//! way; [`strategies`] has inputs kept away from kinks and ties):
//!
//! ```ignore
//! use autograd::strategies::{any_tensor, shape};
//! autograd::gradcheck_property!(softplus, 64, [any_tensor(shape(1..=3, 1..=4))], |v| {
//!     Var::custom(Arc::new(Softplus), &[&v[0]]).unwrap()
//! });
//! ```

mod backward;
mod gradcheck;
mod op;
mod ops;
pub mod strategies;
mod var;

pub use backward::Gradients;
pub use gradcheck::{gradcheck, GradcheckError, GradcheckOptions, GradcheckReport};
pub use op::CustomOp;
pub use ops::norm::NormalizationStats;
pub use var::{live_nodes, no_grad, Var, VarId};

#[doc(hidden)]
pub use proptest as __proptest;

/// Declares a `proptest` test that gradient-checks `f` on inputs drawn from
/// the listed strategies (one per input), with `cases` cases:
/// `gradcheck_property!(name, cases, [strategy, ...], |v| expression)`.
/// An optional `options = GradcheckOptions { .. }` after the closure sets
/// tolerances.
#[macro_export]
macro_rules! gradcheck_property {
    ($name:ident, $cases:expr, [$($strategy:expr),+ $(,)?], |$v:ident| $body:expr $(, options = $options:expr)?) => {
        $crate::__proptest::proptest! {
            #![proptest_config($crate::__proptest::test_runner::Config::with_cases($cases))]
            #[test]
            fn $name(inputs in ($($strategy,)+)) {
                let inputs: Vec<tensor::Tensor> = $crate::__tuple_to_vec!(inputs; $($strategy),+);
                #[allow(unused_mut, unused_assignments)]
                let mut options = $crate::GradcheckOptions::default();
                $(options = $options;)?
                let result = $crate::gradcheck(stringify!($name), &inputs, |$v: &[$crate::Var]| $body, &options);
                if let Err(error) = result {
                    return Err($crate::__proptest::test_runner::TestCaseError::fail(error.to_string()));
                }
            }
        }
    };
}

/// Turns the tuple of drawn inputs into a `Vec<Tensor>` (internal helper).
#[doc(hidden)]
#[macro_export]
macro_rules! __tuple_to_vec {
    ($t:ident; $a:expr) => {
        vec![$t.0]
    };
    ($t:ident; $a:expr, $b:expr) => {
        vec![$t.0, $t.1]
    };
    ($t:ident; $a:expr, $b:expr, $c:expr) => {
        vec![$t.0, $t.1, $t.2]
    };
    ($t:ident; $a:expr, $b:expr, $c:expr, $d:expr) => {
        vec![$t.0, $t.1, $t.2, $t.3]
    };
}
