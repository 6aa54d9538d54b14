//! What a weighting rule is: the rules' names and settings, what a rule sees each step, what it
//! decides, and the trait every rule implements.

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use super::math::normalised;
use crate::model::psi::Psi;
use crate::task::TASKS;

/// The weighting rules a run can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// Ming et al.: Ψ has its own optimiser on L4 = Σ w_i/(L_i + 0.01), L_i constant.
    Proposed,
    /// Yin & Liu: Ψ trained with the network on Σ w_i·L_i.
    Naive,
    /// User-set weights.
    Static,
    Equal,
    SingleVerif,
    SingleVisual,
    SingleCari,
    /// Kendall et al. 2018: learned homoscedastic uncertainty.
    Uncertainty,
    /// Liu et al. 2019: dynamic weight average over loss-descent rates.
    Dwa,
    /// Random loss weighting: w = softmax(ε), ε ~ N(0, 1) each step.
    Rlw,
    /// Geometric mean of the losses (Π L_i)^(1/T).
    Geometric,
    /// Chen et al. 2018: weights learned so the tasks' gradient norms at the last shared layer
    /// follow their relative inverse training rates (α = 1.5).
    GradNorm,
}

impl Strategy {
    pub const ALL: [Strategy; 12] = [
        Strategy::Proposed,
        Strategy::Naive,
        Strategy::Static,
        Strategy::Equal,
        Strategy::SingleVerif,
        Strategy::SingleVisual,
        Strategy::SingleCari,
        Strategy::Uncertainty,
        Strategy::Dwa,
        Strategy::Rlw,
        Strategy::Geometric,
        Strategy::GradNorm,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Strategy::Proposed => "proposed",
            Strategy::Naive => "naive",
            Strategy::Static => "static",
            Strategy::Equal => "equal",
            Strategy::SingleVerif => "single-verif",
            Strategy::SingleVisual => "single-visual",
            Strategy::SingleCari => "single-cari",
            Strategy::Uncertainty => "uncertainty",
            Strategy::Dwa => "dwa",
            Strategy::Rlw => "rlw",
            Strategy::Geometric => "geometric",
            Strategy::GradNorm => "gradnorm",
        }
    }

    pub fn parse(text: &str) -> Result<Strategy, String> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.key() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.key()).collect();
                format!(
                    "unknown strategy '{text}'; expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// One sentence for hover texts and the explain panel.
    pub fn description(self) -> &'static str {
        match self {
            Strategy::Proposed => {
                "Ming et al. 2019: Ψ has its own optimiser on L4 = Σ w_i/(L_i+0.01), so weight goes to the hardest task"
            }
            Strategy::Naive => {
                "Yin & Liu 2018: Ψ is trained with the network on Σ w_i·L_i, so weight drifts to the easiest task"
            }
            Strategy::Static => "fixed weights you set with the sliders",
            Strategy::Equal => "w = 1/3 for every task",
            Strategy::SingleVerif => "only the verification loss (w = 1, 0, 0)",
            Strategy::SingleVisual => "only the photo-identification loss (w = 0, 1, 0)",
            Strategy::SingleCari => "only the caricature-identification loss (w = 0, 0, 1)",
            Strategy::Uncertainty => {
                "Kendall et al. 2018: learned s_i, loss Σ L_i/(2·exp(s_i)) + s_i/2; weights shown normalised"
            }
            Strategy::Dwa => {
                "Liu et al. 2019: w = T·softmax(r/τ), r = ratio of each task's mean loss over the last two windows; shown normalised"
            }
            Strategy::Rlw => "random loss weighting: w = softmax(ε), ε ~ N(0, 1) drawn every step",
            Strategy::Geometric => {
                "geometric mean of the losses (Π L_i)^(1/T); implied weights ∂/∂L_i, shown normalised"
            }
            Strategy::GradNorm => {
                "Chen et al. 2018 (α = 1.5): weights learned so each task's gradient norm at Z (the last shared layer's output) matches its relative inverse training rate; shown normalised"
            }
        }
    }

    /// The code's default weight-logit scale s for the rules that use Ψ.
    pub fn default_scale(self) -> f32 {
        match self {
            Strategy::Naive => 0.5,
            _ => 1.0,
        }
    }

    pub fn uses_psi(self) -> bool {
        matches!(self, Strategy::Proposed | Strategy::Naive)
    }
}

/// A rule with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StrategyConfig {
    pub strategy: Strategy,
    /// Weight-logit scale s; `None` = the authors' default for the rule (proposed 1, naive 0.5).
    pub scale: Option<f32>,
    /// Weights for `static` (normalised to sum 1 when used).
    pub static_weights: [f32; TASKS],
    /// Window length N in steps for `dwa`.
    pub dwa_window: usize,
    /// Temperature τ for `dwa`.
    pub dwa_temperature: f32,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            strategy: Strategy::Proposed,
            scale: None,
            static_weights: [0.4, 0.3, 0.3],
            dwa_window: 20,
            dwa_temperature: 2.0,
        }
    }
}

impl StrategyConfig {
    pub fn new(strategy: Strategy) -> Self {
        StrategyConfig {
            strategy,
            ..StrategyConfig::default()
        }
    }

    pub fn scale(&self) -> f32 {
        self.scale.unwrap_or(self.strategy.default_scale())
    }

    /// A label for plots and CSV, e.g. `proposed` or `static(0.40,0.30,0.30)`.
    pub fn label(&self) -> String {
        match self.strategy {
            Strategy::Static => {
                let w = normalised(self.static_weights);
                format!("static({:.2}/{:.2}/{:.2})", w[0], w[1], w[2])
            }
            other => other.key().to_string(),
        }
    }

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
}

/// A loss-weighting rule.
pub trait WeightingRule: Send {
    fn config(&self) -> &StrategyConfig;

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
