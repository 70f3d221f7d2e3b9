//! The strong-Wolfe line search used by L-BFGS: find a step `t` along a
//! descent direction `d` with sufficient decrease
//! `f(x + t·d) ≤ f(x) + c₁·t·∇f·d` and a flat enough slope
//! `|∇f(x + t·d)·d| ≤ c₂·|∇f(x)·d|`. First grow the step until an interval
//! brackets such a point, then shrink the interval by safeguarded cubic
//! interpolation (Nocedal & Wright, algorithms 3.5 and 3.6).

use tensor::Tensor;

/// Sufficient-decrease constant.
const C1: f64 = 1e-4;
/// Curvature constant.
const C2: f64 = 0.9;
/// Most function evaluations one search may spend.
const MAX_EVALUATIONS: usize = 25;

/// A probed point on the line: step, loss, gradient, slope `∇f·d`.
#[derive(Clone)]
pub(crate) struct Probe {
    pub t: f64,
    pub loss: f64,
    pub grad: Tensor,
    pub slope: f64,
}

pub(crate) fn dot(a: &Tensor, b: &Tensor) -> f64 {
    a.try_dot(b).expect("the optimiser's vectors share one shape and dtype")
}

/// The minimiser of the cubic through two points with known values and
/// slopes, clamped to `bounds` (the interval's midpoint if the cubic has no
/// minimum).
fn cubic_minimum(a: (f64, f64, f64), b: (f64, f64, f64), bounds: (f64, f64)) -> f64 {
    let ((x1, f1, g1), (x2, f2, g2)) = (a, b);
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let discriminant = d1 * d1 - g1 * g2;
    if discriminant < 0.0 || !discriminant.is_finite() {
        return (bounds.0 + bounds.1) / 2.0;
    }
    let d2 = discriminant.sqrt();
    let minimum = if x1 <= x2 {
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    } else {
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    };
    if minimum.is_nan() {
        return (bounds.0 + bounds.1) / 2.0;
    }
    minimum.clamp(bounds.0, bounds.1)
}

fn interpolate(a: &Probe, b: &Probe, bounds: Option<(f64, f64)>) -> f64 {
    let bounds = bounds.unwrap_or((a.t.min(b.t), a.t.max(b.t)));
    cubic_minimum((a.t, a.loss, a.slope), (b.t, b.loss, b.slope), bounds)
}

/// Searches along `d` from `start` (step 0) with first trial step `t`,
/// evaluating at most `budget` times (at least once; never more than
/// `MAX_EVALUATIONS`). `evaluate(t)` returns the loss and gradient at
/// `x + t·d`. Returns the accepted probe, or the best bracketing one when
/// the budget ends the search.
pub(crate) fn strong_wolfe<E>(
    mut evaluate: impl FnMut(f64) -> Result<(f64, Tensor), E>,
    d: &Tensor,
    start: &Probe,
    t: f64,
    tolerance_change: f64,
    budget: usize,
) -> Result<Probe, E> {
    let most = budget.clamp(1, MAX_EVALUATIONS);
    let d_norm = d.abs().max_all_f64();
    let mut probe = |t: f64| -> Result<Probe, E> {
        let (loss, grad) = evaluate(t)?;
        let slope = dot(&grad, d);
        Ok(Probe { t, loss, grad, slope })
    };
    let sufficient = |p: &Probe| p.loss <= start.loss + C1 * p.t * start.slope;
    let flat = |p: &Probe| p.slope.abs() <= -C2 * start.slope;

    // Phase 1: grow the step until [previous, current] brackets a point.
    let mut previous = start.clone();
    let mut current = probe(t)?;
    let mut evaluations = 1;
    let mut bracket: [Probe; 2];
    loop {
        if !sufficient(&current) || (evaluations > 1 && current.loss >= previous.loss) {
            bracket = [previous, current];
            break;
        }
        if flat(&current) {
            return Ok(current);
        }
        if current.slope >= 0.0 {
            bracket = [previous, current];
            break;
        }
        if evaluations >= most {
            bracket = [start.clone(), current];
            break;
        }
        let bounds = (current.t + 0.01 * (current.t - previous.t), current.t * 10.0);
        let next_t = interpolate(&previous, &current, Some(bounds));
        previous = current;
        current = probe(next_t)?;
        evaluations += 1;
    }

    // Phase 2 ("zoom"): shrink the bracket, keeping `low` the better end.
    let mut low = if bracket[0].loss <= bracket[1].loss { 0 } else { 1 };
    let mut insufficient_progress = false;
    while evaluations < most {
        let (lo_t, hi_t) = (bracket[0].t.min(bracket[1].t), bracket[0].t.max(bracket[1].t));
        if (hi_t - lo_t) * d_norm < tolerance_change {
            break;
        }
        let mut t = interpolate(&bracket[0], &bracket[1], None);
        // Safeguard: a step hugging an end of the bracket makes no progress;
        // the second time in a row, move it a tenth of the way in.
        let margin = 0.1 * (hi_t - lo_t);
        if (hi_t - t).min(t - lo_t) < margin {
            if insufficient_progress || t >= hi_t || t <= lo_t {
                t = if (t - hi_t).abs() < (t - lo_t).abs() { hi_t - margin } else { lo_t + margin };
                insufficient_progress = false;
            } else {
                insufficient_progress = true;
            }
        } else {
            insufficient_progress = false;
        }
        let trial = probe(t)?;
        evaluations += 1;
        let high = 1 - low;
        if !sufficient(&trial) || trial.loss >= bracket[low].loss {
            bracket[high] = trial;
            low = if bracket[0].loss <= bracket[1].loss { 0 } else { 1 };
        } else {
            if flat(&trial) {
                return Ok(trial);
            }
            if trial.slope * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].clone();
            }
            bracket[low] = trial;
        }
    }
    let [a, b] = bracket;
    Ok(if low == 0 { a } else { b })
}

/// `max |x|` of a tensor, as f64 (0 for an empty one).
pub(crate) trait MaxAbs {
    fn max_all_f64(&self) -> f64;
}

impl MaxAbs for Tensor {
    fn max_all_f64(&self) -> f64 {
        if self.numel() == 0 {
            return 0.0;
        }
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.max(&axes, false).to_scalar()
    }
}
