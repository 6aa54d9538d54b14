//! The typed messages between the UI (or CLI) and a trainer thread.
//!
//! Data flows one way: the trainer owns every tensor and sends plain numbers out; the UI sends
//! commands in. Nothing here depends on egui or candle.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::eval::EvalReport;
use crate::train::config::{LearningRates, Perturbation, TaskPerturbation};
use crate::train::snapshot::TrainerSnapshot;
use crate::weighting::StrategyConfig;

/// Number of tasks in the paper's network.
pub const TASKS: usize = 3;

/// The three tasks, in the order used by every `[f32; 3]` in this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Task {
    /// Caricature–photo verification (paper's L1), blue in Fig. 3.
    Verif,
    /// Photo identification (paper's L3), orange in Fig. 3.
    Visual,
    /// Caricature identification (paper's L2), grey in Fig. 3.
    Cari,
}

impl Task {
    pub const ALL: [Task; TASKS] = [Task::Verif, Task::Visual, Task::Cari];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Short name used in CSV headers and the CLI.
    pub fn key(self) -> &'static str {
        match self {
            Task::Verif => "verif",
            Task::Visual => "visual",
            Task::Cari => "cari",
        }
    }

    /// Name in words for legends.
    pub fn label(self) -> &'static str {
        match self {
            Task::Verif => "caricature–photo verification",
            Task::Visual => "photo identification",
            Task::Cari => "caricature identification",
        }
    }

    pub fn parse(text: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.key() == text)
    }
}

/// One training step's numbers, as written to metrics.csv.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// 1-based count of optimiser steps taken.
    pub step: u64,
    /// Seconds of training since the run started (pauses excluded).
    pub wall_secs: f64,
    pub strategy: String,
    /// Weights the network's loss used at this step (normalised to sum 1 for display).
    pub weights: [f32; TASKS],
    pub losses: [f32; TASKS],
    /// The network's learning rate.
    pub lr: f64,
    /// How many steps this row stands for: 1, or more when an absent consumer let rows pile up
    /// and the trainer averaged neighbours to keep memory bounded.
    pub coalesced_steps: u32,
}

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
    /// Make a task harder from the next step (or restore it with `Perturbation::None`).
    Perturb(TaskPerturbation),
    /// Run an evaluation of the current model now.
    Evaluate,
    /// Evaluate every N steps (0 = never).
    SetEvalEvery(u64),
    /// Save parameters as safetensors at this path (temporary file, then rename).
    SaveCheckpoint(PathBuf),
    /// Load parameters from a safetensors file written by `SaveCheckpoint`.
    LoadCheckpoint(PathBuf),
    /// Send back the whole trainer state, so another slot can continue from it ("fork").
    Snapshot,
    /// Replace the whole trainer state by a snapshot taken from another trainer.
    Restore(Box<TrainerSnapshot>),
    /// Compute embeddings of the evaluation images for the projector.
    Embed(crate::eval::EmbeddingRequest),
    Stop,
}

/// Events a trainer thread sends out.
#[derive(Clone, Debug)]
pub enum Event {
    /// The dataset and model are ready; training can start.
    Ready(RunInfo),
    /// New step rows, oldest first.
    Metrics(Vec<StepMetrics>),
    /// The rule changed at this step (the first step that used it).
    StrategyChanged {
        step: u64,
        strategy: String,
    },
    LearningRatesChanged {
        step: u64,
        rates: LearningRates,
    },
    Perturbed {
        step: u64,
        task: Task,
        perturbation: Perturbation,
    },
    Paused {
        step: u64,
        reason: String,
    },
    Playing {
        step: u64,
    },
    Evaluated(Box<EvalReport>),
    Embedded(Box<crate::eval::Embeddings>),
    CheckpointSaved(PathBuf),
    CheckpointLoaded(PathBuf),
    Snapshot(Box<TrainerSnapshot>),
    Restored {
        step: u64,
    },
    /// Something went wrong; the run is paused (or dead when `fatal`).
    Error {
        step: u64,
        message: String,
        fatal: bool,
    },
    /// `max_steps` reached or `Stop` received; the thread exits after this.
    Finished {
        step: u64,
    },
}

/// Facts about a ready run, shown in the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub device: String,
    pub preset: String,
    pub dataset: String,
    pub parameters: usize,
    pub train_images: usize,
    pub classes: usize,
    pub embedding_dim: usize,
    pub z_dim: usize,
}
