//! `naive` (Yin & Liu 2018, as in the authors' code): Ψ is trained together with the network on
//! the same loss Σ w_i·L_i. Lowering that sum is easiest by moving weight to the task whose loss
//! is smallest, so the hard task starves.

use candle_core::Result;

use super::{PsiUpdate, StrategyConfig, WeightInputs, WeightPlan, WeightingRule, to_array};
use crate::model::psi::PsiWiring;

pub struct Naive {
    config: StrategyConfig,
}

impl Naive {
    pub fn new(config: StrategyConfig) -> Self {
        Naive { config }
    }
}

impl WeightingRule for Naive {
    fn config(&self) -> &StrategyConfig {
        &self.config
    }

    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        // The code L2-normalises Z before Ψ in this variant.
        let network_weights = inputs.psi.weights(
            inputs.z,
            self.config.scale(),
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
        })
    }
}
