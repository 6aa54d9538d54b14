//! IMTL-G (Liu et al. 2021, "Towards Impartial Multi-task Learning"), gradient
//! part: find d = Σ α_i g_i with Σ α_i = 1 whose projections onto all unit
//! gradients u_i = g_i/‖g_i‖ are equal. Closed form (paper, LibMTL):
//! α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹, D rows g_1 − g_i, U rows u_1 − u_i (i = 2..T),
//! α_1 = 1 − Σ_{i≥2} α_i.
//!
//! From K alone, with n_i = √K_ii (so g_a · u_b = K_ab / n_b):
//! * (g_1 Uᵀ)_b = g_1 · (u_1 − u_b) = K_11/n_1 − K_1b/n_b,
//! * (D Uᵀ)_ab = (g_1 − g_a) · (u_1 − u_b)
//!   = K_11/n_1 − K_1b/n_b − K_a1/n_1 + K_ab/n_b,
//!
//! and the row vector α_{2..T} solves α (D Uᵀ) = g_1 Uᵀ, i.e. (D Uᵀ)ᵀ αᵀ = (g_1 Uᵀ)ᵀ.
//! Equation b says d · (u_1 − u_b) = 0 with d = (1 − Σα) g_1 + Σ α_a g_a.
//!
//! Choices:
//! * Singular D Uᵀ (identical or collinear rows, D < T − 1): the conditions
//!   Σα = 1, d·u_1 = d·u_b (b ≥ 2) do not fix α. We return the minimum-norm α
//!   (least squares if inconsistent) of exactly these T equations, written
//!   [1ᵀ; C] α = e_1 with C_b = K_1·/n_1 − K_b·/n_b, via a Jacobi SVD
//!   pseudo-inverse. This is symmetric in the tasks (the closed form is not) and
//!   equals the closed form whenever D Uᵀ is invertible. TorchJD instead uses
//!   α ∝ K⁺ n, which agrees when K is invertible but not, e.g., for D < T.
//! * Zero rows have no unit vector: they get α = 0 and IMTL-G is solved on the
//!   others (their coefficient cannot change d anyway). One non-zero task left →
//!   α = 1 for it; none → all 0.
//!
//! Degenerate inputs: all-zero G → λ = 0; D = 1 aligned → uniform α (every α with
//! Σα = 1 qualifies); D = 1 mixed signs → the α making d = 0 nearest to 0.

use super::gram::{Gram, GramError, min_norm_least_squares, solve};
use super::combine::{GradientRule, Stateless};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "imtl",
    description: "Liu et al. 2021 (IMTL-G): λ in closed form so the update has equal projections on every task's unit gradient; implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradientRule(Stateless(coefficients)))),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GradientRule(Stateless(coefficients))))),
    label: None,
};

/// Singularity threshold for D Uᵀ relative to its largest entry.
const SINGULAR_REL_TOL: f64 = 1e-10;

/// IMTL-G coefficients α (Σα = 1 over the non-zero tasks).
pub fn coefficients(k: &Gram) -> Result<Vec<f64>, GramError> {
    let active = k.nonzero_tasks();
    let mut alpha = vec![0.0; k.tasks()];
    if active.is_empty() {
        return Ok(alpha);
    }
    let sub = k.submatrix(&active);
    let sub_alpha = closed_form(&sub).unwrap_or_else(|| minimum_norm_solution(&sub));
    for (&i, a) in active.iter().zip(sub_alpha) {
        alpha[i] = a;
    }
    Ok(alpha)
}

/// α from α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹; `None` when D Uᵀ is singular.
fn closed_form(k: &Gram) -> Option<Vec<f64>> {
    let tasks = k.tasks();
    if tasks == 1 {
        return Some(vec![1.0]);
    }
    let n: Vec<f64> = (0..tasks).map(|i| k.norm(i)).collect();
    let g1_dot_u = |b: usize| k.at(0, b) / n[b];
    let g1_u_t: Vec<f64> = (1..tasks)
        .map(|b| k.at(0, 0) / n[0] - g1_dot_u(b))
        .collect();
    let d_u_t: Vec<Vec<f64>> = (1..tasks)
        .map(|a| {
            (1..tasks)
                .map(|b| k.at(0, 0) / n[0] - g1_dot_u(b) - k.at(a, 0) / n[0] + k.at(a, b) / n[b])
                .collect()
        })
        .collect();
    let transposed: Vec<Vec<f64>> = (0..tasks - 1)
        .map(|b| d_u_t.iter().map(|row| row[b]).collect())
        .collect();
    let largest = d_u_t.iter().flatten().fold(0.0_f64, |m, x| m.max(x.abs()));
    let tail = solve(&transposed, &g1_u_t, SINGULAR_REL_TOL * largest)?;
    let mut alpha = vec![1.0 - tail.iter().sum::<f64>()];
    alpha.extend(tail);
    Some(alpha)
}

/// Minimum-norm α of Σα = 1, (Kα)_1/n_1 − (Kα)_b/n_b = 0 (b ≥ 2).
fn minimum_norm_solution(k: &Gram) -> Vec<f64> {
    let tasks = k.tasks();
    let n: Vec<f64> = (0..tasks).map(|i| k.norm(i)).collect();
    let mut system = vec![vec![1.0; tasks]];
    system.extend((1..tasks).map(|b| {
        (0..tasks)
            .map(|j| k.at(0, j) / n[0] - k.at(b, j) / n[b])
            .collect()
    }));
    let mut rhs = vec![0.0; tasks];
    rhs[0] = 1.0;
    min_norm_least_squares(&system, &rhs, SINGULAR_REL_TOL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::gram::dot;
    use crate::weighting::reference_cases::{check_against_reference, rows_of};

    // BEGIN GENERATED imtl (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: numpy on explicit vectors (LibMTL's formula).
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.2040848375835964, 0.17354098069587365, -0.053787542486342876, 0.41982766905871216]), // numpy closed form; torchjd IMTLG 5.8e-16
        ("aligned3", &[0.6676658831993963, 0.7096403282371664, 0.48886084696373927, 0.26291730850123746]), // numpy closed form; torchjd IMTLG 1.1e-15
        ("collinear3", &[0.1989810643222653, 0.20905532208623004, 0.3723159318846273]), // numpy min-norm fallback
        ("identical3", &[-0.21785474592542522, 0.5897972880426141, 0.16147805095205905]), // numpy min-norm fallback
        ("unequal3", &[4.591329194416153e-07, 7.064485607977849e-07, 7.660071131836327e-07, 8.69205027653733e-07]), // numpy closed form
        ("zero_row3", &[0.20000000000000004, 0.19999999999999996, 0.39999999999999997]), // numpy closed form
        ("d1_mixed", &[0.0]), // numpy min-norm fallback
        ("d1_aligned", &[2.333333333333333]), // numpy min-norm fallback
        ("conflict2", &[0.2097575489292851, 0.5457310723434378, -0.054268927656562244]), // numpy closed form; torchjd IMTLG 3.7e-16
        ("opposite2", &[0.0, 0.0, 0.0]), // numpy closed form
        ("all_zero3", &[0.0, 0.0, 0.0]), // numpy all-zero
        ("rank2_t3", &[0.0, 0.0]), // numpy closed form
        ("cone_edge3", &[0.0, 0.0]), // numpy closed form
        ("t4", &[0.04890197456684295, 0.3478751099989541, 0.28373436621509873, 0.27250332256112114, 0.134066385606392, 0.10569771043909779]), // numpy closed form; torchjd IMTLG 6.8e-16
    ];
    // END GENERATED imtl

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap()).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("imtl", REFERENCE, 1e-9, lambda_of);
    }

    /// d has equal projections on every non-zero unit gradient, and Σα = 1.
    #[test]
    fn projections_are_equal() {
        for name in [
            "conflict3",
            "aligned3",
            "unequal3",
            "zero_row3",
            "identical3",
            "t4",
        ] {
            let rows = rows_of(name);
            let alpha = lambda_of(&rows);
            assert!((alpha.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{name}");
            let d = direction(&rows, &alpha);
            let projections: Vec<f64> = rows
                .iter()
                .filter(|g| dot(g, g) > 0.0)
                .map(|g| dot(g, &d) / dot(g, g).sqrt())
                .collect();
            let scale = projections.iter().fold(0.0_f64, |m, p| m.max(p.abs()));
            for p in &projections {
                assert!(
                    (p - projections[0]).abs() <= 1e-9 * scale,
                    "{name}: {projections:?}"
                );
            }
        }
    }

    #[test]
    fn degenerate_inputs_are_finite() {
        let all_zero = vec![vec![0.0; 2]; 3];
        assert_eq!(lambda_of(&all_zero), vec![0.0; 3]);
        let aligned_1d = vec![vec![1.0], vec![2.0], vec![4.0]];
        let alpha = lambda_of(&aligned_1d);
        assert!(alpha.iter().all(|a| (a - 1.0 / 3.0).abs() < 1e-14));
        let mixed_1d = vec![vec![2.0], vec![-1.0], vec![3.0]];
        let d = direction(&mixed_1d, &lambda_of(&mixed_1d));
        assert!(d[0].abs() < 1e-14);
        let one_left = vec![vec![0.0, 0.0], vec![0.0, 0.0], vec![3.0, 4.0]];
        assert_eq!(lambda_of(&one_left), vec![0.0, 0.0, 1.0]);
    }
}
