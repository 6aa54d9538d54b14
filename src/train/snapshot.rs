//! A trainer's whole state as host numbers, so a run can be forked into another slot.

use rand_chacha::ChaCha8Rng;

use super::config::{Perturbation, TrainConfig};
use crate::data::batches::BatchSampler;
use crate::task::TASKS;
use crate::weighting::StrategyConfig;

#[derive(Clone, Debug)]
pub struct TrainerSnapshot {
    pub config: TrainConfig,
    pub strategy: StrategyConfig,
    pub step: u64,
    pub wall_secs: f64,
    /// (name, shape, values) of every parameter, sorted by name.
    pub params: crate::model::HostParams,
    /// Each branch's centres (empty for a branch without a centre term).
    pub centres: [Vec<f32>; TASKS],
    pub network_optimizer: Vec<Vec<f32>>,
    pub psi_optimizer: Vec<Vec<f32>>,
    pub sampler: BatchSampler,
    pub perturbations: [Perturbation; TASKS],
    pub noise_rng: ChaCha8Rng,
}
