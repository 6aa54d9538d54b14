//! One run slot (A or B) as the UI sees it: a handle to its trainer thread, its history and
//! status, and how its events change them.

use std::sync::Arc;

use crate::data::Dataset;
use crate::eval::EvalReport;
use crate::protocol::{Command, Event, RunInfo, TASKS};
use crate::train::config::{Perturbation, TrainConfig};
use crate::train::snapshot::TrainerSnapshot;
use crate::train::trainer::{Trainer, select_device};
use crate::train::worker::{TrainerHandle, Waker, spawn};

use super::history::{Marker, RunHistory};

#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// No trainer (dataset not ready yet).
    Waiting,
    /// The trainer thread is building the model.
    Building,
    Paused(String),
    Playing,
    /// The run has stopped for good; the message says why.
    Failed(String),
}

/// A finished evaluation kept for the metrics panel.
#[derive(Clone, Debug)]
pub struct EvalPoint {
    pub step: u64,
    pub summary: std::collections::BTreeMap<String, f64>,
}

pub struct RunSlot {
    pub name: &'static str,
    pub handle: Option<TrainerHandle>,
    pub history: RunHistory,
    pub status: RunStatus,
    /// The last non-fatal error, shown until the next successful action.
    pub warning: Option<String>,
    pub info: Option<RunInfo>,
    pub step: u64,
    pub wall_secs: f64,
    pub steps_per_sec: f64,
    pub strategy_label: String,
    pub evals: Vec<EvalPoint>,
    pub last_report: Option<Arc<EvalReport>>,
    pub perturbations: [Perturbation; TASKS],
    /// The slot index a snapshot of this run should be restored into (fork).
    pub fork_to: Option<usize>,
    /// Messages for the status line (checkpoint saved, …).
    pub notes: Vec<String>,
    /// Embeddings asked for by the projector, until it takes them.
    pub embeddings: Option<Box<crate::eval::Embeddings>>,
}

/// What a slot asks of the app after handling its events.
pub enum SlotRequest {
    Fork {
        to: usize,
        snapshot: Box<TrainerSnapshot>,
    },
}

impl RunSlot {
    pub fn new(name: &'static str, smoothing: f32) -> Self {
        RunSlot {
            name,
            handle: None,
            history: RunHistory::new(smoothing),
            status: RunStatus::Waiting,
            warning: None,
            info: None,
            step: 0,
            wall_secs: 0.0,
            steps_per_sec: 0.0,
            strategy_label: String::new(),
            evals: Vec::new(),
            last_report: None,
            perturbations: [Perturbation::None; TASKS],
            fork_to: None,
            notes: Vec::new(),
            embeddings: None,
        }
    }

    /// Start a trainer for `config` on `dataset` (built on the trainer's own thread).
    pub fn start(&mut self, config: TrainConfig, dataset: Arc<Dataset>, waker: Waker) {
        let smoothing = self.history.smoothing();
        *self = RunSlot::new(self.name, smoothing);
        self.strategy_label = config.strategy.label();
        let device_spec = config.device.clone();
        let build = move || {
            let device = select_device(&device_spec).map_err(crate::train::TrainError::Data)?;
            Trainer::new(config, dataset, &device)
        };
        match spawn(&format!("trainer-{}", self.name), build, waker) {
            Ok(handle) => {
                self.handle = Some(handle);
                self.status = RunStatus::Building;
            }
            Err(e) => {
                self.status = RunStatus::Failed(format!("could not start the trainer thread: {e}"))
            }
        }
    }

    /// Send a command; a run whose thread has gone is marked failed.
    pub fn send(&mut self, command: Command) {
        let Some(handle) = &self.handle else { return };
        if !handle.send(command) && !matches!(self.status, RunStatus::Failed(_)) {
            self.status = RunStatus::Failed("the trainer thread has stopped".into());
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.status, RunStatus::Paused(_) | RunStatus::Playing)
    }

    /// Take every waiting event (never blocks).
    pub fn drain(&mut self) -> Vec<SlotRequest> {
        let mut requests = Vec::new();
        let Some(handle) = &self.handle else {
            return requests;
        };
        let events: Vec<Event> = handle.events.try_iter().collect();
        for event in events {
            if let Some(r) = self.apply(event) {
                requests.push(r);
            }
        }
        requests
    }

    /// Apply one event to the slot's state.
    pub fn apply(&mut self, event: Event) -> Option<SlotRequest> {
        match event {
            Event::Ready(info) => {
                self.info = Some(info);
                self.status = RunStatus::Paused("ready".into());
            }
            Event::Metrics(rows) => {
                if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
                    let previous = self.history.rows.last().map(|r| (r.step, r.wall_secs));
                    let (s0, t0) = previous.unwrap_or((first.step.saturating_sub(1), 0.0));
                    let dt = last.wall_secs - t0;
                    if dt > 0.0 {
                        let rate = (last.step - s0) as f64 / dt;
                        self.steps_per_sec = if self.steps_per_sec > 0.0 {
                            0.8 * self.steps_per_sec + 0.2 * rate
                        } else {
                            rate
                        };
                    }
                    self.step = last.step;
                    self.wall_secs = last.wall_secs;
                    self.strategy_label = last.strategy.clone();
                }
                for row in rows {
                    self.history.push(row);
                }
            }
            Event::StrategyChanged { step, strategy } => {
                self.history.markers.push(Marker {
                    step,
                    label: format!("-> {strategy}"),
                });
                self.strategy_label = strategy;
            }
            Event::LearningRatesChanged { step, rates } => {
                self.history.markers.push(Marker {
                    step,
                    label: format!("lr {:.0e}, Ψ {:.0e}", rates.lr, rates.psi_lr),
                });
            }
            Event::Perturbed {
                step,
                task,
                perturbation,
            } => {
                self.perturbations[task.index()] = perturbation;
                let label = match perturbation {
                    Perturbation::None => format!("{} restored", task.key()),
                    other => format!("{} {}", task.key(), other.key()),
                };
                self.history.markers.push(Marker { step, label });
            }
            Event::Paused { reason, .. } => {
                if !matches!(self.status, RunStatus::Failed(_)) {
                    self.status = RunStatus::Paused(reason);
                }
            }
            Event::Playing { .. } => {
                if !matches!(self.status, RunStatus::Failed(_)) {
                    self.status = RunStatus::Playing;
                    self.warning = None;
                }
            }
            Event::Evaluated(report) => {
                self.evals.push(EvalPoint {
                    step: report.step,
                    summary: report.summary.clone(),
                });
                self.last_report = Some(Arc::new(*report));
            }
            Event::Embedded(e) => self.embeddings = Some(e),
            Event::CheckpointSaved(path) => self.notes.push(format!(
                "run {}: checkpoint saved to {}",
                self.name,
                path.display()
            )),
            Event::CheckpointLoaded(path) => self.notes.push(format!(
                "run {}: checkpoint loaded from {}",
                self.name,
                path.display()
            )),
            Event::Snapshot(snapshot) => {
                if let Some(to) = self.fork_to.take() {
                    return Some(SlotRequest::Fork { to, snapshot });
                }
            }
            Event::Restored { step } => {
                self.step = step;
                self.notes
                    .push(format!("run {} continues from step {step}", self.name));
            }
            Event::Error { message, fatal, .. } => {
                if fatal {
                    self.status = RunStatus::Failed(message);
                } else {
                    self.warning = Some(message);
                    if matches!(self.status, RunStatus::Playing) {
                        self.status = RunStatus::Paused("error".into());
                    }
                }
            }
            Event::Finished { .. } => {
                if !matches!(self.status, RunStatus::Failed(_)) {
                    self.status = RunStatus::Paused("finished".into());
                }
            }
        }
        None
    }
}
