//! DualProj (TorchJD; the projection of Lopez-Paz & Ranzato 2017, GEM, Eq. 11):
//! the mean g0 = (1/T) Σ g_i projected onto the dual cone {x : G x ≥ 0}:
//! λ = argmin_{w ≥ (1/T)·1} wᵀKw, d = Σ λ_i g_i.
//!
//! Choices versus TorchJD 0.18 (`DualProjWeighting()` + `QuadprogProjector`):
//! preference vector 1/T (TorchJD's default) and no trace normalisation or
//! `reg_eps` regularisation — the QP is solved exactly by active-set enumeration
//! ([`super::gram::min_quadratic_above`]); see [`super::upgrad`] for the details.
//!
//! Degenerate inputs: all-zero G → λ = 1/T, d = 0; a zero row keeps its 1/T
//! (it contributes nothing); 0 in the hull (e.g. opposite rows) → d = 0.
//! Guarantee: G d ≥ 0 up to rounding.

use super::gram::{Gram, GramError, min_quadratic_above};
use super::combine::{GradientRule, Stateless};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "dualproj",
    description: "TorchJD's DualProj: the mean gradient projected onto the dual cone {v : Gv ≥ 0}; implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradientRule(Stateless(coefficients)))),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GradientRule(Stateless(coefficients))))),
    label: None,
};

/// DualProj coefficients λ = argmin_{w ≥ 1/T} wᵀKw.
pub fn coefficients(k: &Gram) -> Result<Vec<f64>, GramError> {
    let tasks = k.tasks();
    Ok(min_quadratic_above(k, &vec![1.0 / tasks as f64; tasks]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::gram::dot;
    use crate::weighting::reference_cases::{
        assert_directions_in_dual_cone, check_against_reference, rows_of,
    };

    // BEGIN GENERATED dualproj (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: TorchJD 0.18.0 QuadprogProjector / scipy nnls.
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.06666666666666667, 0.39999999999999997, -0.1, 0.4]), // torchjd reg 1e-13; nnls 4.8e-17; torchjd defaults 0.0e+00
        ("aligned3", &[0.8, 0.6333333333333332, 0.3666666666666667, 0.19999999999999998]), // torchjd reg 1e-13; nnls 1.5e-16; torchjd defaults 2.8e-16
        ("collinear3", &[0.49657534243717877, 0.14726027394649693, 0.5376712328273394]), // torchjd reg 1e-13; nnls 8.4e-11; torchjd defaults 6.4e-04
        ("identical3", &[0.033333333256848674, 0.733333333180364, 4.589078931675298e-11]), // torchjd reg 1e-13; nnls 2.4e-10; torchjd defaults 2.4e-10
        ("unequal3", &[194.16296296296292, -53.14074074074077, 107.39259259259262, 217.95555555555555]), // nnls (torchjd reg 1e-13 off by 1.9e-01); torchjd defaults 3.1e-01
        ("zero_row3", &[0.13333333333333333, 0.13333333333333333, 0.26666666666666666]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 0.0e+00
        ("d1_mixed", &[0.0]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 7.8e-04
        ("d1_aligned", &[2.333333332622024]), // torchjd reg 1e-13; nnls 3.0e-10; torchjd defaults 3.0e-10
        ("conflict2", &[0.2, 0.55, -0.05000000000000002]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 1.1e-16
        ("opposite2", &[0.0, 0.0, 0.0]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 0.0e+00
        ("all_zero3", &[0.0, 0.0, 0.0]), // nnls (torchjd not applicable)
        ("rank2_t3", &[0.466666666735466, 0.2666666666873065]), // torchjd reg 1e-13; nnls 1.3e-10; torchjd defaults 1.3e-10
        ("cone_edge3", &[0.0, 0.3333333333333333]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 0.0e+00
        ("t4", &[-0.04999999999999999, 0.3, 0.325, 0.24999999999999997, 0.2, 0.14999999999999997]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 1.1e-16
    ];
    // END GENERATED dualproj

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap()).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("dualproj", REFERENCE, 1e-7, lambda_of);
    }

    #[test]
    fn direction_is_in_the_dual_cone() {
        assert_directions_in_dual_cone(REFERENCE, lambda_of);
    }

    #[test]
    fn non_conflicting_mean_is_unchanged() {
        let lambda = lambda_of(&rows_of("aligned3"));
        assert!(lambda.iter().all(|l| (l - 1.0 / 3.0).abs() < 1e-15));
    }

    #[test]
    fn identical_tasks_and_opposite_tasks() {
        let identical = vec![vec![1.0, 0.0], vec![1.0, 0.0], vec![-1.0, 1.0]];
        let d = direction(&identical, &lambda_of(&identical));
        assert!(d.iter().all(|x| x.is_finite()));
        for g in &identical {
            assert!(dot(g, &d) >= -1e-15);
        }
        let opposite = vec![vec![1.0, 1.0], vec![-1.0, -1.0]];
        let d = direction(&opposite, &lambda_of(&opposite));
        assert!(d.iter().all(|x| x.abs() < 1e-15));
    }
}
