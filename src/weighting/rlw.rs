//! `rlw`, random loss weighting (Lin et al. 2021): w = softmax(ε) with ε ~ N(0, 1) drawn afresh
//! every step from a seeded generator, so runs are reproducible.

use candle_core::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{PsiUpdate, StrategyConfig, WeightInputs, WeightPlan, WeightingRule, constant};
use crate::task::TASKS;

pub struct Rlw {
    config: StrategyConfig,
    rng: ChaCha8Rng,
}

impl Rlw {
    pub fn new(config: StrategyConfig, seed: u64) -> Self {
        Rlw {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x524c_5700),
        }
    }

    pub fn draw(&mut self) -> [f32; TASKS] {
        let eps: [f32; TASKS] = std::array::from_fn(|_| StandardNormal.sample(&mut self.rng));
        super::math::softmax_tasks(eps)
    }
}

impl WeightingRule for Rlw {
    fn config(&self) -> &StrategyConfig {
        &self.config
    }

    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let w = self.draw();
        Ok(WeightPlan {
            network_weights: constant(w, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: w,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_on_the_simplex() {
        let config = StrategyConfig::new(super::super::Strategy::Rlw);
        let mut a = Rlw::new(config.clone(), 7);
        let mut b = Rlw::new(config.clone(), 7);
        let mut c = Rlw::new(config, 8);
        let (wa, wb, wc) = (a.draw(), b.draw(), c.draw());
        assert_eq!(wa, wb);
        assert_ne!(wa, wc);
        assert!((wa.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Successive draws differ.
        assert_ne!(a.draw(), wa);
    }
}
