//! L-BFGS: a quasi-Newton method that keeps the last `m` steps and gradient
//! changes and applies the inverse-Hessian approximation they define with the
//! two-loop recursion. Stopping rules and defaults follow
//! `torch.optim.LBFGS`, so settings carry over: one [`Lbfgs::step`] runs up
//! to `max_iter` iterations and `max_eval` loss evaluations, and stops early
//! when the gradient, the step or the loss change falls under a tolerance.
//! Optionally with a preconditioner ([`Lbfgs::with_preconditioner`]) and
//! with every parameter kept in a box ([`Lbfgs::with_bounds`]).

use std::collections::VecDeque;

use autograd::Gradients;
use tensor::{DType, Tensor};

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
    /// Stop when `max |∇f|` falls to this (of the free parameters, with
    /// [`Lbfgs::with_bounds`]).
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
    /// The last step taken, `x_{k+1} − x_k`, until its pair is formed.
    last_step: Option<Tensor>,
    step_length: f64,
    /// The pairs `(s, y)`, oldest first.
    pairs: VecDeque<(Tensor, Tensor)>,
    /// `1/(yᵀs)` of each pair.
    inverse_curvatures: VecDeque<f64>,
    hessian_scale: f64,
    previous_gradient: Option<Tensor>,
    iterations: usize,
    evaluations: usize,
    preconditioner: Option<Preconditioner>,
    bounds: Option<(f64, f64)>,
}

/// 1 where a parameter `x` with gradient `g` is free in `[lower, upper]`,
/// 0 where it is held: on a bound, with the gradient pushing it out.
fn free_flags<T: PartialOrd + Copy + Default>(x: &[T], g: &[T], lower: T, upper: T) -> Vec<f32> {
    let zero = T::default();
    x.iter()
        .zip(g)
        .map(|(&x, &g)| if (x <= lower && g > zero) || (x >= upper && g < zero) { 0.0 } else { 1.0 })
        .collect()
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
            last_step: None,
            step_length: config.lr,
            pairs: VecDeque::new(),
            inverse_curvatures: VecDeque::new(),
            hessian_scale: 1.0,
            previous_gradient: None,
            iterations: 0,
            evaluations: 0,
            preconditioner: None,
            bounds: None,
        }
    }

    /// Keeps every parameter in `[lower, upper]` by projected L-BFGS
    /// (Bertsekas, "Projected Newton methods for optimization problems with
    /// simple constraints", 1982; Kim, Sra & Dhillon, 2010): a parameter on
    /// a bound whose gradient pushes it out is *held*; the direction is
    /// computed from the gradient with the held components zeroed and does
    /// not move them; each step is projected onto the box, and the pair
    /// `(s, y)` records the step actually taken (`y` from the whole
    /// gradients). Projecting outside the optimiser instead (clamping the
    /// parameters before each evaluation) leaves L-BFGS pairs whose `s` is
    /// not the step taken, and keeps it pushing the held parameters out.
    /// A line search, when on, probes points of the projected path but
    /// judges them by the slope along the unprojected direction, which is
    /// exact until a component reaches a bound. The gradient tolerance
    /// applies to the free components. Parameters must start inside the
    /// box (they are not moved into it).
    ///
    /// # Panics
    /// Unless `lower < upper`.
    pub fn with_bounds(mut self, lower: f64, upper: f64) -> Lbfgs {
        assert!(lower < upper, "L-BFGS bounds need lower < upper, got [{lower}, {upper}]");
        self.bounds = Some((lower, upper));
        self
    }

    /// 1 for each free parameter, 0 for each held one
    /// ([`Lbfgs::with_bounds`]); `None` without bounds.
    fn free_mask(&self, params: &[Param], gradient: &Tensor) -> Option<Tensor> {
        let (lower, upper) = self.bounds?;
        let x = flatten(params);
        let free = if x.dtype() == DType::F32 && gradient.dtype() == DType::F32 {
            // Compared in f32, as the projection clamps f32 values to the
            // bounds rounded to f32 (0.1 becomes 0.100000001).
            free_flags(&x.to_vec::<f32>(), &gradient.to_vec::<f32>(), lower as f32, upper as f32)
        } else {
            free_flags(&x.to_f64_vec(), &gradient.to_f64_vec(), lower, upper)
        };
        Some(Tensor::from_vec(free, gradient.shape()).to_dtype(gradient.dtype()).to_device(gradient.device()))
    }

    /// The step from `x` to `next`, the point `t` along `direction`
    /// (projected onto the box, if any): `t·direction` without bounds, so
    /// that plain L-BFGS keeps torch's arithmetic.
    fn step_taken(&self, next: &Tensor, x: &Tensor, direction: &Tensor, t: f64) -> Tensor {
        match self.bounds {
            Some(_) => next - x,
            None => direction.mul_scalar(t),
        }
    }

    /// `v` with the held components zeroed.
    fn zero_held(v: &Tensor, free: &Option<Tensor>) -> Tensor {
        match free {
            Some(free) => v * free,
            None => v.clone(),
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

    /// `H·(−g)` by the two-loop recursion over the stored pairs (its
    /// products and updates in place, one pass each: with 20 pairs of a
    /// 512² image they were 80 ops and 80 new 3 MB buffers per iteration).
    fn descent_direction(&self, gradient: &Tensor) -> Tensor {
        let mut q = gradient.neg();
        let mut alphas = vec![0.0; self.pairs.len()];
        for (i, (s, y)) in self.pairs.iter().enumerate().rev() {
            alphas[i] = dot(s, &q) * self.inverse_curvatures[i];
            q = q.try_add_scaled_consuming(y, -alphas[i]).expect("pairs share the gradient's shape");
        }
        let mut r = self.precondition(&q).mul_scalar(self.hessian_scale);
        for (((s, y), &rho), &alpha) in self.pairs.iter().zip(&self.inverse_curvatures).zip(&alphas) {
            let beta = dot(y, &r) * rho;
            r = r.try_add_scaled_consuming(s, alpha - beta).expect("pairs share the gradient's shape");
        }
        r
    }

    /// Adds the pair `(s, y)` if its curvature `yᵀs` is positive (else `H`
    /// would stop being positive definite), dropping the oldest when the
    /// history is full, and rescales `H₀`.
    fn remember(&mut self, s: Tensor, y: Tensor) {
        let s_y = dot(&y, &s);
        if s_y <= 1e-10 {
            return;
        }
        if self.pairs.len() == self.config.history_size {
            self.pairs.pop_front();
            self.inverse_curvatures.pop_front();
        }
        self.hessian_scale = s_y / dot(&y, &self.precondition(&y));
        self.pairs.push_back((s, y));
        self.inverse_curvatures.push_back(1.0 / s_y);
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
        let mut free = self.free_mask(&params, &gradient);
        let mut converged = Self::zero_held(&gradient, &free).abs().max_all_f64() <= config.tolerance_grad;
        // A line search spends what is left of the evaluations, so none may
        // start once they are spent.
        while !converged && iterations < config.max_iter && !(config.line_search && evaluations >= config.max_eval) {
            iterations += 1;
            self.iterations += 1;
            // Taken, so it is freed before the evaluation below.
            let free_now = free.take();
            let direction = match (&self.previous_gradient, self.last_step.take()) {
                (Some(previous), Some(s)) => {
                    let y = &gradient - previous;
                    self.remember(s, y);
                    self.descent_direction(&Self::zero_held(&gradient, &free_now))
                }
                _ => self.precondition(&Self::zero_held(&gradient, &free_now)).neg(),
            };
            // Held parameters stay where they are.
            let direction = Self::zero_held(&direction, &free_now);
            drop(free_now);
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
                // As torch does, the next step's pair is formed with this
                // direction and the last step length; with bounds, with the
                // step actually taken: none.
                self.last_step = Some(match self.bounds {
                    Some(_) => direction.zeros_like(),
                    None => direction.mul_scalar(self.step_length),
                });
                break;
            }
            let x = flatten(&params);
            // The point `t` along the direction, projected onto the box.
            let point = |t: f64| {
                let moved = &x + &direction.mul_scalar(t);
                match self.bounds {
                    Some((lower, upper)) => moved.clamp(lower, upper),
                    None => moved,
                }
            };
            let (t, step) = if config.line_search {
                let start = Probe { t: 0.0, loss, grad: gradient.clone(), slope };
                let budget = config.max_eval.saturating_sub(evaluations);
                let found = strong_wolfe(
                    |t| {
                        unflatten(&params, &point(t));
                        evaluate(&mut evaluations)
                    },
                    &direction,
                    &start,
                    t,
                    config.tolerance_change,
                    budget,
                )?;
                let next = point(found.t);
                unflatten(&params, &next);
                loss = found.loss;
                gradient = found.grad;
                (found.t, self.step_taken(&next, &x, &direction, found.t))
            } else {
                let next = point(t);
                let step = self.step_taken(&next, &x, &direction, t);
                unflatten(&params, &next);
                // Not held during the evaluation, where the peak memory is
                // reached: the point, where it started and the direction
                // (three images' worth for Gatys; the step is kept).
                drop((next, x, direction));
                if iterations != config.max_iter {
                    (loss, gradient) = evaluate(&mut evaluations)?;
                }
                (t, step)
            };
            self.step_length = t;
            // The last fixed step is not evaluated, so there is no gradient
            // at its point to judge.
            if config.line_search || iterations != config.max_iter {
                free = self.free_mask(&params, &gradient);
                converged = Self::zero_held(&gradient, &free).abs().max_all_f64() <= config.tolerance_grad;
            }
            let moved = step.abs().max_all_f64();
            self.last_step = Some(step);
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
