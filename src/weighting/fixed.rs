//! The network form shared by the rules whose weights do not depend on training (`static`,
//! `equal`, the single-task ones): each of those files says which weights.

use candle_core::Result;

use super::host::{FixedHost, HostRule, HostSetup};
use super::{PsiUpdate, WeightInputs, WeightPlan, WeightingRule, constant};
use crate::task::TASKS;

pub struct Fixed {
    weights: [f32; TASKS],
}

impl Fixed {
    /// `weights` sum to 1.
    pub fn new(weights: [f32; TASKS]) -> Self {
        Fixed { weights }
    }
}

/// The host form of a single-task rule: weight 1 on task `index`, 0 elsewhere.
pub fn single_task_host(
    setup: &HostSetup,
    index: usize,
) -> std::result::Result<Box<dyn HostRule>, String> {
    if index >= setup.tasks {
        return Err(format!(
            "it trains task {} alone, and the toy has {} tasks",
            index + 1,
            setup.tasks
        ));
    }
    let mut weights = vec![0.0; setup.tasks];
    weights[index] = 1.0;
    Ok(Box::new(FixedHost(weights)))
}

impl WeightingRule for Fixed {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        Ok(WeightPlan {
            network_weights: constant(self.weights, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: self.weights,
            branch_weights: None,
        })
    }
}
