//! `geometric`: the network minimises the geometric mean of the losses G = (Π L_i)^(1/T).
//! Its gradient is Σ_i (∂G/∂L_i)·∇L_i with ∂G/∂L_i = G/(T·L_i), so the implied weights favour the
//! tasks with the *smallest* losses. The network uses those implied weights (as constants, which
//! gives exactly ∇G); the reported weights are them normalised to sum 1.

use candle_core::Result;

use super::host::{HostRule, HostView};
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{
    PsiUpdate, WeightInputs, WeightPlan, WeightingRule, constant, normalised,
};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "geometric",
    description: "geometric mean of the losses (Π L_i)^(1/T) (Chennupati et al. 2019); implied weights ∂/∂L_i, shown normalised",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(Geometric)),
    host: HostSupport::Runs(|_setup| Ok(Box::new(GeometricHost))),
    label: None,
};

/// Smallest loss the host form divides by (a toy loss can reach a floor of exactly 0).
const HOST_MIN_LOSS: f64 = 1e-12;

/// The toy's form: the implied weights of the current losses, normalised.
struct GeometricHost;

impl HostRule for GeometricHost {
    fn weights(&mut self, view: &HostView) -> std::result::Result<Vec<f64>, String> {
        Ok({
        let t = view.losses.len() as f64;
        let clamped: Vec<f64> = view.losses.iter().map(|l| l.max(HOST_MIN_LOSS)).collect();
        // (Π L)^(1/T) through logarithms, so eight small losses do not underflow.
        let mean_log = clamped.iter().map(|l| l.ln()).sum::<f64>() / t;
        let geo = mean_log.exp();
        let implied: Vec<f64> = clamped.iter().map(|l| geo / (t * l)).collect();
        let sum: f64 = implied.iter().sum();
        implied.into_iter().map(|d| d / sum).collect()
        })
    }
}

pub struct Geometric;

impl Geometric {
    /// ∂G/∂L_i for the geometric mean G of `losses`.
    pub fn implied_weights(losses: [f32; TASKS]) -> [f32; TASKS] {
        let logs: f32 = losses.iter().map(|l| l.max(1e-12).ln()).sum();
        let g = (logs / TASKS as f32).exp();
        losses.map(|l| g / (TASKS as f32 * l.max(1e-12)))
    }
}

impl WeightingRule for Geometric {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let w = Self::implied_weights(inputs.loss_values);
        Ok(WeightPlan {
            network_weights: constant(w, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: normalised(w),
            branch_weights: None,
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
