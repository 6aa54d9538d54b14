//! `proposed` (Ming, Burie & Luqman 2019): Ψ has its own optimiser on
//! L4 = Σ w_i / (L_i + 0.01) with the L_i held constant, so weight flows to the task with the
//! largest loss until that loss falls.

use candle_core::Result;

use super::math::{LogitHost, proposed_costs};
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{PsiUpdate, RuleSettings, WeightInputs, WeightPlan, WeightingRule, to_array};
use crate::model::psi::PsiWiring;

pub static SPEC: RuleSpec = RuleSpec {
    key: "proposed",
    description: "Ming et al. 2019: Ψ has its own optimiser on L4 = Σ w_i/(L_i+0.01), so weight goes to the hardest task",
    needs: Needs::Psi,
    // The authors' CaVI script (1), see NOTES-reference-code.md.
    default_scale: Some(DEFAULT_SCALE),
    build: |settings, _env| Ok(Box::new(Proposed::new(settings))),
    // In the toy Ψ is free logits moved by L4's gradient (see the toy's module docs).
    host: HostSupport::Runs(|setup| {
        Ok(Box::new(LogitHost {
            logits: vec![0.0; setup.tasks],
            scale: setup.scale,
            lr: setup.lr,
            costs: proposed_costs,
        }))
    }),
    label: None,
};

pub use super::math::L4_EPSILON;

/// The authors' CaVI script's s.
const DEFAULT_SCALE: f32 = 1.0;

pub struct Proposed {
    /// The weight-logit scale s.
    scale: f32,
}

impl Proposed {
    pub fn new(settings: &RuleSettings) -> Self {
        Proposed {
            scale: settings.scale.unwrap_or(DEFAULT_SCALE),
        }
    }
}

impl WeightingRule for Proposed {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let scale = self.scale;
        // Ψ's objective: Z is detached, so L4 moves Ψ alone, never the trunk.
        let psi_side = inputs.psi.weights(
            inputs.z,
            scale,
            PsiWiring {
                normalise_input: false,
                detach_input: true,
                detach_params: false,
            },
        )?;
        let inverse_losses = (inputs.losses.detach() + L4_EPSILON)?.recip()?;
        let l4 = (&psi_side * inverse_losses)?.sum_all()?;
        // The network's side: the same weights with Ψ's parameters detached (Ψ is not the
        // network's to train). In the code the gradient of Σ w_i·L_i also reaches the trunk
        // through w; the paper's reading treats w as a constant.
        let network_weights = if inputs.weights_reach_trunk {
            inputs.psi.weights(
                inputs.z,
                scale,
                PsiWiring {
                    normalise_input: false,
                    detach_input: false,
                    detach_params: true,
                },
            )?
        } else {
            psi_side.detach()
        };
        let reported = to_array(&psi_side)?;
        Ok(WeightPlan {
            network_weights,
            extra_objective: Some(l4),
            psi_update: PsiUpdate::Own,
            reported,
            branch_weights: None,
        })
    }
}
