//! What a weighting rule is: its entry in the registry ([`RuleSpec`], declared in the rule's own
//! file), its settings, what it sees each step, what it decides, and the trait every rule's
//! network form implements.

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use super::gram::Gram;
use super::host::{HostRule, HostSetup};
use crate::model::psi::Psi;
use crate::task::TASKS;

/// What a rule reads each step besides the task losses, so the trainer (and the toy) know what
/// to compute for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// The task losses only.
    Losses,
    /// The weight module Ψ on the trunk's output Z.
    Psi,
    /// Each task's own gradient on the shared part, as a Gram matrix in the run's space.
    TaskGradients,
    /// Each task's own ∂L_i/∂Z (GradNorm's norms at the trunk's output).
    GradientsAtZ,
}

/// How a rule runs without a network (the toy model): its constructor, or why it cannot.
#[derive(Clone, Copy)]
pub enum HostSupport {
    /// Builds the host form, or says why it cannot for this setup (e.g. too few tasks).
    Runs(fn(&HostSetup) -> Result<Box<dyn HostRule>, String>),
    /// The reason, for the toy's menu and its error.
    Cannot(&'static str),
}

/// Everything the program knows of one rule, declared in the rule's own file; `RULES` in
/// `weighting/mod.rs` lists them.
pub struct RuleSpec {
    /// The name on the command line, in files and in menus.
    pub key: &'static str,
    /// One sentence naming the paper, for hover texts and the explain panel.
    pub description: &'static str,
    pub needs: Needs,
    /// The authors' weight-logit scale s, for rules with Ψ.
    pub default_scale: Option<f32>,
    /// The rule on the network.
    pub build: fn(&RuleSettings, &RuleEnv) -> candle_core::Result<Box<dyn WeightingRule>>,
    /// The rule in the toy model.
    pub host: HostSupport,
    /// A label with the rule's settings (e.g. static's weights); `None`: the key.
    pub label: Option<fn(&RuleSettings) -> String>,
}

/// What a rule's network form is built with.
pub struct RuleEnv<'a> {
    pub device: &'a candle_core::Device,
    /// Feeds rules that draw random numbers.
    pub seed: u64,
}

/// The settings a rule is built with (each rule reads those it has; the rest are ignored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleSettings {
    /// Weight-logit scale s; `None` = the authors' default for the rule (proposed 1, naive 0.5).
    pub scale: Option<f32>,
    /// Weights for `static` (normalised to sum 1 when used).
    pub static_weights: [f32; TASKS],
    /// Window length N in steps for `dwa`.
    pub dwa_window: usize,
    /// Temperature τ for `dwa`.
    pub dwa_temperature: f32,
    /// CAGrad's c: how far the update may move from the mean gradient, in units of its norm
    /// (0.4, the paper's and LibMTL's default).
    pub cagrad_c: f64,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            scale: None,
            static_weights: [0.4, 0.3, 0.3],
            dwa_window: 20,
            dwa_temperature: 2.0,
            cagrad_c: 0.4,
        }
    }
}

impl RuleSettings {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.scale
            && !(s.is_finite() && s > 0.0 && s <= 50.0)
        {
            return Err(format!("scale s = {s} must be in (0, 50]"));
        }
        if self
            .static_weights
            .iter()
            .any(|w| !w.is_finite() || *w < 0.0)
        {
            return Err(format!(
                "static weights {:?} must be finite and ≥ 0",
                self.static_weights
            ));
        }
        if self.static_weights.iter().sum::<f32>() <= 0.0 {
            return Err("static weights must not all be 0".into());
        }
        if self.dwa_window == 0 {
            return Err("dwa window must be ≥ 1 step".into());
        }
        if !(self.dwa_temperature.is_finite() && self.dwa_temperature > 0.0) {
            return Err(format!(
                "dwa temperature τ = {} must be > 0",
                self.dwa_temperature
            ));
        }
        if !(self.cagrad_c.is_finite() && (0.0..=100.0).contains(&self.cagrad_c)) {
            return Err(format!("cagrad c = {} must be in [0, 100]", self.cagrad_c));
        }
        Ok(())
    }
}

/// What a rule sees each step.
pub struct WeightInputs<'a> {
    /// The trunk's output Z, `[batch, z_dim]`, attached to the graph.
    pub z: &'a Tensor,
    /// The task losses `[3]`, attached to the graph.
    pub losses: &'a Tensor,
    /// Host copy of the losses.
    pub loss_values: [f32; TASKS],
    pub psi: &'a Psi,
    /// 1-based step being taken.
    pub step: u64,
    /// The code's choice (true) or the paper's reading (false), see `TrainConfig`.
    pub weights_reach_trunk: bool,
    /// The Gram matrix of the tasks' own gradients on the shared part (in the run's gradient
    /// space), for the rules that need them; `None` for the others.
    pub task_gram: Option<&'a Gram>,
    /// Each task's own ∂L_i/∂Z, for the rules that need them (`Needs::GradientsAtZ`).
    pub task_grads_at_z: Option<&'a [Tensor; TASKS]>,
}

/// Who updates Ψ this step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsiUpdate {
    /// Ψ stays as it is.
    Frozen,
    /// Ψ is one more parameter of the network, at the network's learning rate (naive).
    WithNetwork,
    /// Ψ has its own optimiser at Ψ's learning rate (proposed).
    Own,
}

/// A rule's decision for one step.
pub struct WeightPlan {
    /// `[3]`: the network minimises Σ network_weights_i · L_i (+ `extra_objective`).
    pub network_weights: Tensor,
    /// Added to the backward objective: L4 for proposed (on a detached Z, so it reaches Ψ
    /// only), the log-variance term for uncertainty.
    pub extra_objective: Option<Tensor>,
    pub psi_update: PsiUpdate,
    /// Weights to report, summing to 1.
    pub reported: [f32; TASKS],
    /// What each branch's own loss is weighted by, where it is not `network_weights`: the
    /// rules that combine gradients give each branch its own task's gradient (weight 1) and
    /// steer only the shared trunk.
    pub branch_weights: Option<[f32; TASKS]>,
}

/// A loss-weighting rule's network form.
pub trait WeightingRule: Send {
    /// Decide this step's weights.
    fn plan(&mut self, inputs: &WeightInputs) -> candle_core::Result<WeightPlan>;

    /// Parameters of the rule itself that the network's optimiser trains (e.g. uncertainty's s).
    fn trainable_vars(&self) -> Vec<Var> {
        Vec::new()
    }

    /// Called after each step with the losses it saw (loss-history rules keep state here).
    fn observe(&mut self, _step: u64, _losses: [f32; TASKS]) {}
}

/// Host `[f32; 3]` from a `[3]` tensor.
pub fn to_array(t: &Tensor) -> candle_core::Result<[f32; TASKS]> {
    let v = t.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
    let mut out = [0.0; TASKS];
    if v.len() != TASKS {
        return Err(candle_core::Error::Msg(format!(
            "expected {TASKS} weights, got {}",
            v.len()
        )));
    }
    out.copy_from_slice(&v);
    Ok(out)
}

/// A constant `[3]` tensor.
pub fn constant(w: [f32; TASKS], device: &candle_core::Device) -> candle_core::Result<Tensor> {
    Tensor::new(&w, device)
}
