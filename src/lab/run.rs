//! One run slot (A or B) as the window sees it: a handle to its trainer thread, its history and
//! status, and how its events change them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::history::{Marker, RunHistory};
use super::script::{RunScript, Timeline};
use crate::data::Dataset;
use crate::eval::{EmbeddingRequest, Embeddings, EvalReport};
use crate::session::{
    Applied, Command, Event, PauseReason, Sent, ThreadBudget, TrainerHandle, Waker, spawn_trainer,
};
use crate::task::TASKS;
use crate::train::config::{Perturbation, TrainConfig};
use crate::train::hold::WeightHold;
use crate::train::metrics::RunInfo;
use crate::train::snapshot::TrainerSnapshot;

/// The name of run slot 0 or 1.
pub fn slot_name(slot: usize) -> &'static str {
    if slot == 0 { "A" } else { "B" }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// No trainer (dataset not ready yet).
    Waiting,
    /// The trainer thread is building the model.
    Building,
    Paused(PauseReason),
    Playing,
    /// The run has stopped for good; the message says why.
    Failed(String),
}

/// A finished evaluation kept for the metrics panel.
#[derive(Clone, Debug)]
pub struct EvalPoint {
    pub step: u64,
    pub summary: BTreeMap<String, f64>,
}

/// A run's evaluations kept at a Reset, for the results table and the paired differences.
#[derive(Clone, Debug)]
pub struct KeptRun {
    /// 0 for A, 1 for B.
    pub slot: usize,
    pub strategy: String,
    pub seed: u64,
    /// Which Reset kept it (0 for the first): A and B are paired only within one.
    pub generation: u64,
    pub evals: Vec<EvalPoint>,
}

impl KeptRun {
    pub fn label(&self) -> String {
        format!(
            "{} {} (seed {})",
            slot_name(self.slot),
            self.strategy,
            self.seed
        )
    }
}

pub struct RunSlot {
    pub name: &'static str,
    pub handle: Option<TrainerHandle>,
    pub history: RunHistory,
    pub status: RunStatus,
    /// Whether Play is on for this run (what the user asked; `status` says what the trainer does).
    pub playing: bool,
    /// The last non-fatal error, shown until the next successful action.
    pub warning: Option<String>,
    pub info: Option<RunInfo>,
    /// What the trainer trains with now, as it last reported.
    pub applied: Option<Applied>,
    pub step: u64,
    pub wall_secs: f64,
    pub steps_per_sec: f64,
    pub evals: Vec<EvalPoint>,
    pub last_report: Option<Arc<EvalReport>>,
    pub perturbations: [Perturbation; TASKS],
    /// The weights the user holds now, as the trainer applies them.
    pub holds: [Option<f64>; TASKS],
    /// The perturbations and holds the run was started with (a lab code's or a lesson's).
    pub script: RunScript,
    /// The perturbations and holds the user made while it trained.
    pub timeline: Timeline,
    /// The slot index a snapshot of this run should be restored into (fork).
    pub fork_to: Option<usize>,
    /// Messages for the status line (checkpoint saved, …).
    pub notes: Vec<String>,
    /// Embeddings asked for by the projector, until it takes them.
    pub embeddings: Option<Box<Embeddings>>,
}

/// A run folder being opened into a slot: what it gives the slot once its trainer starts.
pub struct OpenedInto {
    pub dir: PathBuf,
    pub history: RunHistory,
    pub evals: Vec<EvalPoint>,
    pub checkpoint: Option<PathBuf>,
    pub step: u64,
    pub wall_secs: f64,
}

/// What a slot asks of the app after handling an event.
pub enum SlotRequest {
    /// Restore this snapshot into slot `to` (a fork).
    Fork {
        to: usize,
        snapshot: Box<TrainerSnapshot>,
    },
    /// The trainer refused a change and goes on with these settings: the window's request
    /// goes back to them (the only way a trainer's answer changes the settings).
    Refused(Applied),
}

impl RunSlot {
    pub fn new(name: &'static str, smoothing: f32) -> Self {
        RunSlot {
            name,
            handle: None,
            history: RunHistory::new(smoothing),
            status: RunStatus::Waiting,
            playing: false,
            warning: None,
            info: None,
            applied: None,
            step: 0,
            wall_secs: 0.0,
            steps_per_sec: 0.0,
            evals: Vec::new(),
            last_report: None,
            perturbations: [Perturbation::None; TASKS],
            holds: [None; TASKS],
            script: RunScript::default(),
            timeline: Timeline::default(),
            fork_to: None,
            notes: Vec::new(),
            embeddings: None,
        }
    }

    /// Start a trainer for `config` on `dataset` (built on the trainer's own thread).
    pub fn start(
        &mut self,
        config: TrainConfig,
        dataset: Arc<Dataset>,
        waker: Waker,
        budget: &ThreadBudget,
    ) {
        let smoothing = self.history.smoothing();
        *self = RunSlot::new(self.name, smoothing);
        self.script = RunScript {
            perturbations: config.perturbations.clone(),
            holds: config.holds.clone(),
        };
        let name = format!("trainer-{}", self.name);
        match spawn_trainer(&name, config, dataset, waker, budget) {
            Ok(handle) => {
                self.handle = Some(handle);
                self.status = RunStatus::Building;
            }
            Err(e) => {
                self.status = RunStatus::Failed(format!("could not start the trainer thread: {e}"))
            }
        }
    }

    /// The rule the trainer trains with, for labels ("" before it is built).
    pub fn strategy_label(&self) -> String {
        self.applied
            .as_ref()
            .map(|a| a.strategy.label())
            .unwrap_or_default()
    }

    /// Whether the rule combines the tasks' gradients, so its "weights" are the λ its direction
    /// implies (normalised to sum 1), not weights it chose.
    pub fn weights_are_implied(&self) -> bool {
        self.applied
            .as_ref()
            .is_some_and(|a| a.strategy.strategy.needs() == crate::weighting::Needs::TaskGradients)
    }

    /// Send a command without blocking; a run whose thread has gone is marked failed.
    pub fn send(&mut self, command: Command) {
        let Some(handle) = &mut self.handle else {
            return;
        };
        if handle.send(command) == Sent::Gone && !matches!(self.status, RunStatus::Failed(_)) {
            self.status = RunStatus::Failed("the trainer thread has stopped".into());
        }
    }

    /// Ask for embeddings of `request`.
    pub fn request_embeddings(&mut self, request: EmbeddingRequest) {
        self.send(Command::Embed(request));
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.status, RunStatus::Paused(_) | RunStatus::Playing)
    }

    pub fn has_failed(&self) -> bool {
        matches!(self.status, RunStatus::Failed(_))
    }

    /// Take every waiting event (never blocks) and retry commands a full channel refused.
    pub fn drain(&mut self) -> Vec<SlotRequest> {
        let Some(handle) = &mut self.handle else {
            return Vec::new();
        };
        let alive = handle.retry();
        let events = handle.drain();
        if !alive && events.is_empty() && !self.has_failed() {
            self.status = RunStatus::Failed("the trainer thread has stopped".into());
        }
        events.into_iter().filter_map(|e| self.apply(e)).collect()
    }

    /// Apply one event to the slot's state.
    pub fn apply(&mut self, event: Event) -> Option<SlotRequest> {
        match event {
            Event::Ready { info, applied } => {
                self.info = Some(info);
                self.status = RunStatus::Paused(PauseReason::Ready);
                self.applied = Some(applied);
            }
            Event::Metrics(rows) => self.take_rows(rows),
            Event::StrategyChanged { step, applied } => {
                self.mark(step, format!("-> {}", applied.label()));
                if let Some(now) = &mut self.applied {
                    now.strategy = applied;
                }
            }
            Event::LearningRatesChanged { step, applied } => {
                self.mark(
                    step,
                    format!("lr {:.0e}, Ψ {:.0e}", applied.lr, applied.psi_lr),
                );
                if let Some(now) = &mut self.applied {
                    now.rates = applied;
                }
            }
            Event::GradientsChanged { step, applied } => {
                let lens = match applied.lens.space {
                    Some(space) if applied.lens.every > 1 => {
                        format!("lens {} every {}", space.key(), applied.lens.every)
                    }
                    Some(space) => format!("lens {}", space.key()),
                    None => "lens off".into(),
                };
                self.mark(step, lens);
                if let Some(now) = &mut self.applied {
                    now.gradients = applied;
                }
            }
            Event::WeightsReachTrunkChanged { step, reach } => {
                let label = if reach {
                    "w -> trunk"
                } else {
                    "w constant (eq. 11)"
                };
                self.mark(step, label.to_string());
            }
            Event::Rejected { reason, kept, .. } => {
                self.warning = Some(reason);
                self.applied = Some(kept.clone());
                return Some(SlotRequest::Refused(kept));
            }
            Event::Perturbed { step, change } => {
                self.timeline.perturbed(step, change);
                self.perturbed(step, change);
            }
            Event::HoldChanged { step, task, value } => {
                self.holds[task.index()] = value;
                self.timeline.hold_changed(step, task, value);
            }
            Event::Paused { reason, .. } => {
                if !self.has_failed() {
                    self.status = RunStatus::Paused(reason);
                }
            }
            Event::Playing { .. } => {
                if !self.has_failed() {
                    self.status = RunStatus::Playing;
                    self.warning = None;
                }
            }
            Event::Evaluated(report) => {
                // An evaluation at a step already evaluated (an opened run evaluated again for
                // its failures) replaces that point instead of doubling it.
                if self.evals.last().is_some_and(|p| p.step == report.step) {
                    self.evals.pop();
                }
                self.evals.push(EvalPoint {
                    step: report.step,
                    summary: report.summary.clone(),
                });
                // A report thinned while the window was away keeps only its figures.
                if !report.is_thin() {
                    self.last_report = Some(Arc::new(*report));
                }
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
            Event::Continued { step, checkpoint } => {
                self.step = step;
                self.notes.push(format!(
                    "run {} continues from step {step} of {}",
                    self.name,
                    checkpoint.display()
                ));
            }
            Event::Snapshot(snapshot) => {
                let to = self.fork_to.take()?;
                return Some(SlotRequest::Fork { to, snapshot });
            }
            Event::Restored { step, applied } => {
                self.step = step;
                self.notes
                    .push(format!("run {} continues from step {step}", self.name));
                self.applied = Some(applied);
            }
            Event::Error { message, fatal, .. } => {
                if fatal {
                    self.status = RunStatus::Failed(message);
                } else {
                    self.warning = Some(message);
                }
            }
            Event::Finished { .. } => {
                if !self.has_failed() {
                    self.status = RunStatus::Paused(PauseReason::Finished);
                }
            }
        }
        None
    }

    fn mark(&mut self, step: u64, label: String) {
        self.history.markers.push(Marker::new(step, label));
    }

    fn perturbed(&mut self, step: u64, change: crate::train::config::TaskPerturbation) {
        self.perturbations[change.task.index()] = change.perturbation;
        let label = match change.perturbation {
            Perturbation::None => format!("{} restored", change.task.key()),
            other => format!("{} {}", change.task.key(), other.key()),
        };
        self.mark(step, label);
    }

    /// The script's perturbations of steps after `before` up to `upto`, now that the run has
    /// taken them (the trainer applies them without an event).
    fn replay_script(&mut self, before: u64, upto: u64) {
        let due: Vec<_> = self
            .script
            .perturbations
            .iter()
            .filter(|p| p.step > before && p.step <= upto)
            .copied()
            .collect();
        for p in due {
            self.perturbed(p.step, p.change);
        }
    }

    /// Every stretch of steps a weight was held so far: the script's and the user's.
    pub fn held_spans(&self) -> Vec<WeightHold> {
        let scripted = self
            .script
            .holds
            .iter()
            .filter(|h| h.from_step <= self.step)
            .map(|h| WeightHold {
                to_step: h.to_step.min(self.step),
                ..*h
            });
        scripted.chain(self.timeline.spans(self.step)).collect()
    }

    /// The run's perturbations and holds for a lab code: its script and what the user did.
    pub fn lab_script(&self) -> RunScript {
        self.script.merged(&self.timeline.script(self.step))
    }

    fn take_rows(&mut self, rows: Vec<crate::train::metrics::StepMetrics>) {
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let previous = self.history.rows().last().map(|r| (r.step, r.wall_secs));
            let (s0, t0) = previous.unwrap_or((first.step.saturating_sub(1), 0.0));
            let dt = last.wall_secs - t0;
            if dt > 0.0 {
                let rate = last.step.saturating_sub(s0) as f64 / dt;
                self.steps_per_sec = if self.steps_per_sec > 0.0 {
                    0.8 * self.steps_per_sec + 0.2 * rate
                } else {
                    rate
                };
            }
            self.replay_script(self.step, last.step);
            self.step = last.step;
            self.wall_secs = last.wall_secs;
        }
        for row in rows {
            self.history.push(row);
        }
    }
}
