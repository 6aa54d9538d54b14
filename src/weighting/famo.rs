//! FAMO (Liu et al. 2023, "FAMO: Fast Adaptive Multitask Optimization"); uses the
//! task losses only, never K.
//!
//! Logits ξ (start 0), z = softmax(ξ), D_i = L_i − L_i^min + 1e-8. The network
//! minimises Σ_i (z_i / c) log D_i with c = Σ_j z_j / D_j treated as a constant,
//! so the coefficients on the raw gradients are λ_i = z_i / (c D_i); c makes
//! Σ λ_i = 1, so d is a convex combination of the task gradients.
//!
//! After the model step, with the losses before (L_prev) and after (L_curr) on
//! the same batch, δ_i = log D_i(L_prev) − log D_i(L_curr), the gradient on ξ is
//! J_softmax(ξ)ᵀ δ, i.e. z_j (δ_j − z·δ), and ξ takes one step of PyTorch's `Adam`
//! with coupled L2 weight decay, exactly as the public FAMO code
//! (`torch.optim.Adam([w], lr, weight_decay=gamma)`): g ← g + γ ξ;
//! m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; ξ ← ξ − lr · (m / (1−β1^t)) /
//! (√(v / (1−β2^t)) + ε), with β1 = 0.9, β2 = 0.999, ε = 1e-8.
//!
//! Choices: lr = 0.025 and γ = 0.001 (the paper's Algorithm 2, LibMTL and TorchJD;
//! the authors' famo.py defaults to γ = 0.01); L^min = 0 unless given. No gradient
//! clipping (the authors' `max_norm`; the trainer owns clipping).
//!
//! Degenerate inputs: a loss that is not finite or not above L^min − 1e-8 (log of
//! a non-positive number) is an error; T outside 2..=8 is an error.
//!
//! In the trainer FAMO is a loss-weighting rule: λ weights every part of the network (trunk
//! and branches), and the logits are updated after each step from the change of the
//! log-losses between that step's batch and the next one's (the trainer takes no second
//! forward pass on the same batch, which the paper's update uses); the toy does the same with
//! its losses.

use candle_core::Tensor;

use super::gram::{GramError, MAX_TASKS, MIN_TASKS};
use super::host::{HostRule, HostView};
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{PsiUpdate, WeightInputs, WeightPlan, WeightingRule, constant};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "famo",
    description: "Liu et al. 2023 (FAMO): softmax logits moved by Adam (lr 0.025, decay 0.001) so every task's log-loss falls at the same rate; loss-only",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, _env| {
        let famo = Famo::new(TASKS).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok(Box::new(FamoRule {
            famo,
            previous: None,
        }))
    },
    host: HostSupport::Runs(|setup| {
        let famo = Famo::new(setup.tasks).map_err(|e| e.to_string())?;
        Ok(Box::new(FamoRule {
            famo,
            previous: None,
        }))
    }),
    label: None,
};

/// FAMO with the losses of the step before, for its update.
struct FamoRule {
    famo: Famo,
    previous: Option<Vec<f64>>,
}

impl FamoRule {
    fn learn(&mut self, losses: &[f64]) {
        if let Some(previous) = self.previous.take() {
            // A loss FAMO cannot take the log of leaves the logits where they are.
            let _ = self.famo.update(&previous, losses);
        }
        self.previous = Some(losses.to_vec());
    }
}

impl WeightingRule for FamoRule {
    fn plan(&mut self, inputs: &WeightInputs) -> candle_core::Result<WeightPlan> {
        let losses = inputs.loss_values.map(f64::from);
        let lambda = self
            .famo
            .coefficients(&losses)
            .map_err(|e| candle_core::Error::Msg(format!("famo: {e}")))?;
        let w: [f32; TASKS] = std::array::from_fn(|i| lambda[i] as f32);
        let network_weights: Tensor = constant(w, inputs.losses.device())?;
        Ok(WeightPlan {
            network_weights,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: w,
            branch_weights: None,
        })
    }

    fn observe(&mut self, _step: u64, losses: [f32; TASKS]) {
        self.learn(&losses.map(f64::from));
    }
}

impl HostRule for FamoRule {
    fn weights(&mut self, view: &HostView) -> Result<Vec<f64>, String> {
        self.famo.coefficients(view.losses).map_err(|e| e.to_string())
    }

    fn observe(&mut self, losses_seen: &[f64]) {
        self.learn(losses_seen);
    }
}

/// Paper learning rate of the logits.
pub const DEFAULT_LR: f64 = 0.025;
/// Paper weight decay (γ) of the logits.
pub const DEFAULT_WEIGHT_DECAY: f64 = 0.001;
const LOSS_OFFSET: f64 = 1e-8;
const ADAM_BETA1: f64 = 0.9;
const ADAM_BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

/// FAMO task-weighting state: logits and their Adam moments.
#[derive(Debug, Clone, PartialEq)]
pub struct Famo {
    logits: Vec<f64>,
    first_moment: Vec<f64>,
    second_moment: Vec<f64>,
    adam_steps: i32,
    min_losses: Vec<f64>,
    lr: f64,
    weight_decay: f64,
}

impl Famo {
    /// FAMO with the paper's rates and L^min = 0.
    pub fn new(tasks: usize) -> Result<Self, GramError> {
        Self::with_parameters(vec![0.0; tasks], DEFAULT_LR, DEFAULT_WEIGHT_DECAY)
    }

    /// FAMO with explicit lower bounds L^min, logit learning rate and weight decay.
    pub fn with_parameters(
        min_losses: Vec<f64>,
        lr: f64,
        weight_decay: f64,
    ) -> Result<Self, GramError> {
        let tasks = min_losses.len();
        if !(MIN_TASKS..=MAX_TASKS).contains(&tasks) {
            return Err(GramError::TaskCount { tasks });
        }
        check_non_negative("lr", lr)?;
        check_non_negative("weight_decay", weight_decay)?;
        if let Some(task) = min_losses.iter().position(|m| !m.is_finite()) {
            let loss = min_losses[task];
            return Err(GramError::InvalidLoss {
                task,
                loss,
                lower_bound: f64::NEG_INFINITY,
            });
        }
        Ok(Self {
            logits: vec![0.0; tasks],
            first_moment: vec![0.0; tasks],
            second_moment: vec![0.0; tasks],
            adam_steps: 0,
            min_losses,
            lr,
            weight_decay,
        })
    }

    /// z = softmax(ξ): the current task weights.
    pub fn task_weights(&self) -> Vec<f64> {
        let max = self
            .logits
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = self.logits.iter().map(|x| (x - max).exp()).collect();
        let total: f64 = exps.iter().sum();
        exps.iter().map(|e| e / total).collect()
    }

    /// λ_i = z_i / (c D_i), c = Σ_j z_j / D_j, for the current losses.
    pub fn coefficients(&self, losses: &[f64]) -> Result<Vec<f64>, GramError> {
        let shifted = self.shifted_losses(losses)?;
        let z = self.task_weights();
        let c: f64 = z.iter().zip(&shifted).map(|(zi, di)| zi / di).sum();
        Ok(z.iter()
            .zip(&shifted)
            .map(|(zi, di)| zi / (c * di))
            .collect())
    }

    /// One Adam step on the logits from the losses before and after the model step.
    pub fn update(&mut self, prev_losses: &[f64], curr_losses: &[f64]) -> Result<(), GramError> {
        let before = self.shifted_losses(prev_losses)?;
        let after = self.shifted_losses(curr_losses)?;
        let delta: Vec<f64> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| b.ln() - a.ln())
            .collect();
        let z = self.task_weights();
        let z_dot_delta: f64 = z.iter().zip(&delta).map(|(zi, di)| zi * di).sum();
        let gradient: Vec<f64> = z
            .iter()
            .zip(&delta)
            .map(|(zi, di)| zi * (di - z_dot_delta))
            .collect();
        self.adam_step(&gradient);
        Ok(())
    }

    /// PyTorch `Adam` (amsgrad off, coupled weight decay).
    fn adam_step(&mut self, gradient: &[f64]) {
        self.adam_steps += 1;
        let bias1 = 1.0 - ADAM_BETA1.powi(self.adam_steps);
        let bias2_sqrt = (1.0 - ADAM_BETA2.powi(self.adam_steps)).sqrt();
        for (i, raw) in gradient.iter().enumerate() {
            let g = raw + self.weight_decay * self.logits[i];
            self.first_moment[i] = ADAM_BETA1 * self.first_moment[i] + (1.0 - ADAM_BETA1) * g;
            self.second_moment[i] = ADAM_BETA2 * self.second_moment[i] + (1.0 - ADAM_BETA2) * g * g;
            let denominator = self.second_moment[i].sqrt() / bias2_sqrt + ADAM_EPS;
            self.logits[i] -= self.lr / bias1 * self.first_moment[i] / denominator;
        }
    }

    /// D_i = L_i − L_i^min + 1e-8, which must be positive and finite.
    fn shifted_losses(&self, losses: &[f64]) -> Result<Vec<f64>, GramError> {
        if losses.len() != self.logits.len() {
            return Err(GramError::LossCount {
                expected: self.logits.len(),
                got: losses.len(),
            });
        }
        let mut shifted = Vec::with_capacity(losses.len());
        for (task, (&loss, &min)) in losses.iter().zip(&self.min_losses).enumerate() {
            let value = loss - min + LOSS_OFFSET;
            if !value.is_finite() || value <= 0.0 {
                return Err(GramError::InvalidLoss {
                    task,
                    loss,
                    lower_bound: min - LOSS_OFFSET,
                });
            }
            shifted.push(value);
        }
        Ok(shifted)
    }
}

fn check_non_negative(name: &'static str, value: f64) -> Result<(), GramError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(GramError::InvalidParameter {
            name,
            value,
            reason: "must be finite and ≥ 0",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::reference_cases::{max_abs_relative, report_deviation};

    // BEGIN GENERATED famo (bench/aggregate_reference.py --write-rust)
    /// Loss sequence and TorchJD 0.18.0 FAMO coefficients (lr 0.025, weight decay 1e-3).
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const FAMO_LOSSES: &[&[f64]] = &[&[1.0, 2.0, 0.5], &[0.9, 1.7, 0.49], &[0.85, 1.2, 0.5], &[0.7, 1.1, 0.45], &[0.72, 0.8, 0.44], &[0.6, 0.75, 0.3], &[0.55, 0.7, 0.31], &[0.5, 0.4, 0.2], &[0.45, 0.35, 0.21]];
    #[rustfmt::skip]
    const FAMO_COEFFICIENTS: &[&[f64]] = &[&[0.2857142871428571, 0.14285714428571428, 0.5714285685714285], &[0.2889908111768744, 0.15299512556015737, 0.5580140632629681], &[0.2871186059111973, 0.19563306440407408, 0.5172483296847286], &[0.30387762619358144, 0.18369297173578564, 0.5124294020706329], &[0.2759569046458373, 0.22913598934366544, 0.4949071060104973], &[0.2565654043152216, 0.18553150767594778, 0.5579030880088306], &[0.27541415517377915, 0.19281031847215443, 0.5317755263540664], &[0.2094395291789099, 0.22730519735482702, 0.563255273466263]];
    // END GENERATED famo

    /// Replays the reference loss sequence: at step s the coefficients for
    /// FAMO_LOSSES[s] are compared, then update(FAMO_LOSSES[s], FAMO_LOSSES[s + 1]).
    #[test]
    fn matches_reference_sequence() {
        let mut famo = Famo::new(3).unwrap();
        let mut worst = 0.0_f64;
        for (step, expected) in FAMO_COEFFICIENTS.iter().enumerate() {
            let lambda = famo.coefficients(FAMO_LOSSES[step]).unwrap();
            worst = worst.max(max_abs_relative(&lambda, expected));
            famo.update(FAMO_LOSSES[step], FAMO_LOSSES[step + 1])
                .unwrap();
        }
        report_deviation("famo", worst);
        assert!(worst < 1e-12, "famo deviates by {worst}");
    }

    #[test]
    fn starts_at_inverse_loss_weighting() {
        let famo = Famo::new(3).unwrap();
        let lambda = famo.coefficients(&[1.0, 2.0, 4.0]).unwrap();
        // z uniform: λ_i ∝ 1/D_i with Σ λ_i = 1.
        let c: f64 = (1.0 / 3.0) * (1.0 / (1.0 + 1e-8) + 1.0 / (2.0 + 1e-8) + 1.0 / (4.0 + 1e-8));
        assert!((lambda[0] - (1.0 / 3.0) / (c * (1.0 + 1e-8))).abs() < 1e-15);
        assert!((lambda.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_losses_and_parameters() {
        let mut famo = Famo::new(3).unwrap();
        assert!(matches!(
            famo.coefficients(&[1.0, -1.0, 1.0]),
            Err(GramError::InvalidLoss { task: 1, .. })
        ));
        assert!(matches!(
            famo.coefficients(&[1.0, f64::NAN, 1.0]),
            Err(GramError::InvalidLoss { task: 1, .. })
        ));
        assert!(matches!(
            famo.coefficients(&[1.0]),
            Err(GramError::LossCount { .. })
        ));
        assert!(
            famo.update(&[1.0, 1.0, 1.0], &[1.0, f64::INFINITY, 1.0])
                .is_err()
        );
        assert_eq!(Famo::new(1), Err(GramError::TaskCount { tasks: 1 }));
        assert!(Famo::with_parameters(vec![0.0; 3], -1.0, 0.0).is_err());
        // A zero loss is allowed (D = 1e-8), and stays finite.
        let lambda = famo.coefficients(&[0.0, 1.0, 1.0]).unwrap();
        assert!(lambda.iter().all(|x| x.is_finite()));
    }
}
