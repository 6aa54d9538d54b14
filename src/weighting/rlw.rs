//! `rlw`, random loss weighting (Lin et al. 2021): w = softmax(ε) with ε ~ N(0, 1) drawn afresh
//! every step from a seeded generator, so runs are reproducible.

use candle_core::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::host::{HostRule, HostView};
use super::math::softmax;
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{PsiUpdate, WeightInputs, WeightPlan, WeightingRule, constant};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "rlw",
    description: "random loss weighting (Lin et al. 2021): w = softmax(ε), ε ~ N(0, 1) drawn every step",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, env| Ok(Box::new(Rlw::new(env.seed))),
    host: HostSupport::Runs(|setup| {
        Ok(Box::new(RlwHost {
            tasks: setup.tasks,
            rng: ChaCha8Rng::seed_from_u64(setup.seed),
        }))
    }),
    label: None,
};

/// The toy's form: a fresh draw at every step (step 0 included) from a generator seeded with
/// the toy's seed.
struct RlwHost {
    tasks: usize,
    rng: ChaCha8Rng,
}

impl HostRule for RlwHost {
    fn weights(&mut self, _view: &HostView) -> std::result::Result<Vec<f64>, String> {
        Ok({
        let eps: Vec<f64> = (0..self.tasks)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        softmax(&eps)
        })
    }
}

pub struct Rlw {
    rng: ChaCha8Rng,
}

impl Rlw {
    pub fn new(seed: u64) -> Self {
        Rlw {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x524c_5700),
        }
    }

    pub fn draw(&mut self) -> [f32; TASKS] {
        let eps: [f32; TASKS] = std::array::from_fn(|_| StandardNormal.sample(&mut self.rng));
        super::math::softmax_tasks(eps)
    }
}

impl WeightingRule for Rlw {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let w = self.draw();
        Ok(WeightPlan {
            network_weights: constant(w, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: w,
            branch_weights: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_on_the_simplex() {
        let mut a = Rlw::new(7);
        let mut b = Rlw::new(7);
        let mut c = Rlw::new(8);
        let (wa, wb, wc) = (a.draw(), b.draw(), c.draw());
        assert_eq!(wa, wb);
        assert_ne!(wa, wc);
        assert!((wa.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Successive draws differ.
        assert_ne!(a.draw(), wa);
    }
}
