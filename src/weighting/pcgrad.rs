//! PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning"): for each
//! task i, g_i' ← g_i, then for each j ≠ i in a random order, if g_i' · g_j < 0:
//! g_i' ← g_i' − (g_i' · g_j / ‖g_j‖²) g_j; finally d = Σ_i g_i'.
//!
//! Each projected g_i' is tracked as coefficients c_i in the basis of the original
//! g's (g_i' = Σ_k c_ik g_k), so g_i' · g_j = Σ_k c_ik K_kj and a projection only
//! changes c_ij. λ = Σ_i c_i.
//!
//! Choices:
//! * Projections use the ORIGINAL g_j (as in the paper, LibMTL and TorchJD).
//! * A fresh order for every i and every step, as in the paper's Algorithm 1,
//!   drawn with a `ChaCha8Rng` seeded by the run's seed (so runs are reproducible).
//! * The sum Σ g_i' (not the mean), as in the paper and TorchJD.
//! * A conflict is a strictly negative dot product, as in the paper.
//!
//! Degenerate inputs: a zero g_j is never projected onto (its dot with anything is
//! 0, and ‖g_j‖² = 0 would divide by zero); a zero g_i stays zero. All-zero G gives
//! λ = 1 and d = 0. Exactly opposite g's project each other to 0.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::gram::{Gram, GramError};
use super::combine::{Combiner, GradientRule};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "pcgrad",
    description: "Yu et al. 2020 (PCGrad): each task's gradient projected off the others it conflicts with, in a random order drawn from the run's seed, then summed; implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |_settings, env| Ok(Box::new(GradientRule(PcGrad::new(env.seed ^ PCGRAD_TAG)))),
    host: HostSupport::Runs(|setup| Ok(Box::new(GradientRule(PcGrad::new(setup.seed))))),
    label: None,
};

/// Mixed into the run's seed, so PCGrad's orders are not drawn from another stream's seed.
const PCGRAD_TAG: u64 = 0x9c67_ad00;

impl Combiner for PcGrad {
    fn coefficients(&mut self, gram: &Gram, _losses: &[f64]) -> Result<Vec<f64>, GramError> {
        PcGrad::coefficients(self, gram)
    }
}

/// PCGrad with its own reproducible source of projection orders.
#[derive(Debug, Clone)]
pub struct PcGrad {
    rng: ChaCha8Rng,
}

impl PcGrad {
    /// Orders are drawn from a ChaCha8 stream seeded with the run's seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Coefficients for one step; draws one fresh order per task.
    pub fn coefficients(&mut self, k: &Gram) -> Result<Vec<f64>, GramError> {
        let orders = self.draw_orders(k.tasks());
        coefficients_with_orders(k, &orders)
    }

    /// For each task i, the other tasks in a uniformly random order.
    pub fn draw_orders(&mut self, tasks: usize) -> Vec<Vec<usize>> {
        (0..tasks)
            .map(|i| {
                let mut others: Vec<usize> = (0..tasks).filter(|&j| j != i).collect();
                others.shuffle(&mut self.rng);
                others
            })
            .collect()
    }
}

/// Deterministic PCGrad: `orders[i]` lists the tasks j ≠ i in the order in which
/// g_i' is projected onto them.
pub fn coefficients_with_orders(k: &Gram, orders: &[Vec<usize>]) -> Result<Vec<f64>, GramError> {
    let tasks = k.tasks();
    check_orders(tasks, orders)?;
    let mut lambda = vec![0.0; tasks];
    for (i, order) in orders.iter().enumerate() {
        for (total, c) in lambda.iter_mut().zip(projected_coefficients(k, i, order)) {
            *total += c;
        }
    }
    Ok(lambda)
}

/// Coefficients of g_i' after the sequential projections.
fn projected_coefficients(k: &Gram, i: usize, order: &[usize]) -> Vec<f64> {
    let mut c = super::gram::unit_vector(k.tasks(), i);
    for &j in order {
        let inner: f64 = (0..k.tasks()).map(|m| c[m] * k.at(m, j)).sum();
        let norm_sq = k.at(j, j);
        if inner < 0.0 && !k.is_zero_row(j) {
            c[j] -= inner / norm_sq;
        }
    }
    c
}

fn check_orders(tasks: usize, orders: &[Vec<usize>]) -> Result<(), GramError> {
    if orders.len() != tasks {
        return Err(GramError::InvalidOrder {
            task: orders.len().min(tasks),
        });
    }
    for (i, order) in orders.iter().enumerate() {
        let mut seen = vec![false; tasks];
        seen[i] = true;
        for &j in order {
            if j >= tasks || seen[j] {
                return Err(GramError::InvalidOrder { task: i });
            }
            seen[j] = true;
        }
        if order.len() != tasks - 1 {
            return Err(GramError::InvalidOrder { task: i });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::reference_cases::{check_against_reference, rows_of};

    // BEGIN GENERATED pcgrad (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: TorchJD 0.18.0 PCGrad, fixed cyclic order.
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.7377925939629746, 1.4591550438463372, -0.5504885438737982, 2.4995758116221456]), // torchjd, cyclic order; numpy 7.3e-17
        ("aligned3", &[2.4, 1.9, 1.1, 0.6000000000000001]), // torchjd, cyclic order; numpy 0.0e+00
        ("collinear3", &[1.5897260273972602, 0.9417808219178085, 2.213013698630137]), // torchjd, cyclic order; numpy 2.5e-16
        ("identical3", &[-0.3792216602935734, 2.663044282718638, 0.3301776242753176]), // torchjd, cyclic order; numpy 1.7e-16
        ("unequal3", &[568.7479786245307, -224.8945080982478, 331.9922385196495, 645.6982555473091]), // torchjd, cyclic order; numpy 1.3e-16
        ("zero_row3", &[0.6463999999999999, 0.6464000000000002, 1.2928]), // torchjd, cyclic order; numpy 1.6e-16
        ("d1_mixed", &[0.0]), // torchjd, cyclic order; numpy 0.0e+00
        ("d1_aligned", &[7.0]), // torchjd, cyclic order; numpy 0.0e+00
        ("conflict2", &[0.5928571428571427, 1.5757142857142856, -0.15142857142857147]), // torchjd, cyclic order; numpy 1.4e-16
        ("opposite2", &[0.0, 0.0, 0.0]), // torchjd, cyclic order; numpy 0.0e+00
        ("all_zero3", &[0.0, 0.0, 0.0]), // all-zero (TorchJD divides 0/0)
        ("rank2_t3", &[1.8198372723750484, 1.1324292909724911]), // torchjd, cyclic order; numpy 0.0e+00
        ("cone_edge3", &[0.0, 1.0]), // torchjd, cyclic order; numpy 0.0e+00
        ("t4", &[0.02847019784625826, 2.1945853371537254, 2.0442915904053076, 1.6935882660764738, 1.0896838838342036, 0.8628648783027255]), // torchjd, cyclic order; numpy 2.6e-16
    ];
    // END GENERATED pcgrad

    /// The fixed order the reference uses: task i projects onto i+1, i+2, … (mod T).
    fn cyclic_orders(tasks: usize) -> Vec<Vec<usize>> {
        (0..tasks)
            .map(|i| (1..tasks).map(|s| (i + s) % tasks).collect())
            .collect()
    }

    fn lambda_fixed(rows: &[Vec<f64>]) -> Vec<f64> {
        let k = Gram::from_rows(rows).unwrap();
        coefficients_with_orders(&k, &cyclic_orders(rows.len())).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("pcgrad", REFERENCE, 1e-12, lambda_fixed);
    }

    #[test]
    fn aligned_gradients_are_left_alone() {
        let rows = rows_of("aligned3");
        let lambda = PcGrad::new(7)
            .coefficients(&Gram::from_rows(&rows).unwrap())
            .unwrap();
        assert_eq!(lambda, vec![1.0; 3]);
    }

    #[test]
    fn two_tasks_do_not_depend_on_the_seed() {
        let k = Gram::from_rows(&rows_of("conflict2")).unwrap();
        let first = PcGrad::new(1).coefficients(&k).unwrap();
        for seed in 2..20 {
            assert_eq!(PcGrad::new(seed).coefficients(&k).unwrap(), first);
        }
    }

    #[test]
    fn seeded_orders_are_reproducible_and_vary_between_steps() {
        let mut a = PcGrad::new(42);
        let mut b = PcGrad::new(42);
        let orders: Vec<_> = (0..20).map(|_| a.draw_orders(3)).collect();
        let again: Vec<_> = (0..20).map(|_| b.draw_orders(3)).collect();
        assert_eq!(orders, again);
        assert!(orders.iter().any(|o| o != &orders[0]));
    }

    #[test]
    fn identical_tasks_and_zero_rows() {
        let rows = vec![vec![1.0, -2.0], vec![1.0, -2.0], vec![0.0, 0.0]];
        let lambda = lambda_fixed(&rows);
        assert_eq!(direction(&rows, &lambda), vec![2.0, -4.0]);
        let zeros = vec![vec![0.0; 2]; 3];
        assert_eq!(direction(&zeros, &lambda_fixed(&zeros)), vec![0.0, 0.0]);
    }

    #[test]
    fn opposite_gradients_cancel_and_unequal_norms_stay_finite() {
        let rows = vec![vec![1.0, 1.0], vec![-1.0, -1.0]];
        assert_eq!(direction(&rows, &lambda_fixed(&rows)), vec![0.0, 0.0]);
        let rows = vec![vec![1e-6, 0.0], vec![-1e3, 1e3]];
        let d = direction(&rows, &lambda_fixed(&rows));
        assert!(d.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn rejects_bad_orders() {
        let k = Gram::from_rows(&rows_of("conflict3")).unwrap();
        let bad = vec![vec![1, 1], vec![0, 2], vec![0, 1]];
        assert_eq!(
            coefficients_with_orders(&k, &bad),
            Err(GramError::InvalidOrder { task: 0 })
        );
        let self_ref = vec![vec![0, 1], vec![0, 2], vec![0, 1]];
        assert_eq!(
            coefficients_with_orders(&k, &self_ref),
            Err(GramError::InvalidOrder { task: 0 })
        );
    }
}
