//! Aligned-MTL (Senushkin et al. 2023, "Independent Component Alignment for
//! Multi-Task Learning"), uniform preferences.
//!
//! With K = V Λ Vᵀ and the SVD G = V Λ^{1/2} Wᵀ, the aligned gradient matrix is
//! Ĝ = √λ_min · V Wᵀ = B G with B = √λ_min · V Λ^{-1/2} Vᵀ: its singular values
//! are all √λ_min (the rows' principal components rescaled to equal norm). With
//! uniform preference weights 1 the update is d = 1ᵀĜ = (B 1)ᵀ G, so
//! λ = B 1 (row sums of B; B is symmetric, so row and column sums agree).
//!
//! Choices:
//! * Rank: eigenvalues λ_k > tol = max(Λ) · T · f64::EPSILON are kept (TorchJD's
//!   rule in f64; LibMTL uses the same with the tensor's dtype); V, Λ and λ_min are
//!   restricted to them. Jacobi eigen-decomposition in f64.
//! * Sum over tasks (preference weights 1, as LibMTL's `alpha = B.sum(0)`); TorchJD
//!   uses the mean (weights 1/T), i.e. our d / T.
//! * Scale λ_min ("min" mode, the paper's default).
//!
//! Degenerate inputs: rank 0 (all-zero G) → λ = 0. A zero row, identical rows and
//! collinear rows just lower the rank. Hugely unequal norms: an eigenvalue under
//! tol (e.g. 1e-12 vs 1e6, below f64 resolution of the decomposition) is dropped,
//! so the tiny task's direction is ignored.

use super::gram::{Gram, GramError, symmetric_eigen};
use super::combine::{GradientRule, Stateless};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "aligned-mtl",
    description: "Senushkin et al. 2023 (Aligned-MTL): the Gram matrix's eigenvectors rescaled to equal norms, uniform preferences; implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradientRule(Stateless(coefficients)))),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GradientRule(Stateless(coefficients))))),
    label: None,
};

/// Aligned-MTL coefficients λ = B 1.
pub fn coefficients(k: &Gram) -> Result<Vec<f64>, GramError> {
    let tasks = k.tasks();
    let eigen = symmetric_eigen(&k.to_rows());
    let largest = eigen.values.first().copied().unwrap_or(0.0);
    let tol = largest * tasks as f64 * f64::EPSILON;
    let kept: Vec<usize> = (0..tasks)
        .filter(|&r| eigen.values[r] > tol && eigen.values[r] > 0.0)
        .collect();
    let Some(&smallest) = kept.last() else {
        return Ok(vec![0.0; tasks]);
    };
    let sqrt_min = eigen.values[smallest].sqrt();
    let mut lambda = vec![0.0; tasks];
    for &r in &kept {
        let v = &eigen.vectors[r];
        let v_sum: f64 = v.iter().sum();
        let weight = sqrt_min / eigen.values[r].sqrt() * v_sum;
        for (l, vi) in lambda.iter_mut().zip(v) {
            *l += weight * vi;
        }
    }
    Ok(lambda)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::gram::dot;
    use crate::weighting::reference_cases::check_against_reference;

    // BEGIN GENERATED aligned_mtl (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: TorchJD 0.18.0 AlignedMTL (float64) times T.
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.5078645338052599, 0.6402961321792955, -0.1832221290072802, 1.202844123737322]), // torchjd x T
        ("aligned3", &[0.4493128313394706, 0.3350527538832777, 0.23298493947893956, 0.10751491278789757]), // torchjd x T
        ("collinear3", &[0.7867488313896596, 0.2860267648084668, 0.9069702601917703]), // torchjd x T
        ("identical3", &[-0.2996337044451229, 1.6798163436784153, 0.24815273524413345]), // torchjd x T
        ("unequal3", &[0.34059281499906285, -0.28036306852673026, 0.9203319116908537, 0.8206580825822409]), // torchjd x T
        ("zero_row3", &[0.3999999999999999, 0.4, 0.7999999999999998]), // torchjd x T
        ("d1_mixed", &[4.0]), // torchjd x T
        ("d1_aligned", &[6.999999999999999]), // torchjd x T
        ("conflict2", &[0.4165766291539979, 1.0923785148590228, -0.10727399348346842]), // torchjd x T
        ("opposite2", &[0.0, 0.0, 0.0]), // torchjd x T
        ("all_zero3", &[0.0, 0.0, 0.0]), // torchjd x T
        ("rank2_t3", &[1.207140204508844, 0.9235704844469252]), // torchjd x T
        ("cone_edge3", &[0.0, 1.0]), // torchjd x T
        ("t4", &[0.0015711718055084756, 1.2315210633220852, 1.1680989169093934, 1.008178006817528, 0.6343911548990743, 0.4907065630532138]), // torchjd x T
    ];
    // END GENERATED aligned_mtl

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap()).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("aligned_mtl", REFERENCE, 1e-9, lambda_of);
    }

    /// Orthogonal gradients are rescaled to the smallest norm and summed.
    #[test]
    fn orthogonal_rows_are_equalised() {
        let rows = vec![
            vec![3.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 2.0],
        ];
        let d = direction(&rows, &lambda_of(&rows));
        for x in d {
            assert!((x - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn degenerate_inputs_are_finite() {
        assert_eq!(lambda_of(&vec![vec![0.0; 2]; 3]), vec![0.0; 3]);
        let identical = vec![vec![1.0, 2.0], vec![1.0, 2.0], vec![0.0, 0.0]];
        let d = direction(&identical, &lambda_of(&identical));
        // Rank 1 with v = (1, 1, 0)/√2: B = v vᵀ, λ = (1, 1, 0), d = g1 + g2.
        assert!(d.iter().all(|x| x.is_finite()));
        assert!((dot(&d, &[1.0, 2.0]) - dot(&[2.0, 4.0], &[1.0, 2.0])).abs() < 1e-12);
    }
}
