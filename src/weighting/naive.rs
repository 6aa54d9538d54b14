//! `naive` (Yin & Liu 2018, as in the authors' code): Ψ is trained together with the network on
//! the same loss Σ w_i·L_i. Lowering that sum is easiest by moving weight to the task whose loss
//! is smallest, so the hard task starves.

use candle_core::Result;

use super::math::LogitHost;
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{PsiUpdate, RuleSettings, WeightInputs, WeightPlan, WeightingRule, to_array};
use crate::model::psi::PsiWiring;

pub static SPEC: RuleSpec = RuleSpec {
    key: "naive",
    description: "Yin & Liu 2018: Ψ is trained with the network on Σ w_i·L_i, so weight drifts to the easiest task",
    needs: Needs::Psi,
    // The authors' naive script (0.5); the paper's Fig. 3 plateaus sit at its bounds.
    default_scale: Some(DEFAULT_SCALE),
    build: |settings, _env| Ok(Box::new(Naive::new(settings))),
    // In the toy Ψ is free logits moved by the gradient of Σ w_i·L_i.
    host: HostSupport::Runs(|setup| {
        Ok(Box::new(LogitHost {
            logits: vec![0.0; setup.tasks],
            scale: setup.scale,
            lr: setup.lr,
            costs: |losses| losses.to_vec(),
        }))
    }),
    label: None,
};

/// The authors' naive scripts' s.
const DEFAULT_SCALE: f32 = 0.5;

pub struct Naive {
    /// The weight-logit scale s.
    scale: f32,
}

impl Naive {
    pub fn new(settings: &RuleSettings) -> Self {
        Naive {
            scale: settings.scale.unwrap_or(DEFAULT_SCALE),
        }
    }
}

impl WeightingRule for Naive {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        // The code L2-normalises Z before Ψ in this variant.
        let network_weights = inputs.psi.weights(
            inputs.z,
            self.scale,
            PsiWiring {
                normalise_input: true,
                detach_input: !inputs.weights_reach_trunk,
                detach_params: false,
            },
        )?;
        let reported = to_array(&network_weights)?;
        Ok(WeightPlan {
            network_weights,
            extra_objective: None,
            psi_update: PsiUpdate::WithNetwork,
            reported,
            branch_weights: None,
        })
    }
}
