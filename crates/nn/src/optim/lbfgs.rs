//! L-BFGS: a quasi-Newton method that keeps the last `m` steps and gradient
//! changes and applies the inverse-Hessian approximation they define with the
//! two-loop recursion. Stopping rules and defaults follow
//! `torch.optim.LBFGS`, so settings carry over: one [`Lbfgs::step`] runs up
//! to `max_iter` iterations and `max_eval` loss evaluations, and stops early
//! when the gradient, the step or the loss change falls under a tolerance.

use std::collections::VecDeque;

use autograd::Gradients;
use tensor::Tensor;

use super::gradient_of;
use super::line_search::{dot, strong_wolfe, MaxAbs, Probe};
use crate::error::NnError;
use crate::params::Param;

/// L-BFGS settings (torch.optim.LBFGS's names and defaults).
#[derive(Clone, Copy, Debug)]
pub struct LbfgsConfig {
    /// Step length multiplier.
    pub lr: f64,
    /// Iterations per [`Lbfgs::step`].
    pub max_iter: usize,
    /// Loss evaluations per step (default `max_iter · 5/4`).
    pub max_eval: usize,
    /// Stop when `max |∇f|` falls to this.
    pub tolerance_grad: f64,
    /// Stop when a step or the loss change falls under this.
    pub tolerance_change: f64,
    /// Pairs `(s, y)` kept.
    pub history_size: usize,
    /// Strong-Wolfe line search (else fixed steps of `lr`).
    pub line_search: bool,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: 25,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search: false,
        }
    }
}

impl LbfgsConfig {
    /// With `max_iter` iterations per step and torch's `max_eval` for it.
    pub fn iterations(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self.max_eval = max_iter * 5 / 4;
        self
    }
}

/// Why a step ended, and what it cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsOutcome {
    /// The loss at the start of the step (what torch returns).
    pub initial_loss: f64,
    /// The loss after the last evaluation.
    pub final_loss: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Loss evaluations used.
    pub evaluations: usize,
}

/// L-BFGS state, kept across steps like torch's.
pub struct Lbfgs {
    /// Settings.
    pub config: LbfgsConfig,
    direction: Option<Tensor>,
    step_length: f64,
    steps: VecDeque<Tensor>,
    gradient_changes: VecDeque<Tensor>,
    inverse_curvatures: VecDeque<f64>,
    hessian_scale: f64,
    previous_gradient: Option<Tensor>,
    iterations: usize,
    evaluations: usize,
    preconditioner: Option<Preconditioner>,
}

/// `v ↦ M·v` for L-BFGS's starting inverse Hessian `γ·M`
/// (see [`Lbfgs::with_preconditioner`]).
type Preconditioner = Box<dyn Fn(&Tensor) -> Tensor>;

/// The trainable parameters as one flat vector, and back.
fn flatten(params: &[Param]) -> Tensor {
    let parts: Vec<Tensor> = params.iter().map(|p| p.value().flatten()).collect();
    Tensor::cat(&parts.iter().collect::<Vec<_>>(), 0)
}

fn unflatten(params: &[Param], flat: &Tensor) {
    let mut start = 0;
    for p in params {
        let shape = p.shape();
        let n: usize = shape.iter().product();
        p.set(flat.narrow(0, start, n).reshape(&shape).contiguous());
        start += n;
    }
}

fn flat_gradient(params: &[Param], grads: &Gradients) -> Tensor {
    let parts: Vec<Tensor> = params.iter().map(|p| gradient_of(p, grads, 0.0).flatten()).collect();
    Tensor::cat(&parts.iter().collect::<Vec<_>>(), 0)
}

impl Lbfgs {
    /// A fresh optimiser.
    pub fn new(config: LbfgsConfig) -> Lbfgs {
        Lbfgs {
            config,
            direction: None,
            step_length: config.lr,
            steps: VecDeque::new(),
            gradient_changes: VecDeque::new(),
            inverse_curvatures: VecDeque::new(),
            hessian_scale: 1.0,
            previous_gradient: None,
            iterations: 0,
            evaluations: 0,
            preconditioner: None,
        }
    }

    /// With `H₀ = γ·M` instead of `γ·I` as the starting inverse Hessian
    /// (Nocedal & Wright, *Numerical Optimization*, 2nd ed., §7.2):
    /// `apply` computes `M·v` for a vector `v` of all trainable parameters,
    /// flattened and concatenated in order, and must be a symmetric positive definite linear map, so every
    /// direction stays one of descent. `γ = sᵀy / yᵀMy`, the scaling of
    /// eq. (7.20) in `M`'s inner product; the first step goes along `−M·g`.
    pub fn with_preconditioner(mut self, apply: impl Fn(&Tensor) -> Tensor + 'static) -> Lbfgs {
        self.preconditioner = Some(Box::new(apply));
        self
    }

    fn precondition(&self, v: &Tensor) -> Tensor {
        match &self.preconditioner {
            Some(apply) => apply(v),
            None => v.clone(),
        }
    }

    /// Loss evaluations over all steps so far.
    pub fn total_evaluations(&self) -> usize {
        self.evaluations
    }

    /// Iterations over all steps so far.
    pub fn total_iterations(&self) -> usize {
        self.iterations
    }

    /// `H·(−g)` by the two-loop recursion over the stored pairs.
    fn descent_direction(&self, gradient: &Tensor) -> Tensor {
        let mut q = gradient.neg();
        let mut alphas = vec![0.0; self.steps.len()];
        for i in (0..self.steps.len()).rev() {
            alphas[i] = dot(&self.steps[i], &q) * self.inverse_curvatures[i];
            q = q - self.gradient_changes[i].mul_scalar(alphas[i]);
        }
        let mut r = self.precondition(&q).mul_scalar(self.hessian_scale);
        let pairs = self.steps.iter().zip(&self.gradient_changes).zip(&self.inverse_curvatures).zip(&alphas);
        for (((s, y), &rho), &alpha) in pairs {
            let beta = dot(y, &r) * rho;
            r = r + s.mul_scalar(alpha - beta);
        }
        r
    }

    /// Runs up to `max_iter` iterations. `closure` evaluates the loss at the
    /// parameters' current values and returns it with its gradients; its
    /// errors (any type that an [`NnError`] converts into) end the step.
    pub fn step<E: From<NnError>>(
        &mut self,
        params: &[Param],
        closure: impl FnMut() -> std::result::Result<(f64, Gradients), E>,
    ) -> std::result::Result<LbfgsOutcome, E> {
        self.step_while(params, closure, |_| true)
    }

    /// [`Lbfgs::step`], also ending after any iteration at whose loss
    /// `keep_going` says `false` (a caller's own stopping rule, such as too
    /// little progress over the last evaluations).
    pub fn step_while<E: From<NnError>>(
        &mut self,
        params: &[Param],
        mut closure: impl FnMut() -> std::result::Result<(f64, Gradients), E>,
        mut keep_going: impl FnMut(f64) -> bool,
    ) -> std::result::Result<LbfgsOutcome, E> {
        let params: Vec<Param> = params.iter().filter(|p| p.trainable()).cloned().collect();
        let config = self.config;
        let iteration_base = self.iterations;
        let mut evaluate = |evaluations: &mut usize| -> std::result::Result<(f64, Tensor), E> {
            let (loss, grads) = closure()?;
            *evaluations += 1;
            if !loss.is_finite() {
                let error =
                    NnError::NotFinite { optimizer: "lbfgs", what: "loss", value: loss, iteration: iteration_base };
                return Err(error.into());
            }
            Ok((loss, flat_gradient(&params, &grads)))
        };
        let mut evaluations = 0;
        let (mut loss, mut gradient) = evaluate(&mut evaluations)?;
        let initial_loss = loss;
        let mut iterations = 0;
        let mut converged = gradient.abs().max_all_f64() <= config.tolerance_grad;
        // A line search spends what is left of the evaluations, so none may
        // start once they are spent.
        while !converged && iterations < config.max_iter && !(config.line_search && evaluations >= config.max_eval) {
            iterations += 1;
            self.iterations += 1;
            let direction = match (&self.previous_gradient, &self.direction) {
                (Some(previous), Some(d)) => {
                    let y = &gradient - previous;
                    let s = d.mul_scalar(self.step_length);
                    let ys = dot(&y, &s);
                    // Keep the pair only with positive curvature (else H
                    // would stop being positive definite).
                    if ys > 1e-10 {
                        if self.steps.len() == config.history_size {
                            self.steps.pop_front();
                            self.gradient_changes.pop_front();
                            self.inverse_curvatures.pop_front();
                        }
                        self.hessian_scale = ys / dot(&y, &self.precondition(&y));
                        self.steps.push_back(s);
                        self.gradient_changes.push_back(y);
                        self.inverse_curvatures.push_back(1.0 / ys);
                    }
                    self.descent_direction(&gradient)
                }
                _ => self.precondition(&gradient).neg(),
            };
            self.previous_gradient = Some(gradient.clone());
            let previous_loss = loss;
            // The first step is scaled so it moves at most `lr` in total.
            let t = if self.iterations == 1 {
                (1.0f64).min(1.0 / direction.abs().sum_all().to_scalar()) * config.lr
            } else {
                config.lr
            };
            let slope = dot(&gradient, &direction);
            if slope > -config.tolerance_change {
                self.direction = Some(direction);
                break;
            }
            let x = flatten(&params);
            let t = if config.line_search {
                let start = Probe { t: 0.0, loss, grad: gradient.clone(), slope };
                let budget = config.max_eval.saturating_sub(evaluations);
                let found = strong_wolfe(
                    |t| {
                        unflatten(&params, &(&x + &direction.mul_scalar(t)));
                        evaluate(&mut evaluations)
                    },
                    &direction,
                    &start,
                    t,
                    config.tolerance_change,
                    budget,
                )?;
                unflatten(&params, &(&x + &direction.mul_scalar(found.t)));
                loss = found.loss;
                gradient = found.grad;
                found.t
            } else {
                unflatten(&params, &(&x + &direction.mul_scalar(t)));
                if iterations != config.max_iter {
                    (loss, gradient) = evaluate(&mut evaluations)?;
                }
                t
            };
            self.step_length = t;
            converged = gradient.abs().max_all_f64() <= config.tolerance_grad;
            let moved = direction.mul_scalar(t).abs().max_all_f64();
            self.direction = Some(direction);
            if iterations == config.max_iter
                || evaluations >= config.max_eval
                || converged
                || moved <= config.tolerance_change
                || (loss - previous_loss).abs() < config.tolerance_change
                || !keep_going(loss)
            {
                break;
            }
        }
        self.evaluations += evaluations;
        Ok(LbfgsOutcome { initial_loss, final_loss: loss, iterations, evaluations })
    }
}
