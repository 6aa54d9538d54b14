//! The typed messages between a window (or any driver) and a trainer thread.
//!
//! The trainer owns every tensor and sends plain numbers out; the driver sends commands in.
//! Every change the trainer makes to its settings comes back as the value it applied (or kept,
//! when it refused a change), so the window can show what is really training.

use std::fmt;
use std::path::PathBuf;

use crate::eval::{EmbeddingRequest, Embeddings, EvalReport};
use crate::task::Task;
use crate::train::config::{LearningRates, TaskPerturbation};
use crate::train::lens::{GradSpace, LensConfig};
use crate::train::metrics::{RunInfo, StepMetrics};
use crate::train::snapshot::TrainerSnapshot;
use crate::weighting::StrategyConfig;

/// Commands a trainer thread accepts.
#[derive(Clone, Debug)]
pub enum Command {
    /// Train continuously until paused, stopped or `max_steps` is reached.
    Play,
    Pause,
    /// Take exactly this many steps, then pause.
    Step(u64),
    /// Change the weighting rule from the next step on.
    SetStrategy(StrategyConfig),
    SetLearningRates(LearningRates),
    /// Whether the network's loss Σ w_i·L_i reaches the trunk through w (false: the paper's
    /// eq. (11), w a constant for the network), from the next step.
    SetWeightsReachTrunk(bool),
    /// Where the rules that combine gradients take them, and the lens, from the next step.
    SetGradients(Gradients),
    /// Make a task harder from the next step (or restore it with `Perturbation::None`).
    Perturb(TaskPerturbation),
    /// Hold a task's weight at a value from the next step on, for as long as the user holds
    /// it (`None`: release it; the rule takes over again). See `train::hold`.
    Hold {
        task: Task,
        value: Option<f64>,
    },
    /// Run an evaluation of the current model now.
    Evaluate,
    /// Evaluate every N steps (0 = never).
    SetEvalEvery(u64),
    /// Save parameters as safetensors at this path.
    SaveCheckpoint(PathBuf),
    /// Load parameters from a safetensors file written by `SaveCheckpoint`.
    LoadCheckpoint(PathBuf),
    /// Continue a finished run: its checkpoint's parameters, and its step count and training
    /// time, so new rows follow its own (the window's "Open run").
    ContinueFrom {
        checkpoint: PathBuf,
        step: u64,
        wall_secs: f64,
    },
    /// Send back the whole trainer state, so another slot can continue from it ("fork").
    Snapshot,
    /// Replace the whole trainer state by a snapshot taken from another trainer.
    Restore(Box<TrainerSnapshot>),
    /// Compute embeddings of the evaluation images for the projector.
    Embed(EmbeddingRequest),
    Stop,
}

impl Command {
    /// Settings where only the newest value matters: a slider dragged over many frames sends
    /// many, and the trainer (or a full queue) keeps just the last.
    pub fn supersedes(&self, older: &Command) -> bool {
        matches!(
            (self, older),
            (Command::SetStrategy(_), Command::SetStrategy(_))
                | (Command::SetLearningRates(_), Command::SetLearningRates(_))
                | (Command::SetEvalEvery(_), Command::SetEvalEvery(_))
                | (
                    Command::SetWeightsReachTrunk(_),
                    Command::SetWeightsReachTrunk(_)
                )
                | (Command::SetGradients(_), Command::SetGradients(_))
        ) || matches!(
            (self, older),
            (Command::Hold { task: a, .. }, Command::Hold { task: b, .. }) if a == b
        )
    }
}

/// Why a run is not training.
#[derive(Clone, Debug, PartialEq)]
pub enum PauseReason {
    /// The model is built and waits for Play or Step.
    Ready,
    /// Pause was pressed.
    User,
    /// A Step command took its steps.
    Stepped,
    /// The run reached its `max_steps`.
    ReachedMaxSteps(u64),
    /// A step failed; the run keeps its state and can go on once the cause is fixed.
    Error,
    /// The trainer was told to stop.
    Finished,
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PauseReason::Ready => f.write_str("ready"),
            PauseReason::User => f.write_str("paused"),
            PauseReason::Stepped => f.write_str("stepped"),
            PauseReason::ReachedMaxSteps(n) => write!(f, "reached {n} steps"),
            PauseReason::Error => f.write_str("error"),
            PauseReason::Finished => f.write_str("finished"),
        }
    }
}

/// Where a run takes the tasks' gradients: the rules' space and the lens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Gradients {
    pub grad_space: GradSpace,
    pub lens: LensConfig,
}

/// The settings a trainer is training with now.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub strategy: StrategyConfig,
    pub rates: LearningRates,
    pub eval_every: u64,
    pub gradients: Gradients,
}

/// Events a trainer thread sends out.
#[derive(Clone, Debug)]
pub enum Event {
    /// The dataset and model are ready; training can start.
    Ready {
        info: RunInfo,
        applied: Applied,
    },
    /// New step rows, oldest first.
    Metrics(Vec<StepMetrics>),
    /// The rule changed at this step (the first step that uses it).
    StrategyChanged {
        step: u64,
        applied: StrategyConfig,
    },
    LearningRatesChanged {
        step: u64,
        applied: LearningRates,
    },
    /// From this step, w reaches the trunk (or is a constant for the network).
    WeightsReachTrunkChanged {
        step: u64,
        reach: bool,
    },
    /// From this step, the gradients are taken so.
    GradientsChanged {
        step: u64,
        applied: Gradients,
    },
    /// A setting the trainer refused; it goes on with `kept`.
    Rejected {
        step: u64,
        reason: String,
        kept: Applied,
    },
    Perturbed {
        step: u64,
        change: TaskPerturbation,
    },
    /// From this step, the task's weight is held at `value` (`None`: released).
    HoldChanged {
        step: u64,
        task: Task,
        value: Option<f64>,
    },
    Paused {
        step: u64,
        reason: PauseReason,
    },
    Playing {
        step: u64,
    },
    Evaluated(Box<EvalReport>),
    Embedded(Box<Embeddings>),
    CheckpointSaved(PathBuf),
    CheckpointLoaded(PathBuf),
    /// The run continues from a checkpoint at this step.
    Continued {
        step: u64,
        checkpoint: PathBuf,
    },
    Snapshot(Box<TrainerSnapshot>),
    /// The trainer continues from a snapshot, with these settings.
    Restored {
        step: u64,
        applied: Applied,
    },
    /// Something went wrong. Not `fatal`: the run is paused and keeps its state. `fatal`: the
    /// run refuses to train until it is rebuilt.
    Error {
        step: u64,
        message: String,
        fatal: bool,
    },
    /// `Stop` received; the thread exits after this.
    Finished {
        step: u64,
    },
}
