//! `gradnorm` (Chen, Badrinarayanan, Lee & Rabinovich 2018) with α = 1.5.
//!
//! Each task i has a learned weight w_i (starting at 1, renormalised to sum T). With g_i the
//! norm of ∂L_i/∂Z at the last shared layer's output Z, G_i = w_i·g_i, Ḡ their mean,
//! r_i = (L_i/L_i(0)) / mean_j(L_j/L_j(0)) the relative inverse training rate, GradNorm lowers
//! Σ_i |G_i − Ḡ·r_i^α| with the target held constant, so ∂/∂w_i = sign(G_i − Ḡ r_i^α)·g_i.
//! A task that trains slowly (large r_i) is given a larger gradient share.
//!
//! We take the norms at Z, the trunk's output, rather than at the last shared layer's weights:
//! the trainer gives each branch its own copy of Z, so one backward pass through the branches
//! yields every task's ∂L_i/∂Z (the extra cost per step is measured by
//! `cari-mtl bench --strategy gradnorm` against `--strategy equal`).

use candle_core::Result;

use super::rule::{HostSupport, Needs, RuleSpec};
use super::{
    PsiUpdate, WeightInputs, WeightPlan, WeightingRule, constant, normalised,
};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "gradnorm",
    description: "Chen et al. 2018 (α = 1.5): weights learned so each task's gradient norm at Z (the last shared layer's output) matches its relative inverse training rate; shown normalised",
    needs: Needs::GradientsAtZ,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(GradNorm::new())),
    host: HostSupport::Cannot(
        "it balances the tasks' gradient norms on the shared layers, and the toy has losses only",
    ),
    label: None,
};

/// The asymmetry α of the GradNorm paper's multi-task experiments.
pub const ALPHA: f32 = 1.5;
/// Step size of the weights (the paper's 0.025).
pub const WEIGHT_LR: f32 = 0.025;

pub struct GradNorm {
    weights: [f32; TASKS],
    initial_losses: Option<[f32; TASKS]>,
    /// The last gradient norms g_i, for display and tests.
    pub last_norms: [f32; TASKS],
}

impl Default for GradNorm {
    fn default() -> Self {
        GradNorm::new()
    }
}

impl GradNorm {
    pub fn new() -> Self {
        GradNorm {
            weights: [1.0; TASKS],
            initial_losses: None,
            last_norms: [0.0; TASKS],
        }
    }

    /// The GradNorm targets Ḡ·r_i^α for weights `w`, norms `g`, losses and initial losses.
    pub fn targets(
        w: [f32; TASKS],
        g: [f32; TASKS],
        losses: [f32; TASKS],
        initial: [f32; TASKS],
    ) -> [f32; TASKS] {
        let big_g: [f32; TASKS] = std::array::from_fn(|i| w[i] * g[i]);
        let mean_g = big_g.iter().sum::<f32>() / TASKS as f32;
        let ratio: [f32; TASKS] = std::array::from_fn(|i| losses[i] / initial[i].max(1e-12));
        let mean_ratio = ratio.iter().sum::<f32>() / TASKS as f32;
        std::array::from_fn(|i| mean_g * (ratio[i] / mean_ratio.max(1e-12)).powf(ALPHA))
    }

    /// One GradNorm update of the weights, renormalised to sum T.
    pub fn update(
        w: [f32; TASKS],
        g: [f32; TASKS],
        losses: [f32; TASKS],
        initial: [f32; TASKS],
    ) -> [f32; TASKS] {
        let targets = Self::targets(w, g, losses, initial);
        let mut next: [f32; TASKS] = std::array::from_fn(|i| {
            let grad = (w[i] * g[i] - targets[i]).signum() * g[i];
            (w[i] - WEIGHT_LR * grad).max(1e-3)
        });
        let sum: f32 = next.iter().sum();
        for x in &mut next {
            *x *= TASKS as f32 / sum;
        }
        next
    }
}

impl WeightingRule for GradNorm {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let losses = inputs.loss_values;
        let initial = *self.initial_losses.get_or_insert(losses);
        let mut norms = [0f32; TASKS];
        match inputs.task_grads_at_z {
            // The trainer's per-task pass: every ∂L_i/∂Z from one backward pass.
            Some(at_z) => {
                for (norm, g) in norms.iter_mut().zip(at_z) {
                    *norm = g.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt();
                }
            }
            // Without it (a caller that built its own inputs): one backward pass per task.
            None => {
                for (i, norm) in norms.iter_mut().enumerate() {
                    let grads = inputs.losses.get(i)?.backward()?;
                    if let Some(g) = grads.get(inputs.z) {
                        *norm = g.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt();
                    }
                }
            }
        }
        self.last_norms = norms;
        let used = self.weights;
        self.weights = Self::update(used, norms, losses, initial);
        Ok(WeightPlan {
            network_weights: constant(used, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: normalised(used),
            branch_weights: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, Var};

    #[test]
    fn targets_and_update_by_hand() {
        // w = (1,1,1), g = (2,1,0.5), L = (1,1,1), L(0) = (2,1,1):
        //   G = (2,1,0.5), Ḡ = 7/6; L̃ = (0.5,1,1), mean 5/6, r = (0.6,1.2,1.2)
        //   targets = 7/6·r^1.5 = (0.542218, 1.533623, 1.533623)
        //   signs of G − target: (+,−,−) → w − 0.025·(±g) = (0.95, 1.025, 1.0125), sum 2.9875
        //   renormalised ×3/2.9875 = (0.953975, 1.029289, 1.016736)
        let t = GradNorm::targets([1.0; 3], [2.0, 1.0, 0.5], [1.0; 3], [2.0, 1.0, 1.0]);
        for (a, b) in t.iter().zip([0.542_218f32, 1.533_623, 1.533_623]) {
            assert!((a - b).abs() < 1e-5, "{t:?}");
        }
        let w = GradNorm::update([1.0; 3], [2.0, 1.0, 0.5], [1.0; 3], [2.0, 1.0, 1.0]);
        for (a, b) in w.iter().zip([0.953_975f32, 1.029_289, 1.016_736]) {
            assert!((a - b).abs() < 1e-5, "{w:?}");
        }
    }

    #[test]
    fn gradient_norms_on_a_tiny_two_branch_network() {
        // Z = [1, 2] (one sample), task heads L_0 = 3·(a·Z), L_1 = (b·Z)² with a = (1, 0),
        // b = (0, 1): ∂L_0/∂Z = (3, 0) → ‖·‖ = 3; ∂L_1/∂Z = 2(b·Z)·b = (0, 4) → 4; L_2 = 0·Z → 0.
        let dev = Device::Cpu;
        let z = Var::new(&[[1f32, 2.0]], &dev).unwrap();
        let zt = z.as_tensor();
        let l0 = (zt
            .matmul(&Tensor::new(&[[1f32], [0.0]], &dev).unwrap())
            .unwrap()
            * 3.0)
            .unwrap()
            .sum_all()
            .unwrap();
        let l1 = zt
            .matmul(&Tensor::new(&[[0f32], [1.0]], &dev).unwrap())
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let l2 = (zt.sum_all().unwrap() * 0.0).unwrap();
        let losses = Tensor::stack(&[l0, l1, l2], 0).unwrap();
        let psi = crate::model::Psi {
            weight: Var::zeros((3, 2), candle_core::DType::F32, &dev).unwrap(),
            bias: Var::zeros(3, candle_core::DType::F32, &dev).unwrap(),
        };
        let mut rule = GradNorm::new();
        let plan = rule
            .plan(&WeightInputs {
                z: zt,
                losses: &losses,
                loss_values: [3.0, 4.0, 1.0],
                psi: &psi,
                step: 1,
                weights_reach_trunk: true,
                task_gram: None,
                task_grads_at_z: None,
            })
            .unwrap();
        assert_eq!(rule.last_norms, [3.0, 4.0, 0.0]);
        assert_eq!(plan.reported, [1.0 / 3.0; 3]);
        // At step 1 every r_i = 1, so targets = Ḡ = 7/3: task 0 (3 > 7/3) and task 1 (4 > 7/3)
        // are pushed down, task 2 (0 < 7/3) is pushed up by 0.025·0 = 0.
        assert!(
            rule.weights[0] < rule.weights[2] && rule.weights[1] < rule.weights[2],
            "{:?}",
            rule.weights
        );
    }
}
