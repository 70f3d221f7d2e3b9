//! The optimisers on problems with known minima.

use autograd::{Gradients, Var};
use nn::optim::{Adam, AdamConfig, Lbfgs, LbfgsConfig, Sgd};
use nn::{Init, Param, ParamStore};
use tensor::{DType, Tensor};

/// Rosenbrock's function `(1 − x)² + 100(y − x²)²`, minimum 0 at (1, 1).
fn rosenbrock(p: &Param) -> (f64, Gradients) {
    let v = p.var();
    let x = v.narrow(0, 0, 1);
    let y = v.narrow(0, 1, 1);
    let loss = (x.neg().add_scalar(1.0).square() + (y - x.square()).square().mul_scalar(100.0)).sum_all();
    (loss.to_scalar(), loss.backward())
}

fn start(store: &mut ParamStore, name: &str, values: Vec<f64>) -> Param {
    let n = values.len();
    let p = store.param(name, &[n], Init::Zeros).unwrap();
    p.set(Tensor::from_vec(values, &[n]));
    p
}

fn distance_to_one(p: &Param) -> f64 {
    p.value().to_f64_vec().iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max)
}

/// Evaluations Adam needs to bring Rosenbrock within `tol` of (1, 1).
fn adam_evaluations(tol: f64) -> Option<usize> {
    let mut store = ParamStore::new(0, DType::F64);
    let p = start(&mut store, "xy", vec![-1.5, 2.0]);
    let mut adam = Adam::new(AdamConfig { lr: 0.02, ..Default::default() });
    for evaluation in 1..=50_000 {
        let (_, grads) = rosenbrock(&p);
        adam.step(std::slice::from_ref(&p), &grads);
        if distance_to_one(&p) < tol {
            return Some(evaluation);
        }
    }
    None
}

fn lbfgs_evaluations(line_search: bool, tol: f64) -> (usize, f64) {
    let mut store = ParamStore::new(0, DType::F64);
    let p = start(&mut store, "xy", vec![-1.5, 2.0]);
    let config =
        LbfgsConfig { line_search, lr: if line_search { 1.0 } else { 0.1 }, ..LbfgsConfig::default().iterations(500) };
    let mut lbfgs = Lbfgs::new(config);
    let params = [p.clone()];
    while lbfgs.total_evaluations() < 5000 && distance_to_one(&p) >= tol {
        let outcome = lbfgs.step(&params, || nn::Result::Ok(rosenbrock(&p))).unwrap();
        if outcome.iterations == 0 {
            break;
        }
    }
    (lbfgs.total_evaluations(), distance_to_one(&p))
}

#[test]
fn lbfgs_with_line_search_solves_rosenbrock_in_fewer_evaluations_than_adam() {
    let tol = 1e-4;
    let (lbfgs_evals, distance) = lbfgs_evaluations(true, tol);
    assert!(distance < tol, "L-BFGS ended {distance} from the minimum after {lbfgs_evals} evaluations");
    let adam_evals = adam_evaluations(tol).expect("Adam reaches the minimum within 50,000 steps");
    println!("Rosenbrock to within {tol:e}: L-BFGS + strong Wolfe {lbfgs_evals} evaluations, Adam {adam_evals}");
    assert!(lbfgs_evals < adam_evals, "L-BFGS used {lbfgs_evals} evaluations, Adam {adam_evals}");
    assert!(lbfgs_evals < 200, "L-BFGS with line search used {lbfgs_evals} evaluations");
}

#[test]
fn lbfgs_with_fixed_steps_makes_progress_on_rosenbrock() {
    let (_, distance) = lbfgs_evaluations(false, 1e-3);
    assert!(distance < 1e-3, "ended {distance} from the minimum");
}

/// `min ‖A·x − b‖²` for a well-conditioned A with a known solution.
fn least_squares() -> (Tensor, Tensor, Vec<f64>) {
    let (m, n) = (12, 5);
    let a = Tensor::from_fn(&[m, n], DType::F64, |i| {
        let (r, c) = (i / n, i % n);
        if r == c {
            3.0
        } else {
            ((r * 7 + c * 3) % 11) as f64 / 11.0 - 0.5
        }
    });
    let solution: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 - 1.0).collect();
    let b = a.matmul(&Tensor::from_vec(solution.clone(), &[n, 1]));
    (a, b, solution)
}

fn residual_loss(p: &Param, a: &Tensor, b: &Tensor) -> (f64, Gradients) {
    let x = p.var().reshape(&[a.shape()[1], 1]);
    let loss = Var::constant(a.clone()).matmul(&x).mse(&Var::constant(b.clone()));
    (loss.to_scalar(), loss.backward())
}

#[test]
fn every_optimiser_solves_least_squares() {
    let (a, b, solution) = least_squares();
    let close =
        |p: &Param| p.value().to_f64_vec().iter().zip(&solution).map(|(x, s)| (x - s).abs()).fold(0.0, f64::max);

    let mut store = ParamStore::new(0, DType::F64);
    let p = store.param("sgd", &[5], Init::Zeros).unwrap();
    let mut sgd = Sgd::new(0.05, 0.9);
    for _ in 0..2000 {
        let (_, g) = residual_loss(&p, &a, &b);
        sgd.step(std::slice::from_ref(&p), &g);
    }
    assert!(close(&p) < 1e-6, "SGD: {}", close(&p));

    let p = store.param("adam", &[5], Init::Zeros).unwrap();
    let mut adam = Adam::new(AdamConfig { lr: 0.05, ..Default::default() });
    for _ in 0..3000 {
        let (_, g) = residual_loss(&p, &a, &b);
        adam.step(std::slice::from_ref(&p), &g);
    }
    assert!(close(&p) < 1e-4, "Adam: {}", close(&p));

    let p = store.param("lbfgs", &[5], Init::Zeros).unwrap();
    // Tight tolerances: torch's defaults stop once the loss changes by < 1e-9.
    let config = LbfgsConfig {
        line_search: true,
        tolerance_change: 1e-20,
        tolerance_grad: 1e-12,
        ..LbfgsConfig::default().iterations(100)
    };
    let mut lbfgs = Lbfgs::new(config);
    let outcome = lbfgs.step(std::slice::from_ref(&p), || nn::Result::Ok(residual_loss(&p, &a, &b))).unwrap();
    assert!(close(&p) < 1e-8, "L-BFGS: {} after {outcome:?}", close(&p));
    assert!(outcome.evaluations < 30, "L-BFGS needed {} evaluations for a 5-variable quadratic", outcome.evaluations);
}

#[test]
fn lbfgs_with_a_line_search_keeps_to_its_evaluation_budget() {
    let mut store = ParamStore::new(0, DType::F64);
    let a = Tensor::from_fn(&[8, 5], DType::F64, |i| ((i * 7 % 11) as f64 - 5.0) / 3.0);
    let b = Tensor::from_fn(&[8, 1], DType::F64, |i| i as f64 - 3.0);
    // Steps far too long or too short make the search probe many times.
    for (k, lr) in [1e-3, 0.01, 1.0, 1000.0].into_iter().enumerate() {
        for budget in [1, 2, 3, 7, 15] {
            let p = store.param(&format!("x{k}_{budget}"), &[5], Init::Zeros).unwrap();
            let config =
                LbfgsConfig { line_search: true, lr, max_iter: budget, max_eval: budget, ..LbfgsConfig::default() };
            let outcome = Lbfgs::new(config)
                .step(std::slice::from_ref(&p), || nn::Result::Ok(residual_loss(&p, &a, &b)))
                .unwrap();
            assert!(
                outcome.evaluations <= budget,
                "lr {lr}: {} evaluations for a budget of {budget}",
                outcome.evaluations
            );
            if budget >= 3 {
                assert!(outcome.final_loss < outcome.initial_loss, "lr {lr}, budget {budget}: {outcome:?}");
            }
        }
    }
}

#[test]
fn lbfgs_reports_a_non_finite_loss() {
    let mut store = ParamStore::new(0, DType::F64);
    let p = store.param("x", &[1], Init::Ones).unwrap();
    let mut lbfgs = Lbfgs::new(LbfgsConfig::default());
    let error = lbfgs
        .step(std::slice::from_ref(&p), || {
            let loss = p.var().log().mul_scalar(f64::NAN).sum_all();
            nn::Result::Ok((loss.to_scalar(), loss.backward()))
        })
        .unwrap_err();
    assert!(error.to_string().contains("not finite"), "{error}");
}

#[test]
fn adam_state_round_trips() {
    let mut store = ParamStore::new(0, DType::F64);
    let p = start(&mut store, "xy", vec![-1.5, 2.0]);
    let mut adam = Adam::new(AdamConfig::default());
    for _ in 0..3 {
        adam.step(std::slice::from_ref(&p), &rosenbrock(&p).1);
    }
    let state = adam.state("opt");
    let mut restored = Adam::new(AdamConfig::default());
    restored.load_state("opt", &state, std::path::Path::new("memory")).unwrap();
    let q = start(&mut store, "copy", p.value().to_f64_vec());
    adam.step(std::slice::from_ref(&p), &rosenbrock(&p).1);
    // The copy has another name, so give the restored state its moments.
    let renamed = state.into_iter().map(|(k, v)| (k.replace(".xy", ".copy"), v)).collect();
    restored.load_state("opt", &renamed, std::path::Path::new("memory")).unwrap();
    restored.step(std::slice::from_ref(&q), &rosenbrock(&q).1);
    assert_eq!(p.value().to_f64_vec(), q.value().to_f64_vec());
}

#[test]
fn lbfgs_step_while_ends_when_the_caller_says_so() {
    let mut store = ParamStore::new(0, DType::F64);
    let p = start(&mut store, "xy", vec![-1.5, 2.0]);
    let mut lbfgs = Lbfgs::new(LbfgsConfig { lr: 0.1, ..LbfgsConfig::default().iterations(500) });
    let mut seen = Vec::new();
    let outcome = lbfgs
        .step_while(
            std::slice::from_ref(&p),
            || nn::Result::Ok(rosenbrock(&p)),
            |loss| {
                seen.push(loss);
                seen.len() < 7
            },
        )
        .unwrap();
    // Asked after each iteration, with that iteration's loss.
    assert_eq!((outcome.iterations, seen.len()), (7, 7));
    assert_eq!(seen.last().copied(), Some(outcome.final_loss));
}

/// `½ Σᵢ dᵢ (xᵢ − sᵢ)²` with curvatures `dᵢ` from 1 to 10⁴: stiff along
/// some axes, soft along others.
fn stiff_quadratic(p: &Param, curvatures: &Tensor, solution: &Tensor) -> (f64, Gradients) {
    let error = p.var() - Var::constant(solution.clone());
    let loss = (error.square() * Var::constant(curvatures.clone())).sum_all().mul_scalar(0.5);
    (loss.to_scalar(), loss.backward())
}

/// With the inverse Hessian as its preconditioner, fixed-step L-BFGS with
/// three pairs solves a stiff quadratic in a few evaluations; without it,
/// the same settings are still far away after fifty.
#[test]
fn lbfgs_preconditioner_evens_out_a_stiff_problem() {
    let n = 40;
    let curvatures = Tensor::from_fn(&[n], DType::F64, |i| 10f64.powf(4.0 * i as f64 / (n - 1) as f64));
    let solution = Tensor::from_fn(&[n], DType::F64, |i| (i as f64 * 0.7).sin());
    let inverse = curvatures.recip();
    let distance = |p: &Param| {
        p.value().to_f64_vec().iter().zip(solution.to_f64_vec()).map(|(x, s)| (x - s).abs()).fold(0.0, f64::max)
    };
    let config = LbfgsConfig { history_size: 3, ..LbfgsConfig::default().iterations(50) };
    let mut store = ParamStore::new(0, DType::F64);

    let p = store.param("plain", &[n], Init::Zeros).unwrap();
    Lbfgs::new(config)
        .step(std::slice::from_ref(&p), || nn::Result::Ok(stiff_quadratic(&p, &curvatures, &solution)))
        .unwrap();
    let plain = distance(&p);

    let q = store.param("preconditioned", &[n], Init::Zeros).unwrap();
    let mut lbfgs =
        Lbfgs::new(LbfgsConfig { max_iter: 6, max_eval: 6, ..config }).with_preconditioner(move |v| v.mul(&inverse));
    let outcome =
        lbfgs.step(std::slice::from_ref(&q), || nn::Result::Ok(stiff_quadratic(&q, &curvatures, &solution))).unwrap();
    let preconditioned = distance(&q);
    println!(
        "stiff quadratic: plain {plain:e} after 50 evaluations, preconditioned {preconditioned:e} after {}",
        outcome.evaluations
    );
    assert!(preconditioned < 1e-9, "preconditioned: {preconditioned} from the minimum after {outcome:?}");
    assert!(plain > 1e-2, "plain L-BFGS came within {plain} in 50 evaluations: the problem is not stiff enough");
}

/// `½ Σ dᵢ eᵢ² + ½ κ Σ (eᵢ − eᵢ₊₁)²` with `e = x − c`: a quadratic whose
/// coordinates are coupled, so which ones sit on a bound moves the others'
/// minimum.
fn coupled_quadratic(p: &Param, solution: &Tensor) -> (f64, Gradients) {
    let n = solution.numel();
    let error = p.var() - Var::constant(solution.clone());
    let weights = Tensor::from_fn(&[n], DType::F64, |i| 1.0 + 0.5 * (i % 3) as f64);
    let own = (error.square() * Var::constant(weights)).sum_all();
    let coupling = (error.narrow(0, 0, n - 1) - error.narrow(0, 1, n - 1)).square().sum_all().mul_scalar(4.0);
    let loss = (own + coupling).mul_scalar(0.5);
    (loss.to_scalar(), loss.backward())
}

/// How far `x` in `[0, 1]ⁿ` is from the box-constrained minimum: the
/// largest gradient component that could still lower the loss (any inside
/// the box, one pointing out of the box at a bound is none).
fn projected_gradient(p: &Param, solution: &Tensor) -> f64 {
    let (_, grads) = coupled_quadratic(p, solution);
    let g = grads.get(&p.var()).unwrap().to_f64_vec();
    let x = p.value().to_f64_vec();
    x.iter()
        .zip(g)
        .map(|(&x, g)| if (x <= 0.0 && g > 0.0) || (x >= 1.0 && g < 0.0) { 0.0 } else { g.abs() })
        .fold(0.0, f64::max)
}

/// Projected L-BFGS ([`Lbfgs::with_bounds`]) finds a coupled quadratic's
/// minimum over the box `[0, 1]ⁿ` (22 of its 30 coordinates' own minima
/// lie outside it), never leaving the box; clamping the parameters
/// before each evaluation instead, the same settings stall far from it.
#[test]
fn lbfgs_with_bounds_finds_the_box_constrained_minimum() {
    let n = 30;
    let solution = Tensor::from_fn(&[n], DType::F64, |i| 0.5 + 1.2 * (i as f64 * 0.9).sin());
    let config = LbfgsConfig {
        history_size: 5,
        tolerance_change: 1e-15,
        tolerance_grad: 1e-12,
        ..LbfgsConfig::default().iterations(60)
    };
    let mut store = ParamStore::new(0, DType::F64);

    let p = store.param("projected", &[n], Init::Zeros).unwrap();
    p.set(Tensor::full(&[n], 0.5, DType::F64));
    let mut outside = 0usize;
    let outcome = Lbfgs::new(config)
        .with_bounds(0.0, 1.0)
        .step(std::slice::from_ref(&p), || {
            outside += p.value().to_f64_vec().iter().filter(|v| !(0.0..=1.0).contains(*v)).count();
            nn::Result::Ok(coupled_quadratic(&p, &solution))
        })
        .unwrap();
    let projected = projected_gradient(&p, &solution);
    assert_eq!(outside, 0, "projected L-BFGS evaluated outside the box");

    let q = store.param("clamped", &[n], Init::Zeros).unwrap();
    q.set(Tensor::full(&[n], 0.5, DType::F64));
    Lbfgs::new(config)
        .step(std::slice::from_ref(&q), || {
            q.set(q.value().clamp(0.0, 1.0));
            nn::Result::Ok(coupled_quadratic(&q, &solution))
        })
        .unwrap();
    let clamped = projected_gradient(&q, &solution);
    println!(
        "box-constrained quadratic: projected gradient {projected:e} after {} evaluations, {clamped:e} clamping outside",
        outcome.evaluations
    );
    assert!(projected < 1e-6, "projected L-BFGS: {projected:e} from the constrained minimum after {outcome:?}");
    assert!(clamped > 1e-4, "clamping outside came within {clamped:e}: the box does not bind enough to tell");
}
