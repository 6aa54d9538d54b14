//! `uncertainty` (Kendall, Gal & Cipolla 2018): learned log-variances s_i, the network minimises
//! Σ L_i/(2·exp(s_i)) + s_i/2, so each task's weight is 1/(2·exp(s_i)). A task with a large loss
//! raises its s_i and so lowers its own weight. Reported weights are normalised to sum 1.

use candle_core::{DType, Device, Result, Tensor, Var};

use super::host::{HostRule, HostView};
use super::math::softmax;
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{
    PsiUpdate, WeightInputs, WeightPlan, WeightingRule, normalised, to_array,
};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "uncertainty",
    description: "Kendall et al. 2018: learned s_i, loss Σ L_i/(2·exp(s_i)) + s_i/2; weights shown normalised",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, env| Ok(Box::new(Uncertainty::new(env.device)?)),
    host: HostSupport::Runs(|setup| {
        Ok(Box::new(UncertaintyHost {
            log_variance: vec![0.0; setup.tasks],
            lr: setup.lr,
        }))
    }),
    label: None,
};

/// The toy's form: s_i (start 0) moved by gradient steps of rate η on the same objective; the
/// weight reported, and used, is 1/(2·exp(s_i)) normalised, that is softmax(−s).
struct UncertaintyHost {
    log_variance: Vec<f64>,
    lr: f64,
}

impl HostRule for UncertaintyHost {
    fn weights(&mut self, _view: &HostView) -> std::result::Result<Vec<f64>, String> {
        Ok({
        // Computed as a softmax, so it is stable for any s.
        softmax(&self.log_variance.iter().map(|s| -s).collect::<Vec<_>>())
        })
    }

    fn observe(&mut self, losses_seen: &[f64]) {
        // ∂/∂s_i [L_i/(2·exp(s_i)) + s_i/2] = ½ − L_i·exp(−s_i)/2.
        for (s, l) in self.log_variance.iter_mut().zip(losses_seen) {
            *s -= self.lr * (0.5 - 0.5 * l * (-*s).exp());
        }
    }
}

pub struct Uncertainty {
    /// s_i = log σ_i², starting at 0 (weights 1/2 each).
    log_variance: Var,
}

impl Uncertainty {
    pub fn new(device: &Device) -> Result<Self> {
        Ok(Uncertainty {
            log_variance: Var::zeros(TASKS, DType::F32, device)?,
        })
    }

    /// The network's weights 1/(2·exp(s)) for log-variances s.
    pub fn weights_of(log_variance: &Tensor) -> Result<Tensor> {
        log_variance.neg()?.exp()? * 0.5
    }
}

impl WeightingRule for Uncertainty {
    fn plan(&mut self, _inputs: &WeightInputs) -> Result<WeightPlan> {
        let s = self.log_variance.as_tensor();
        let network_weights = Self::weights_of(s)?;
        let regulariser = (s.sum_all()? * 0.5)?;
        let reported = normalised(to_array(&network_weights)?);
        Ok(WeightPlan {
            network_weights,
            extra_objective: Some(regulariser),
            psi_update: PsiUpdate::Frozen,
            reported,
            branch_weights: None,
        })
    }

    fn trainable_vars(&self) -> Vec<Var> {
        vec![self.log_variance.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_of_the_objective_matches_the_closed_form() {
        // d/ds_i [L_i/(2 e^{s_i}) + s_i/2] = −L_i/(2 e^{s_i}) + 1/2.
        // With s = (0, ln 2, −1) and L = (2, 1, 0.5):
        //   i=0: −2/2 + 0.5 = −0.5; i=1: −1/4 + 0.5 = 0.25; i=2: −0.5·e/2 + 0.5 = 0.5 − 0.679570 = −0.179570
        let dev = Device::Cpu;
        let s =
            Var::from_tensor(&Tensor::new(&[0f32, std::f32::consts::LN_2, -1.0], &dev).unwrap())
                .unwrap();
        let losses = Tensor::new(&[2f32, 1.0, 0.5], &dev).unwrap();
        let w = Uncertainty::weights_of(s.as_tensor()).unwrap();
        let objective = ((w * losses).unwrap().sum_all().unwrap()
            + (s.as_tensor().sum_all().unwrap() * 0.5).unwrap())
        .unwrap();
        let grads = objective.backward().unwrap();
        let g = grads.get(s.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        let expected = [-0.5f32, 0.25, 0.5 - 0.25 * std::f32::consts::E];
        for (a, b) in g.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{g:?}");
        }
    }
}
