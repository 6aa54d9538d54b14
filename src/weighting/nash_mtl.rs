//! Nash-MTL (Navon et al. 2022, "Multi-Task Learning as a Bargaining Game"):
//! α > 0 with (K α)_i = 1/α_i for every i, d = Σ α_i g_i (so g_i · d = 1/α_i).
//!
//! α is the unique minimiser of the strictly convex, self-concordant
//! F(α) = ½ αᵀKα − Σ log α_i over α > 0 (∇F = Kα − 1/α). We solve it exactly
//! every step with Newton's method in norm-scaled variables β_i = ‖g_i‖ α_i, where
//! F becomes ½ βᵀCβ − Σ log β_i (+ const) with the cosine matrix C (unit
//! diagonal), so hugely unequal norms do not matter. Steps use backtracking (Armijo
//! on F, staying in β > 0) until the Newton decrement is in the quadratic region,
//! then full steps until λ² < 1e-26 (β accurate to ~1e-13 relative). Where that is out
//! of f64's reach — nearly opposite gradients make β huge — the solve is accepted once
//! the equation holds to the precision its residual can be computed with (see
//! [`residual_ratio`]).
//!
//! Deliberate differences from LibMTL / the authors' code: they run a few cvxpy
//! iterations of a sequential convex approximation per step (and only every
//! `update_weights_every` steps), clip ‖d‖ to `max_norm` and renormalise; we solve
//! the defining equation to machine precision each step and do not clip (the
//! trainer owns clipping).
//!
//! Degenerate inputs:
//! * A zero row makes α_i unbounded (−log α_i decreases forever): that task gets
//!   α_i = 0 and the equation is solved on the others. All-zero G → λ = 0.
//! * If 0 lies in the convex hull of the non-zero g's (e.g. g_2 = −g_1, D = 1 with
//!   mixed signs) F is unbounded below and no α > 0 exists: error
//!   [`GramError::NashInfeasible`] (detected as a min-norm point of the unit
//!   gradients' hull below 1e-7, the resolution of ‖p‖ computed from K in f64;
//!   nearer to infeasible the α's would exceed ~1e7/‖g_i‖ and carry no precision).

use super::gram::{Gram, GramError, cosine_matrix, dot, mat_vec, min_norm_hull_weights, solve};
use super::combine::{GradientRule, Stateless};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "nash-mtl",
    description: "Navon et al. 2022 (Nash-MTL): the bargaining solution (GGᵀ)α = 1/α, solved exactly each step; implied α shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradientRule(Stateless(coefficients)))),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GradientRule(Stateless(coefficients))))),
    label: None,
};

/// Below this norm of the min-norm point of conv{u_i}, 0 counts as in the hull:
/// ‖p‖² from K carries rounding ~1e-16, so ‖p‖ is resolved only to ~1e-8.
const INFEASIBLE_HULL_NORM: f64 = 1e-7;
const MAX_NEWTON_STEPS: usize = 500;
const DECREMENT_SQ_DONE: f64 = 1e-26;

/// Nash-MTL coefficients α (> 0 for non-zero tasks, 0 for zero tasks).
pub fn coefficients(k: &Gram) -> Result<Vec<f64>, GramError> {
    let active = k.nonzero_tasks();
    let mut alpha = vec![0.0; k.tasks()];
    if active.is_empty() {
        return Ok(alpha);
    }
    let cosine = cosine_matrix(k, &active);
    check_feasible(&Gram::from_trusted(&cosine))?;
    let beta = newton_solve(&cosine)?;
    for (&i, b) in active.iter().zip(beta) {
        alpha[i] = b / k.norm(i);
    }
    Ok(alpha)
}

/// Error when the hull of the unit gradients (cosine Gram) contains 0; the
/// hull of the g's contains 0 exactly when that of the u's does.
fn check_feasible(unit: &Gram) -> Result<(), GramError> {
    if unit.tasks() < 2 {
        return Ok(());
    }
    let norm = unit.quadratic_form(&min_norm_hull_weights(unit)).sqrt();
    if norm < INFEASIBLE_HULL_NORM {
        Err(GramError::NashInfeasible)
    } else {
        Ok(())
    }
}

/// F(β) = ½ βᵀCβ − Σ log β_i.
fn objective(cosine: &[Vec<f64>], beta: &[f64]) -> f64 {
    0.5 * dot(beta, &mat_vec(cosine, beta)) - beta.iter().map(|b| b.ln()).sum::<f64>()
}

/// Newton's method with backtracking from β = 1 (exact for orthogonal gradients).
fn newton_solve(cosine: &[Vec<f64>]) -> Result<Vec<f64>, GramError> {
    let n = cosine.len();
    let mut beta = vec![1.0; n];
    let mut decrement_sq = f64::INFINITY;
    for _ in 0..MAX_NEWTON_STEPS {
        let gradient: Vec<f64> = mat_vec(cosine, &beta)
            .iter()
            .zip(&beta)
            .map(|(cb, b)| cb - 1.0 / b)
            .collect();
        let hessian: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        cosine[i][j]
                            + if i == j {
                                1.0 / (beta[i] * beta[i])
                            } else {
                                0.0
                            }
                    })
                    .collect()
            })
            .collect();
        let Some(step) = solve(&hessian, &gradient, 0.0) else {
            break;
        };
        decrement_sq = dot(&gradient, &step);
        if decrement_sq < DECREMENT_SQ_DONE {
            return Ok(beta);
        }
        beta = line_search(cosine, &beta, &step, decrement_sq);
    }
    if residual_ratio(cosine, &beta) <= 1.0 {
        Ok(beta)
    } else {
        Err(GramError::NotConverged {
            solver: "Nash-MTL Newton",
            residual: residual(cosine, &beta).max(decrement_sq),
        })
    }
}

/// Residual accepted whatever the rounding: the equation to 1e-10 relative.
const RESIDUAL_FLOOR: f64 = 1e-10;
/// Rounding errors of the residual's sums allowed, in units of f64's ε times their terms.
const RESIDUAL_ROUNDING_FACTOR: f64 = 16.0;

/// max_i |β_i (Cβ)_i − 1| / tolerance_i, at most 1 when β solves the equation as exactly as
/// f64 can tell. tolerance_i is the larger of [`RESIDUAL_FLOOR`] and the rounding of the
/// residual's own sum, [`RESIDUAL_ROUNDING_FACTOR`]·ε·Σ_j |β_i C_ij β_j|: for gradients at
/// cosine c → −1, β ≈ 1/√(1 + c) and the terms β_i C_ij β_j ≈ ±1/(1 + c) cancel to 1, so no
/// β is closer than ~ε/(1 + c) (two gradients 0.06° from opposite: 1e-10 is out of reach,
/// and the Gram matrix's own rounding moves the answer that much anyway).
fn residual_ratio(cosine: &[Vec<f64>], beta: &[f64]) -> f64 {
    cosine
        .iter()
        .zip(beta)
        .map(|(row, &b)| {
            let terms = row.iter().zip(beta).map(|(c, bj)| b * c * bj);
            let (sum, size) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
            let tolerance = RESIDUAL_FLOOR.max(RESIDUAL_ROUNDING_FACTOR * f64::EPSILON * size);
            (sum - 1.0).abs() / tolerance
        })
        .fold(0.0, f64::max)
}

/// Full step inside the quadratic region (λ < 0.25); otherwise halve until
/// β stays positive and F decreases by a quarter of the predicted amount.
fn line_search(cosine: &[Vec<f64>], beta: &[f64], step: &[f64], decrement_sq: f64) -> Vec<f64> {
    let moved = |t: f64| -> Vec<f64> { beta.iter().zip(step).map(|(b, s)| b - t * s).collect() };
    if decrement_sq < 0.0625 {
        return moved(1.0);
    }
    let start = objective(cosine, beta);
    let mut t = 1.0;
    for _ in 0..60 {
        let candidate = moved(t);
        if candidate.iter().all(|&b| b > 0.0)
            && objective(cosine, &candidate) <= start - 0.25 * t * decrement_sq
        {
            return candidate;
        }
        t *= 0.5;
    }
    moved(t)
}

/// max_i |β_i (Cβ)_i − 1|: zero exactly at the solution.
fn residual(cosine: &[Vec<f64>], beta: &[f64]) -> f64 {
    mat_vec(cosine, beta)
        .iter()
        .zip(beta)
        .map(|(cb, b)| (cb * b - 1.0).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::reference_cases::{check_against_reference, rows_of};

    // BEGIN GENERATED nash_mtl (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: scipy 1.17.1 root (hybr) on K a = 1/a.
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.6705249754616345, 0.6525536253869892, -0.19729219150005184, 1.444176517760062]), // scipy root
        ("aligned3", &[1.2546452822140308, 0.9738681608419132, 0.6169030660601411, 0.31125010554546284]), // scipy root
        ("collinear3", &[0.8737719138236723, 0.6448376106017512, 1.3493357990383046]), // scipy root
        ("identical3", &[-0.3635483867393564, 1.6684529262519094, 0.2899955230355325]), // scipy root
        ("unequal3", &[0.5760692623742293, 0.8819040526138783, 0.8907520332070802, 1.0473539336195197]), // scipy root
        ("zero_row3", &[0.5773502691896257, 0.5773502691896258, 1.1547005383792515]), // scipy root
        ("d1_aligned", &[1.7320508075688772]), // scipy root
        ("conflict2", &[0.5052083736995442, 1.3144123248164234, -0.1307086053576698]), // scipy root
        ("all_zero3", &[0.0, 0.0, 0.0]), // scipy root
        ("rank2_t3", &[1.350216472591744, 1.0848573533612185]), // scipy root
        ("t4", &[0.01740567426873818, 1.151035568108611, 1.096620864539226, 0.961248725936648, 0.5821150685819918, 0.4575803500198985]), // scipy root
    ];
    /// Cases where 0 is in the hull of the non-zero gradients (no solution).
    #[rustfmt::skip]
    const INFEASIBLE: &[&str] = &["d1_mixed", "opposite2", "cone_edge3"];
    // END GENERATED nash_mtl

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap()).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("nash_mtl", REFERENCE, 1e-9, lambda_of);
    }

    /// g_i · d = 1/α_i for every non-zero task.
    #[test]
    fn solves_the_defining_equation() {
        for (name, _) in REFERENCE {
            let rows = rows_of(name);
            let alpha = lambda_of(&rows);
            let d = direction(&rows, &alpha);
            for (g, a) in rows.iter().zip(&alpha) {
                if dot(g, g) > 0.0 {
                    assert!((dot(g, &d) * a - 1.0).abs() < 1e-10, "{name}");
                } else {
                    assert_eq!(*a, 0.0);
                }
            }
        }
    }

    #[test]
    fn reference_infeasible_cases_are_errors() {
        for name in INFEASIBLE {
            let k = Gram::from_rows(&rows_of(name)).unwrap();
            assert_eq!(coefficients(&k), Err(GramError::NashInfeasible), "{name}");
        }
    }

    /// Two unit gradients θ from opposite: g1 = (1, 0), g2 = (−cos θ, sin θ), cosine
    /// c = −cos θ, so α_1 = α_2 = 1/√(1 + c) with 1 + c = 2 sin²(θ/2) (the closed form, taken
    /// without the Gram matrix's cancellation). From θ = 1e-3 rad the residual cannot reach
    /// 1e-10 in f64 (the solve failed there before); the answer must still hold to what the
    /// rounding of 1 + c in the Gram matrix allows, ~ε/(1 + c) relative.
    #[test]
    fn nearly_opposite_gradients_solve_to_f64_precision() {
        for theta in [1e-2_f64, 1e-3, 1e-4, 1e-5, 1e-6] {
            let rows = vec![vec![1.0, 0.0], vec![-theta.cos(), theta.sin()]];
            let one_plus_c = 2.0 * (theta / 2.0).sin().powi(2);
            let expected = 1.0 / one_plus_c.sqrt();
            let alpha = lambda_of(&rows);
            let tolerance = 1e-9 + 8.0 * f64::EPSILON / one_plus_c;
            for a in &alpha {
                let error = (a - expected).abs() / expected;
                assert!(error < tolerance, "θ = {theta}: α {a} against {expected}");
            }
        }
    }

    #[test]
    fn infeasible_and_degenerate_inputs() {
        let opposite = vec![vec![1.0, 2.0], vec![-1.0, -2.0]];
        let k = Gram::from_rows(&opposite).unwrap();
        assert_eq!(coefficients(&k), Err(GramError::NashInfeasible));
        let mixed_1d = vec![vec![2.0], vec![-1.0], vec![3.0]];
        assert_eq!(
            coefficients(&Gram::from_rows(&mixed_1d).unwrap()),
            Err(GramError::NashInfeasible)
        );
        let all_zero = vec![vec![0.0; 2]; 3];
        assert_eq!(lambda_of(&all_zero), vec![0.0; 3]);
        let one_left = vec![vec![0.0, 0.0], vec![3.0, 4.0]];
        assert_eq!(lambda_of(&one_left), vec![0.0, 0.2]);
    }
}
