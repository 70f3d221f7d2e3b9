//! The finite-difference gradient checker.
//!
//! For an op `f`, inputs `x` and a random weighting `r` of `f`'s output, it
//! compares the analytic gradient of `L(x) = Σ r ⊙ f(x)` (from `backward`)
//! with central differences `(L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h`, element by
//! element, all in f64. The weighting matters: with a plain sum, an op whose
//! outputs always sum to a constant (a normalisation, a softmax) would have a
//! zero gradient, and a wrong rule would pass.

use tensor::{DType, Tensor};

use crate::Var;

/// Tolerances and the finite-difference step.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (of the numeric value).
    pub rtol: f64,
    /// Finite-difference step `h`.
    pub step: f64,
    /// Seed of the output weighting `r`.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    /// `atol = 1e-6`, `rtol = 1e-5`, `h = 1e-6`: central differences in f64
    /// are accurate to about `h² · f‴ + ε/h ≈ 1e-10` on smooth ops.
    fn default() -> Self {
        GradcheckOptions { atol: 1e-6, rtol: 1e-5, step: 1e-6, seed: 0x5EED }
    }
}

/// What a passing check covered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckReport {
    /// Elements compared, over all inputs.
    pub elements: usize,
    /// Largest `|analytic − numeric|` seen.
    pub worst_abs_error: f64,
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GradcheckError {
    /// The analytic and numeric gradients disagree.
    #[error(
        "gradcheck {op}: input {input} (shape {shape:?}) element {index:?}: analytic {analytic:.9e} vs numeric {numeric:.9e} (atol {atol:e}, rtol {rtol:e})"
    )]
    Mismatch {
        /// The op under test.
        op: String,
        /// Which input.
        input: usize,
        /// That input's shape.
        shape: Vec<usize>,
        /// The element's multi-index.
        index: Vec<usize>,
        /// From `backward`.
        analytic: f64,
        /// From central differences.
        numeric: f64,
        /// Tolerances used.
        atol: f64,
        /// Tolerances used.
        rtol: f64,
    },
    /// The op's output is not finite at the inputs.
    #[error("gradcheck {op}: the output is not finite at the given inputs")]
    NotFinite {
        /// The op under test.
        op: String,
    },
}

/// The multi-index of flat (row-major) index `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    index
}

/// Checks the gradient of `f` at `inputs` (converted to f64) against
/// central finite differences. `op` names the op in the error.
///
/// ```
/// use autograd::{gradcheck, GradcheckOptions, Var};
/// use tensor::{DType, Tensor};
///
/// let x = Tensor::rand_uniform(&[2, 3], 0.5, 2.0, 7, DType::F64);
/// let report = gradcheck("sqrt", &[x], |v| v[0].sqrt(), &GradcheckOptions::default()).unwrap();
/// assert_eq!(report.elements, 6);
/// ```
pub fn gradcheck(
    op: &str,
    inputs: &[Tensor],
    f: impl Fn(&[Var]) -> Var,
    options: &GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError> {
    let values: Vec<Vec<f64>> = inputs.iter().map(|t| t.to_f64_vec()).collect();
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
    let build = |values: &[Vec<f64>], make: fn(Tensor) -> Var| -> Vec<Var> {
        values.iter().zip(&shapes).map(|(v, s)| make(Tensor::from_vec(v.clone(), s))).collect()
    };

    // Analytic: backward of L = Σ r ⊙ f(x).
    let params = build(&values, Var::parameter);
    let output = f(&params);
    let weights = Tensor::randn(output.shape(), 0.0, 1.0, options.seed, DType::F64);
    let loss = (&output * &Var::constant(weights.clone())).sum_all();
    if !loss.to_scalar().is_finite() {
        return Err(GradcheckError::NotFinite { op: op.to_string() });
    }
    let grads = loss.backward();

    // Numeric: L at x ± h·eᵢ, with no graph recorded.
    let weighted = |values: &[Vec<f64>]| -> f64 {
        let out = f(&build(values, Var::constant));
        (out.value() * &weights).sum_all().to_scalar()
    };
    let mut report = GradcheckReport { elements: 0, worst_abs_error: 0.0 };
    let mut probe = values.clone();
    for (i, param) in params.iter().enumerate() {
        let analytic = match grads.get(param) {
            Some(g) => g.to_f64_vec(),
            None => vec![0.0; values[i].len()],
        };
        for (j, &a) in analytic.iter().enumerate() {
            let original = values[i][j];
            probe[i][j] = original + options.step;
            let plus = weighted(&probe);
            probe[i][j] = original - options.step;
            let minus = weighted(&probe);
            probe[i][j] = original;
            let numeric = (plus - minus) / (2.0 * options.step);
            let error = (a - numeric).abs();
            let within = error <= options.atol + options.rtol * numeric.abs();
            // A NaN on either side is a failure, not a pass.
            if !within || error.is_nan() {
                return Err(GradcheckError::Mismatch {
                    op: op.to_string(),
                    input: i,
                    shape: shapes[i].clone(),
                    index: unravel(j, &shapes[i]),
                    analytic: a,
                    numeric,
                    atol: options.atol,
                    rtol: options.rtol,
                });
            }
            report.worst_abs_error = report.worst_abs_error.max(error);
            report.elements += 1;
        }
    }
    Ok(report)
}
