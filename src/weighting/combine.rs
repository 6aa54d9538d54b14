//! The one network form and host form shared by the rules that combine the tasks' gradients
//! (MGDA, PCGrad, CAGrad, …). Each of those rules is a [`Combiner`]: coefficients λ from the
//! Gram matrix K = G Gᵀ of the per-task gradients g_i (and the losses), so that the shared
//! part moves along d = Σ λ_i g_i. The trainer computes K in the run's gradient space and
//! makes that move with one combined backward pass through the trunk; each branch gets its
//! own task's gradient (weight 1), as in LibMTL.

use candle_core::Result;

use super::gram::{Gram, GramError};
use super::host::{HostRule, HostView};
use super::{PsiUpdate, WeightInputs, WeightPlan, WeightingRule, constant};
use crate::task::TASKS;

/// A rule that combines gradients: its λ for one step.
pub trait Combiner: Send {
    fn coefficients(
        &mut self,
        gram: &Gram,
        losses: &[f64],
    ) -> std::result::Result<Vec<f64>, GramError>;

    /// After the step, with the losses it saw.
    fn observe(&mut self, _losses: &[f64]) {}
}

/// A [`Combiner`] as a weighting rule, on the network and in the host.
pub struct GradientRule<C>(pub C);

/// The weights a gradient rule's λ implies for the plots: λ normalised to sum 1 (where λ sums
/// to a positive number; else |λ| normalised, or equal weights when every λ is 0).
pub fn implied_weights(lambda: &[f64]) -> Vec<f64> {
    let sum: f64 = lambda.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        return lambda.iter().map(|l| l / sum).collect();
    }
    let abs: f64 = lambda.iter().map(|l| l.abs()).sum();
    if abs > 0.0 && abs.is_finite() {
        return lambda.iter().map(|l| l.abs() / abs).collect();
    }
    vec![1.0 / lambda.len().max(1) as f64; lambda.len()]
}

impl<C: Combiner> WeightingRule for GradientRule<C> {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let gram = inputs.task_gram.ok_or_else(|| {
            candle_core::Error::Msg(
                "this rule combines the tasks' gradients, but none were computed".into(),
            )
        })?;
        let losses = inputs.loss_values.map(f64::from);
        let lambda = self
            .0
            .coefficients(gram, &losses)
            .map_err(|e| candle_core::Error::Msg(format!("combining the gradients: {e}")))?;
        if lambda.len() != TASKS || lambda.iter().any(|l| !l.is_finite()) {
            return Err(candle_core::Error::Msg(format!(
                "combining the gradients gave {lambda:?}"
            )));
        }
        let trunk: [f32; TASKS] = std::array::from_fn(|i| lambda[i] as f32);
        let implied = implied_weights(&lambda);
        Ok(WeightPlan {
            network_weights: constant(trunk, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: std::array::from_fn(|i| implied[i] as f32),
            branch_weights: Some([1.0; TASKS]),
        })
    }

    fn observe(&mut self, _step: u64, losses: [f32; TASKS]) {
        self.0.observe(&losses.map(f64::from));
    }
}

impl<C: Combiner> HostRule for GradientRule<C> {
    fn weights(&mut self, view: &HostView) -> std::result::Result<Vec<f64>, String> {
        let gram = view
            .gram
            .ok_or("it combines the tasks' gradients, and there are none here")?;
        self.0
            .coefficients(gram, view.losses)
            .map_err(|e| e.to_string())
    }

    fn observe(&mut self, losses_seen: &[f64]) {
        self.0.observe(losses_seen);
    }
}

/// A stateless rule given as a function of K.
pub struct Stateless(pub fn(&Gram) -> std::result::Result<Vec<f64>, GramError>);

impl Combiner for Stateless {
    fn coefficients(
        &mut self,
        gram: &Gram,
        _losses: &[f64],
    ) -> std::result::Result<Vec<f64>, GramError> {
        (self.0)(gram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_weights_sum_to_one() {
        assert_eq!(implied_weights(&[2.0, 1.0, 1.0]), vec![0.5, 0.25, 0.25]);
        // A λ summing to 0 shows the sizes of its parts.
        assert_eq!(implied_weights(&[1.0, -1.0, 0.0]), vec![0.5, 0.5, 0.0]);
        assert_eq!(implied_weights(&[0.0; 3]), vec![1.0 / 3.0; 3]);
    }
}
