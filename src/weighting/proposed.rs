//! `proposed` (Ming, Burie & Luqman 2019): Ψ has its own optimiser on
//! L4 = Σ w_i / (L_i + 0.01) with the L_i held constant, so weight flows to the task with the
//! largest loss until that loss falls.

use candle_core::Result;

use super::{PsiUpdate, StrategyConfig, WeightInputs, WeightPlan, WeightingRule, to_array};
use crate::model::psi::PsiWiring;

pub use super::math::L4_EPSILON;

pub struct Proposed {
    config: StrategyConfig,
}

impl Proposed {
    pub fn new(config: StrategyConfig) -> Self {
        Proposed { config }
    }
}

impl WeightingRule for Proposed {
    fn config(&self) -> &StrategyConfig {
        &self.config
    }

    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let scale = self.config.scale();
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
        })
    }
}
