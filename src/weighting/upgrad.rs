//! UPGrad (Quinton & Rey 2024, "Jacobian Descent for Multi-Objective
//! Optimization", TorchJD): each g_i is projected onto the dual cone
//! {x : G x ≥ 0}; the projection of Gᵀu is Gᵀw with w = argmin_{w ≥ u} wᵀKw
//! (the paper's Proposition 1). With TorchJD's default preference vector 1/T,
//! u = e_i/T, so d = (1/T) Σ_i π(g_i) and λ = (1/T) Σ_i w_i, w_i = argmin_{w ≥ e_i} wᵀKw.
//!
//! Choices versus TorchJD 0.18 (`UPGradWeighting()` + `QuadprogProjector`):
//! * Mean of the projections (pref_vector 1/T), as TorchJD — not the sum.
//! * No regularisation: TorchJD divides K by its trace (giving K = 0 when the
//!   trace is below `norm_eps` = 1e-4, i.e. ‖G‖_F < 1e-2 — then λ = 1/T) and adds
//!   `reg_eps` = 1e-4 · I before quadprog, which shifts the answer by O(1e-4). We
//!   solve the exact QP by active-set enumeration
//!   ([`super::gram::min_quadratic_above`]). The test reference is TorchJD with
//!   `QuadprogProjector(norm_eps=0, reg_eps=1e-13)` (quadprog needs K + εI
//!   positive definite), or scipy NNLS where that regularisation still dominates
//!   (bench/aggregate_reference.py); TorchJD's defaults differ from the exact
//!   answer by up to ~1e-3 relative on the test matrices.
//!
//! Degenerate inputs: a zero row's projection is 0 (its w stays e_i, contributing
//! nothing); all-zero G → λ = 1/T, d = 0; identical rows and D = 1 are ordinary
//! (w may be non-unique there, Gᵀw is unique). Guarantee: G d ≥ 0 up to rounding.

use super::gram::{Gram, GramError, min_quadratic_above, unit_vector};
use super::combine::{GradientRule, Stateless};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "upgrad",
    description: "Quinton & Rey 2024 (UPGrad, TorchJD): each task's gradient projected onto the dual cone {v : Gv ≥ 0}, averaged; implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradientRule(Stateless(coefficients)))),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GradientRule(Stateless(coefficients))))),
    label: None,
};

/// UPGrad coefficients λ = (1/T) Σ_i argmin_{w ≥ e_i} wᵀKw.
pub fn coefficients(k: &Gram) -> Result<Vec<f64>, GramError> {
    let tasks = k.tasks();
    let mut lambda = vec![0.0; tasks];
    for i in 0..tasks {
        let w = min_quadratic_above(k, &unit_vector(tasks, i));
        for (l, wi) in lambda.iter_mut().zip(w) {
            *l += wi / tasks as f64;
        }
    }
    Ok(lambda)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::reference_cases::{
        assert_directions_in_dual_cone, check_against_reference, rows_of,
    };

    // BEGIN GENERATED upgrad (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: TorchJD 0.18.0 QuadprogProjector / scipy nnls.
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.416590302871026, 0.517982184729399, -0.15214990531693373, 0.9890576582705983]), // torchjd reg 1e-13; nnls 4.0e-13; torchjd defaults 4.0e-04
        ("aligned3", &[0.7999999999999998, 0.6333333333333332, 0.36666666666666664, 0.19999999999999998]), // torchjd reg 1e-13; nnls 1.6e-16; torchjd defaults 2.3e-16
        ("collinear3", &[0.5299086757897136, 0.31392694063034676, 0.7376712328601411]), // torchjd reg 1e-13; nnls 2.2e-11; torchjd defaults 4.7e-04
        ("identical3", &[-0.12640722011101535, 0.8876814274861051, 0.11005920809785327]), // torchjd reg 1e-13; nnls 9.7e-11; torchjd defaults 8.8e-05
        ("unequal3", &[194.09290207124454, -53.044466250750325, 107.64592060160398, 218.0592549210521]), // nnls (torchjd reg 1e-13 off by 1.9e-01); torchjd defaults 3.1e-01
        ("zero_row3", &[0.21546666666665024, 0.21546666666665024, 0.4309333333333004]), // torchjd reg 1e-13; nnls 7.6e-14; torchjd defaults 7.6e-05
        ("d1_mixed", &[0.0]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 7.6e-04
        ("d1_aligned", &[2.333333333231718]), // torchjd reg 1e-13; nnls 4.4e-11; torchjd defaults 4.4e-11
        ("conflict2", &[0.29642857142855045, 0.787857142857096, -0.07571428571427982]), // torchjd reg 1e-13; nnls 6.1e-14; torchjd defaults 6.1e-05
        ("opposite2", &[0.0, 0.0, 0.0]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 1.1e-16
        ("all_zero3", &[0.0, 0.0, 0.0]), // nnls (torchjd not applicable)
        ("rank2_t3", &[0.6066124241487868, 0.3774764303854124]), // torchjd reg 1e-13; nnls 9.2e-11; torchjd defaults 8.5e-05
        ("cone_edge3", &[0.0, 0.3333333333333333]), // torchjd reg 1e-13; nnls 0.0e+00; torchjd defaults 0.0e+00
        ("t4", &[0.04971183038833704, 0.5838221296468609, 0.535123639079731, 0.46454129248205034, 0.2549620522749574, 0.21793464556597233]), // torchjd reg 1e-13; nnls 2.3e-13; torchjd defaults 2.3e-04
    ];
    // END GENERATED upgrad

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap()).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("upgrad", REFERENCE, 1e-7, lambda_of);
    }

    #[test]
    fn direction_is_in_the_dual_cone() {
        assert_directions_in_dual_cone(REFERENCE, lambda_of);
    }

    #[test]
    fn non_conflicting_gradients_give_the_mean() {
        let rows = rows_of("aligned3");
        let lambda = lambda_of(&rows);
        assert!(lambda.iter().all(|l| (l - 1.0 / 3.0).abs() < 1e-15));
    }

    #[test]
    fn degenerate_inputs_are_finite() {
        let zeros = vec![vec![0.0; 2]; 3];
        assert_eq!(lambda_of(&zeros), vec![1.0 / 3.0; 3]);
        let opposite = vec![vec![1.0, 1.0], vec![-1.0, -1.0]];
        let d = direction(&opposite, &lambda_of(&opposite));
        assert!(d.iter().all(|x| x.abs() < 1e-15));
    }
}
