//! Loss-weighting rules behind one trait. One file per rule, named after it; `math` holds the
//! arithmetic they share with the toy model (`toy`), which runs the same rules without a network.
//!
//! Every rule returns, each step, the weights w the network's loss Σ w_i·L_i uses (as a tensor,
//! so a rule can let gradients flow through them) and what else must be optimised with them.

pub mod dwa;
pub mod fixed;
pub mod geometric;
pub mod gradnorm;
pub mod math;
pub mod naive;
pub mod proposed;
pub mod rlw;
pub mod rule;
pub mod toy;
pub mod uncertainty;

pub use math::normalised;
pub use rule::{
    PsiUpdate, Strategy, StrategyConfig, WeightInputs, WeightPlan, WeightingRule, constant,
    to_array,
};

/// Build the rule for a config. `seed` feeds rules that draw random numbers.
pub fn build(
    config: &StrategyConfig,
    device: &candle_core::Device,
    seed: u64,
) -> candle_core::Result<Box<dyn WeightingRule>> {
    Ok(match config.strategy {
        Strategy::Proposed => Box::new(proposed::Proposed::new(config.clone())),
        Strategy::Naive => Box::new(naive::Naive::new(config.clone())),
        Strategy::Static
        | Strategy::Equal
        | Strategy::SingleVerif
        | Strategy::SingleVisual
        | Strategy::SingleCari => Box::new(fixed::Fixed::new(config.clone())),
        Strategy::Uncertainty => Box::new(uncertainty::Uncertainty::new(config.clone(), device)?),
        Strategy::Dwa => Box::new(dwa::Dwa::new(config.clone())),
        Strategy::Rlw => Box::new(rlw::Rlw::new(config.clone(), seed)),
        Strategy::Geometric => Box::new(geometric::Geometric::new(config.clone())),
        Strategy::GradNorm => Box::new(gradnorm::GradNorm::new(config.clone())),
    })
}
