//! Rules whose weights do not depend on training: `static`, `equal` and the single-task ones.

use candle_core::Result;

use super::{
    PsiUpdate, Strategy, StrategyConfig, WeightInputs, WeightPlan, WeightingRule, constant,
    normalised,
};
use crate::task::TASKS;

pub struct Fixed {
    config: StrategyConfig,
    weights: [f32; TASKS],
}

impl Fixed {
    pub fn new(config: StrategyConfig) -> Self {
        let weights = match config.strategy {
            Strategy::SingleVerif => [1.0, 0.0, 0.0],
            Strategy::SingleVisual => [0.0, 1.0, 0.0],
            Strategy::SingleCari => [0.0, 0.0, 1.0],
            Strategy::Static => normalised(config.static_weights),
            _ => [1.0 / TASKS as f32; TASKS],
        };
        Fixed { config, weights }
    }
}

impl WeightingRule for Fixed {
    fn config(&self) -> &StrategyConfig {
        &self.config
    }

    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        Ok(WeightPlan {
            network_weights: constant(self.weights, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: self.weights,
        })
    }
}
