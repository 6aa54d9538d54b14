//! Everything needed to reproduce a run, serialised as config.json.

use serde::{Deserialize, Serialize};

use super::hold::{WeightHold, validate_holds};
use super::lens::{GradSpace, LensConfig};

use crate::data::DataConfig;
use crate::data::dataset::LoadMonitor;
use crate::kernels::Kernels;
use crate::model::Preset;
use crate::task::Task;
use crate::weighting::StrategyConfig;

/// Learning rates of the network and of the weight module Ψ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearningRates {
    /// The network's (trunk, branches, classifiers) learning rate.
    pub lr: f64,
    /// Ψ's own learning rate under `proposed`. Under `naive` Ψ is trained with the network at `lr`.
    pub psi_lr: f64,
}

impl Default for LearningRates {
    fn default() -> Self {
        // RMSProp at 1e-3 trains this network (plain SGD at 1e-2 barely moves it). Ψ at 10× the
        // network's rate, as the authors' WebCaricature script: well above the half-rate under
        // which the gradient reaching the trunk through w overrides L4 (see README).
        LearningRates {
            lr: 1e-3,
            psi_lr: 1e-2,
        }
    }
}

/// A named set of training settings (its values and where they come from: `train::recipe`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Recipe {
    /// RMSProp lr 1e-3 (ε 1e-6, no momentum), Ψ at 10×, centre loss 0.01 on verification.
    #[default]
    Lab,
    /// The authors' CaVI script: TF1 RMSProp at 0.1 then 0.01, Ψ at 1×, s = 1.
    AuthorsCavi,
    /// The authors' WebCaricature script: as CaVI but Ψ at 10× and s = 2.
    AuthorsWebcaricature,
}

/// A step change of both learning rates (the network's and Ψ's), as the authors' schedule
/// file does (0.1, then 0.01 from epoch 50).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrDrop {
    /// The last step at the first rates; steps after it train at the rates × `factor`.
    pub after_step: u64,
    pub factor: f64,
}

impl LrDrop {
    /// The rates that train step `step` (1-based): `rates` up to `after_step`, scaled after.
    pub fn rates_at(drop: Option<LrDrop>, rates: LearningRates, step: u64) -> LearningRates {
        match drop {
            Some(d) if step > d.after_step => LearningRates {
                lr: rates.lr * d.factor,
                psi_lr: rates.psi_lr * d.factor,
            },
            _ => rates,
        }
    }
}

/// Which branches carry a centre-loss term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CentreLossOn {
    /// The verification branch only (the paper's eq. (4)).
    Verif,
    /// Every branch, each on the images its task sees, each with its own table of centres (the
    /// authors' code puts a term on all three; it shares one table between them by accident).
    EveryBranch,
}

impl CentreLossOn {
    pub fn covers(self, task: Task) -> bool {
        self == CentreLossOn::EveryBranch || task == Task::Verif
    }
}

/// How a task is made harder, from a chosen step on (teaching: "the hardest task changes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Perturbation {
    /// Back to normal.
    None,
    /// The task sees a fresh random label for every image: it cannot be learned.
    ShuffleLabels,
    /// The images the task sees get strong Gaussian noise (σ = 1 in normalised units).
    Noise,
}

impl Perturbation {
    pub fn key(self) -> &'static str {
        match self {
            Perturbation::None => "none",
            Perturbation::ShuffleLabels => "shuffle-labels",
            Perturbation::Noise => "noise",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPerturbation {
    pub task: Task,
    pub perturbation: Perturbation,
}

/// A perturbation scheduled for a step (CLI `--perturb TASK:KIND@STEP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledPerturbation {
    pub step: u64,
    pub change: TaskPerturbation,
}

impl std::str::FromStr for ScheduledPerturbation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = "expected TASK:KIND@STEP with TASK verif|visual|cari and KIND shuffle-labels|noise|none, e.g. visual:shuffle-labels@300";
        let (task_kind, step) = text
            .split_once('@')
            .ok_or_else(|| format!("'{text}': missing '@STEP'; {usage}"))?;
        let (task, kind) = task_kind
            .split_once(':')
            .ok_or_else(|| format!("'{text}': missing ':KIND'; {usage}"))?;
        let task =
            Task::parse(task).ok_or_else(|| format!("'{text}': unknown task '{task}'; {usage}"))?;
        let perturbation = match kind {
            "shuffle-labels" => Perturbation::ShuffleLabels,
            "noise" => Perturbation::Noise,
            "none" => Perturbation::None,
            other => return Err(format!("'{text}': unknown kind '{other}'; {usage}")),
        };
        let step = step
            .parse::<u64>()
            .map_err(|_| format!("'{text}': step '{step}' is not a whole number; {usage}"))?;
        Ok(ScheduledPerturbation {
            step,
            change: TaskPerturbation { task, perturbation },
        })
    }
}

/// Which optimiser trains the network (Ψ under `proposed` uses the same kind).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// RMSProp with TF1's `RMSPropOptimizer` semantics: decay ρ, momentum μ, ε inside the root,
    ///
    /// ```text
    /// ms  ← ρ·ms + (1 − ρ)·g²
    /// mom ← μ·mom + lr·g / √(ms + ε)
    /// θ   ← θ − mom
    /// ```
    ///
    /// with `ms` starting at `initial_mean_square` (TF1: 1.0) and `mom` at 0.
    RmsProp {
        decay: f64,
        momentum: f64,
        eps: f64,
        /// Where the running mean of g² starts. TF1 starts it at 1, which with ε = 1 keeps
        /// the first steps at about lr·g/√2 instead of lr·sign(g); config.json files written
        /// before this field existed started it at 0.
        #[serde(default)]
        initial_mean_square: f64,
    },
    /// SGD with heavy-ball momentum.
    Sgd { momentum: f64 },
}

impl Default for OptimizerKind {
    fn default() -> Self {
        OptimizerKind::RmsProp {
            decay: 0.9,
            momentum: 0.0,
            eps: 1e-6,
            initial_mean_square: 0.0,
        }
    }
}

impl OptimizerKind {
    /// TF1's `RMSPropOptimizer` as the authors' `train_BP.py` builds it: decay 0.9,
    /// momentum 0.9, ε 1.0, mean square starting at 1.
    pub const TF_RMSPROP_AUTHORS: OptimizerKind = OptimizerKind::RmsProp {
        decay: 0.9,
        momentum: 0.9,
        eps: 1.0,
        initial_mean_square: 1.0,
    };
}

/// A whole run's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// The named set of settings this run started from (`lab` or one of the authors'); every
    /// setting it chose is also written out below, with any explicit override applied.
    pub recipe: Recipe,
    pub seed: u64,
    pub preset: Preset,
    /// The dataset (its fields sit at the top level of config.json).
    #[serde(flatten)]
    pub data: DataConfig,
    pub strategy: StrategyConfig,
    pub rates: LearningRates,
    /// A step change of both rates (None: constant rates).
    pub lr_drop: Option<LrDrop>,
    pub optimizer: OptimizerKind,
    pub batch_size: usize,
    /// Global gradient-norm clip (the code's 5); 0 disables.
    pub clip_norm: f64,
    /// Centre-loss factor λ.
    pub centre_loss_factor: f64,
    /// Which branches' embeddings carry the centre term.
    pub centre_loss_on: CentreLossOn,
    /// Centre update rate α: c ← c − (1 − α)(c − batch mean).
    pub centre_alpha: f64,
    /// `true` (the code): the network's loss Σ w_i·L_i also reaches the trunk through w.
    /// `false` (the paper's reading): w is a constant for the network.
    pub weights_reach_trunk: bool,
    /// Steps to train (0 = until stopped).
    pub max_steps: u64,
    /// Evaluate every N steps (0 = only when asked).
    pub eval_every: u64,
    pub perturbations: Vec<ScheduledPerturbation>,
    /// Task weights held at a value over a range of steps (CLI `--hold TASK:VALUE@FROM-TO`;
    /// see `train::hold`).
    pub holds: Vec<WeightHold>,
    /// `cpu`, `cuda:N` or `auto`.
    pub device: String,
    /// What the convolutions and poolings run on: the hand-written CPU kernels (`Fast`, where
    /// the device is the CPU) or candle's own ops as a GPU runs them (`Portable`).
    pub kernels: Kernels,
    /// Where the rules that combine the tasks' gradients take them.
    pub grad_space: GradSpace,
    /// The gradient lens: its space and how often it looks (off by default).
    pub lens: LensConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            recipe: Recipe::Lab,
            seed: 1,
            preset: Preset::Tiny,
            data: DataConfig::default(),
            strategy: StrategyConfig::default(),
            rates: LearningRates::default(),
            lr_drop: None,
            optimizer: OptimizerKind::default(),
            batch_size: 64,
            clip_norm: 5.0,
            centre_loss_factor: 0.01,
            centre_loss_on: CentreLossOn::Verif,
            centre_alpha: 0.5,
            weights_reach_trunk: true,
            max_steps: 0,
            eval_every: 0,
            perturbations: Vec::new(),
            holds: Vec::new(),
            device: "auto".into(),
            kernels: Kernels::Fast,
            grad_space: GradSpace::default(),
            lens: LensConfig::default(),
        }
    }
}

/// Most steps a run may be asked to take (a typo must not mean days of training or a huge
/// allocation).
pub const MAX_STEPS: u64 = 100_000_000;

/// A setting that cannot be used, with the reason.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid setting {field}: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl TrainConfig {
    /// Make this run's dataset, at its preset's image size and from its seed.
    pub fn load_dataset(
        &self,
        progress: &dyn LoadMonitor,
    ) -> Result<crate::data::Dataset, crate::data::DataError> {
        crate::data::load(&self.data, self.seed, self.preset.image_size(), progress)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, reason: String| Err(ConfigError { field, reason });
        let positive_finite = |x: f64| x.is_finite() && x > 0.0;
        if !positive_finite(self.rates.lr) {
            return bad(
                "lr",
                format!("{} must be a positive finite number", self.rates.lr),
            );
        }
        if !positive_finite(self.rates.psi_lr) {
            return bad(
                "psi_lr",
                format!("{} must be a positive finite number", self.rates.psi_lr),
            );
        }
        if let Some(drop) = self.lr_drop
            && !positive_finite(drop.factor)
        {
            return bad(
                "lr_drop factor",
                format!("{} must be a positive finite number", drop.factor),
            );
        }
        if self.max_steps > MAX_STEPS {
            return bad(
                "max_steps",
                format!("{} must be at most {MAX_STEPS}", self.max_steps),
            );
        }
        if self.eval_every > MAX_STEPS {
            return bad(
                "eval_every",
                format!("{} must be at most {MAX_STEPS}", self.eval_every),
            );
        }
        if self.lens.every > MAX_STEPS {
            return bad(
                "lens every",
                format!("{} must be at most {MAX_STEPS}", self.lens.every),
            );
        }
        if self.batch_size < 2 || self.batch_size > 4096 {
            return bad(
                "batch_size",
                format!("{} must be in 2..=4096", self.batch_size),
            );
        }
        if !(self.clip_norm.is_finite() && self.clip_norm >= 0.0) {
            return bad("clip_norm", format!("{} must be ≥ 0", self.clip_norm));
        }
        if !(self.centre_loss_factor.is_finite() && self.centre_loss_factor >= 0.0) {
            return bad(
                "centre_loss_factor",
                format!("{} must be ≥ 0", self.centre_loss_factor),
            );
        }
        if !(0.0..=1.0).contains(&self.centre_alpha) {
            return bad(
                "centre_alpha",
                format!("{} must be in 0..=1", self.centre_alpha),
            );
        }
        match self.optimizer {
            OptimizerKind::RmsProp {
                decay,
                momentum,
                eps,
                initial_mean_square,
            } => {
                if !(0.0..1.0).contains(&decay) {
                    return bad("rmsprop decay", format!("{decay} must be in 0..1"));
                }
                if !(0.0..1.0).contains(&momentum) {
                    return bad("momentum", format!("{momentum} must be in 0..1"));
                }
                if !positive_finite(eps) {
                    return bad("rmsprop eps", format!("{eps} must be > 0"));
                }
                if !(initial_mean_square.is_finite() && initial_mean_square >= 0.0) {
                    return bad(
                        "rmsprop initial_mean_square",
                        format!("{initial_mean_square} must be ≥ 0"),
                    );
                }
            }
            OptimizerKind::Sgd { momentum } => {
                if !(0.0..1.0).contains(&momentum) {
                    return bad("momentum", format!("{momentum} must be in 0..1"));
                }
            }
        }
        self.strategy.validate().map_err(|reason| ConfigError {
            field: "strategy",
            reason,
        })?;
        validate_holds(&self.holds).map_err(|reason| ConfigError {
            field: "holds",
            reason,
        })?;
        Ok(())
    }
}
