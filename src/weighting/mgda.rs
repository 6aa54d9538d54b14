//! MGDA (Sener & Koltun 2018, "Multi-Task Learning as Multi-Objective
//! Optimization"): λ = argmin_{λ ≥ 0, Σλ = 1} ‖Σ_i λ_i g_i‖² = argmin λᵀKλ over
//! the simplex, d = Σ λ_i g_i (the minimum-norm point of the convex hull of the g's).
//!
//! Choices:
//! * Solved exactly by enumerating the faces of the simplex
//!   ([`super::gram::min_norm_hull_weights`]), not by the paper's early-stopped
//!   Frank–Wolfe (LibMTL and TorchJD stop at a tolerance of 1e-3 on the step).
//! * The direction d is unique, λ need not be (identical or collinear rows): the
//!   first optimal face in enumeration order (smallest support first by bitmask)
//!   is returned, which is a valid minimiser.
//! * No "loss"/"l2" gradient normalisation (LibMTL's `mgda_gn` option): the rule
//!   sees raw gradients, as in the paper's basic algorithm.
//!
//! Degenerate inputs: a zero row gives d = 0 with λ = e_zero (0 is in the hull);
//! 0 in the hull generally gives d = 0; all-zero G gives λ = e_0 and d = 0.

use super::gram::{Gram, GramError, min_norm_hull_weights};
use super::combine::{GradientRule, Stateless};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "mgda",
    description: "Sener & Koltun 2018 (MGDA): the update is the minimum-norm point of the convex hull of the tasks' gradients, solved exactly; implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradientRule(Stateless(coefficients)))),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GradientRule(Stateless(coefficients))))),
    label: None,
};

/// Simplex weights of the minimum-norm point of conv{g_i}.
pub fn coefficients(k: &Gram) -> Result<Vec<f64>, GramError> {
    Ok(min_norm_hull_weights(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::gram::dot;
    use crate::weighting::reference_cases::{check_against_reference, rows_of};

    // BEGIN GENERATED mgda (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: scipy 1.17.1 nnls (exact active set).
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.21465671795245275, 0.1569160842306382, -0.05002377581335771, 0.4210807927841478]), // nnls; cvxpy 9.0e-16, torchjd FW 3.3e-12
        ("aligned3", &[0.813594662218516, 0.46922435362802273, 0.5103836530442034, 0.15091743119266027]), // nnls; cvxpy 1.7e-14, torchjd FW 4.9e-12
        ("collinear3", &[0.17573114417650082, 0.17880964597229346, 0.3227296049256029]), // nnls; cvxpy 1.1e-15, torchjd FW 3.9e-05
        ("identical3", &[-0.22668621700879768, 0.5847507331378299, 0.16715542521994134]), // nnls; cvxpy 3.5e-15, torchjd FW 0.0e+00
        ("unequal3", &[3.001825147899208e-07, 8.764946511790029e-07, -6.20660864332647e-08, 2.4446118278955076e-07]), // nnls; cvxpy 2.0e+01, torchjd FW 4.1e-05
        ("zero_row3", &[0.0, 0.0, 0.0]), // nnls; cvxpy 1.1e-04, torchjd FW 0.0e+00
        ("d1_mixed", &[0.0]), // nnls; cvxpy 3.2e-17, torchjd FW 3.7e-17
        ("d1_aligned", &[1.0]), // nnls; cvxpy 0.0e+00, torchjd FW 0.0e+00
        ("conflict2", &[0.213559322033898, 0.5440677966101696, -0.055932203389830376]), // nnls; cvxpy 4.8e-16, torchjd FW 5.3e-16
        ("opposite2", &[0.0, 0.0, 0.0]), // nnls; cvxpy 0.0e+00, torchjd FW 0.0e+00
        ("all_zero3", &[0.0, 0.0, 0.0]), // nnls; cvxpy 0.0e+00, torchjd FW 0.0e+00
        ("rank2_t3", &[0.24390243902439032, 0.1951219512195121]), // nnls; cvxpy 7.1e-16, torchjd FW 5.0e-05
        ("cone_edge3", &[0.0, 0.0]), // nnls; cvxpy 1.6e-04, torchjd FW 1.6e-03
        ("t4", &[0.03591052710175008, 0.3438904464812705, 0.2858768021721992, 0.27055395013991623, 0.14376265066173158, 0.10898080550794285]), // nnls; cvxpy 1.1e-14, torchjd FW 8.3e-12
    ];
    // END GENERATED mgda

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap()).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("mgda", REFERENCE, 1e-8, lambda_of);
    }

    /// d is the min-norm point: KKT g_i·d ≥ ‖d‖², and no vertex or edge point is shorter.
    #[test]
    fn direction_is_min_norm_point() {
        for (name, _) in REFERENCE {
            let rows = rows_of(name);
            let lambda = lambda_of(&rows);
            assert!(lambda.iter().all(|&x| x >= 0.0));
            assert!((lambda.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let d = direction(&rows, &lambda);
            let d_sq = dot(&d, &d);
            let scale = rows.iter().map(|r| dot(r, r)).fold(0.0, f64::max);
            for g in &rows {
                assert!(dot(g, &d) >= d_sq - 1e-9 * scale, "{name}: KKT");
            }
            for a in &rows {
                for b in &rows {
                    for step in 0..=100 {
                        let t = f64::from(step) / 100.0;
                        let p: Vec<f64> = a
                            .iter()
                            .zip(b)
                            .map(|(x, y)| (1.0 - t) * x + t * y)
                            .collect();
                        assert!(
                            dot(&p, &p) >= d_sq * (1.0 - 1e-12) - 1e-15 * scale,
                            "{name}: edge point shorter"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn identical_and_collinear_rows_give_valid_minimiser() {
        let rows = vec![vec![1.0, 2.0], vec![1.0, 2.0], vec![-1.0, 0.5]];
        let d = direction(&rows, &lambda_of(&rows));
        // Min-norm point of segment [(1,2), (-1,0.5)]: t = a·(a−b)/‖a−b‖².
        let t = (1.0 * 2.0 + 2.0 * 1.5) / (4.0 + 2.25);
        let expected = [1.0 - 2.0 * t, 2.0 - 1.5 * t];
        assert!((d[0] - expected[0]).abs() < 1e-15 && (d[1] - expected[1]).abs() < 1e-15);
    }

    #[test]
    fn zero_row_and_all_zero_give_zero_direction() {
        let rows = vec![vec![1.0, 2.0], vec![0.0, 0.0], vec![3.0, -1.0]];
        assert_eq!(direction(&rows, &lambda_of(&rows)), vec![0.0, 0.0]);
        let zeros = vec![vec![0.0; 3]; 3];
        let lambda = lambda_of(&zeros);
        assert!(lambda.iter().all(|x| x.is_finite()));
        assert_eq!(direction(&zeros, &lambda), vec![0.0; 3]);
    }

    #[test]
    fn unequal_norms_pick_the_small_gradient_side() {
        let rows = vec![vec![1e-6, 0.0], vec![0.0, 1e3]];
        let d = direction(&rows, &lambda_of(&rows));
        // Nearest point of the segment to 0 is g1 + 1e-18 (g2 − g1): g1 up to rounding.
        assert!((d[0] - 1e-6).abs() < 1e-20 && (0.0..=1e-14).contains(&d[1]));
    }
}
