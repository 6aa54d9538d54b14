//! `geometric`: the network minimises the geometric mean of the losses G = (Π L_i)^(1/T).
//! Its gradient is Σ_i (∂G/∂L_i)·∇L_i with ∂G/∂L_i = G/(T·L_i), so the implied weights favour the
//! tasks with the *smallest* losses. The network uses those implied weights (as constants, which
//! gives exactly ∇G); the reported weights are them normalised to sum 1.

use candle_core::Result;

use super::{
    PsiUpdate, StrategyConfig, WeightInputs, WeightPlan, WeightingRule, constant, normalised,
};
use crate::task::TASKS;

pub struct Geometric {
    config: StrategyConfig,
}

impl Geometric {
    pub fn new(config: StrategyConfig) -> Self {
        Geometric { config }
    }

    /// ∂G/∂L_i for the geometric mean G of `losses`.
    pub fn implied_weights(losses: [f32; TASKS]) -> [f32; TASKS] {
        let logs: f32 = losses.iter().map(|l| l.max(1e-12).ln()).sum();
        let g = (logs / TASKS as f32).exp();
        losses.map(|l| g / (TASKS as f32 * l.max(1e-12)))
    }
}

impl WeightingRule for Geometric {
    fn config(&self) -> &StrategyConfig {
        &self.config
    }

    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let w = Self::implied_weights(inputs.loss_values);
        Ok(WeightPlan {
            network_weights: constant(w, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: normalised(w),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_weights_are_the_gradient_of_the_geometric_mean() {
        // L = (2, 1, 0.5): G = 1; ∂G/∂L_i = 1/(3·L_i) = (1/6, 1/3, 2/3); normalised (1/7, 2/7, 4/7).
        let w = Geometric::implied_weights([2.0, 1.0, 0.5]);
        for (a, b) in w.iter().zip([1.0 / 6.0, 1.0 / 3.0, 2.0 / 3.0]) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
        let n = normalised(w);
        for (a, b) in n.iter().zip([1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]) {
            assert!((a - b).abs() < 1e-6, "{n:?}");
        }
    }
}
