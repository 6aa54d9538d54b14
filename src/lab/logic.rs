//! Each frame's polling (the dataset thread, the trainers and their requests), starting and
//! resetting runs, forks, and `--quit-after`.

use std::sync::Arc;

use super::Lab;
use super::dataset::{DatasetState, LoadOutcome, Previous};
use super::history::Marker;
use super::projector::ProjectorState;
use super::run::{KeptRun, RunSlot, RunStatus, SlotRequest};
use super::sweep::SweepNews;
use crate::data::Dataset;
use crate::session::{Command, Waker};
use crate::train::snapshot::TrainerSnapshot;

impl Lab {
    /// The first frame: from now on threads can wake the window. Opens `--open-run` folders
    /// and starts the dataset.
    pub fn start(&mut self, waker: Waker) {
        self.waker = Some(waker);
        if matches!(self.dataset, DatasetState::Failed(ref m) if m == "not started") {
            self.open_launch_runs();
            self.open_launch_sweep();
            self.start_dataset();
        }
    }

    /// Whether the window has started its threads (its first frame has run).
    pub fn started(&self) -> bool {
        self.waker.is_some()
    }

    /// Whether a trainer is being built or the dataset loads: the window then polls often.
    pub fn preparing(&self) -> bool {
        self.runs.iter().any(|r| r.status == RunStatus::Building)
            || matches!(self.dataset, DatasetState::Loading { .. })
            || self.sweep.loading()
    }

    /// `--quit-after`: once its time has passed since the first step, the line to print (the
    /// window then closes).
    pub fn quit_due(&mut self) -> Option<String> {
        let limit = self.launch.quit_after_secs?;
        if self.runs.iter().any(|r| r.step > 0) {
            self.quit_timer.saw_a_step();
        }
        let secs = self.quit_timer.expired(limit)?;
        Some(super::launch::summary_line(
            [self.runs[0].step, self.runs[1].step],
            secs,
        ))
    }

    /// Apply every action the panels pushed this frame, in order.
    pub fn apply_actions(&mut self) {
        for action in std::mem::take(&mut self.actions) {
            self.apply(action);
        }
    }

    /// What the window must do itself (dialogs, a screenshot, its view), taken once.
    pub fn take_for_the_window(&mut self) -> super::ForTheWindow {
        std::mem::take(&mut self.for_the_window)
    }

    /// Generate or load the dataset on a named thread; trainers start when it is ready.
    pub fn start_dataset(&mut self) {
        let previous = match &self.dataset {
            // A load replaced by another stops, and Cancel still goes back to the one before.
            DatasetState::Loading {
                progress, previous, ..
            } => {
                progress.cancel();
                previous.clone()
            }
            DatasetState::Ready(dataset) => self.started_with.as_ref().map(|settings| Previous {
                choice: settings.data_choice(),
                dataset: dataset.clone(),
            }),
            DatasetState::Failed(_) => None,
        };
        self.dataset =
            DatasetState::start(self.settings.train_config(0), self.waker.clone(), previous);
        for run in &mut self.runs {
            *run = RunSlot::new(run.name, self.settings.smoothing);
        }
        self.projector = ProjectorState::default();
    }

    /// Stop both runs and start again from step 0 with the current settings.
    pub fn reset(&mut self) {
        // Only Next seed plays the new runs by itself; a plain Reset leaves them paused.
        self.play_when_ready = [false; 2];
        self.keep_results();
        self.for_the_window.runs_restarted = true;
        let same_data = self
            .started_with
            .as_ref()
            .is_some_and(|s| s.data_choice() == self.settings.data_choice());
        match (&self.dataset, same_data) {
            (DatasetState::Ready(d), true) => {
                let d = d.clone();
                self.start_runs(d);
            }
            _ => self.start_dataset(),
        }
    }

    /// Keep the runs' evaluations for the results table and the paired differences.
    fn keep_results(&mut self) {
        let seed = self.live_seed();
        // One more than the last Reset that kept anything.
        let generation = self.kept_results.last().map_or(0, |k| k.generation + 1);
        for (slot, run) in self.runs.iter().enumerate() {
            if run.evals.is_empty() {
                continue;
            }
            self.kept_results.push(KeptRun {
                slot,
                strategy: run.strategy_label(),
                seed,
                generation,
                evals: run.evals.clone(),
            });
        }
    }

    /// Keep the results and start both runs again with the next seed, playing.
    pub(super) fn next_seed(&mut self) {
        self.settings.seed = self.live_seed().wrapping_add(1);
        self.reset();
        self.play_when_ready = [true; 2];
    }

    fn start_runs(&mut self, dataset: Arc<Dataset>) {
        for slot in 0..2 {
            self.start_slot(slot, dataset.clone());
        }
        self.started_with = Some(self.settings.clone());
        self.started = None;
    }

    /// A fresh trainer for one slot (with an opened run's state, if one waits for it).
    pub(super) fn start_slot(&mut self, slot: usize, dataset: Arc<Dataset>) {
        self.projector = ProjectorState::default();
        let waker = self.waker.clone().unwrap_or_else(|| Arc::new(|| {}));
        let config = self.settings.train_config(slot);
        self.runs[slot].start(config, dataset, waker, &self.budget);
        self.install_opened(slot);
    }

    /// Poll the dataset thread and the trainers; never blocks.
    pub fn poll(&mut self) {
        self.poll_dataset();
        match self.sweep.poll() {
            SweepNews::Failed(error) => self.status_line = Some(format!("warning: {error}")),
            SweepNews::Opened { secs } => {
                let dir = self
                    .sweep
                    .dir
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""));
                self.status_line = Some(format!(
                    "read the sweep in {} in {secs:.2} s",
                    dir.display()
                ));
            }
            SweepNews::Nothing | SweepNews::Updated => {}
        }
        for slot in 0..2 {
            let was_building = self.runs[slot].status == RunStatus::Building;
            for request in self.runs[slot].drain() {
                self.answer(slot, request);
            }
            if was_building && self.runs[slot].is_ready() {
                self.on_ready(slot);
            }
            if let Some(note) = self.runs[slot].notes.drain(..).next_back() {
                self.status_line = Some(note);
            }
        }
        let waker = self.waker.clone();
        self.projector
            .poll(&mut self.runs, &self.settings.projector.tsne, waker);
    }

    /// A run that became ready plays if Play is on for it, or if the launch asked for it.
    fn on_ready(&mut self, slot: usize) {
        if let Some(play) = self.launch.play
            && play.includes(slot)
        {
            self.runs[slot].playing = true;
            self.started.get_or_insert_with(std::time::Instant::now);
        }
        if std::mem::take(&mut self.play_when_ready[slot]) {
            self.runs[slot].playing = true;
        }
        if self.runs[slot].playing {
            self.runs[slot].send(Command::Play);
        }
    }

    fn poll_dataset(&mut self) {
        match self.dataset.poll() {
            Some(LoadOutcome::Ready(dataset)) => self.start_runs(dataset),
            Some(LoadOutcome::Cancelled(Some(previous))) => {
                self.settings.take_data_choice(&previous.choice);
                self.status_line = Some(format!(
                    "loading cancelled: back on {}",
                    previous.dataset.name
                ));
                self.start_runs(previous.dataset);
            }
            Some(LoadOutcome::Cancelled(None)) => {
                self.status_line = Some("loading cancelled".into());
            }
            None => {}
        }
    }

    /// Do what a slot asked for after one of its events.
    fn answer(&mut self, slot: usize, request: SlotRequest) {
        match request {
            SlotRequest::Fork { to, snapshot } => self.restore_fork(slot, to, snapshot),
            SlotRequest::Refused(kept) => {
                self.settings.take_refused_strategy(slot, &kept.strategy);
                self.settings.rates = kept.rates;
            }
        }
    }

    fn restore_fork(&mut self, from: usize, to: usize, snapshot: Box<TrainerSnapshot>) {
        let step = snapshot.step;
        self.settings.strategies[to] = snapshot.strategy.clone();
        self.runs[to].history = self.runs[from].history.clone();
        let label = format!("forked from {}", self.runs[from].name);
        self.runs[to]
            .history
            .markers
            .push(Marker::new(step + 1, label));
        self.runs[to].evals = self.runs[from].evals.clone();
        // What was done to the run so far comes along; a hold going on stays with the run
        // that holds it.
        let mut timeline = self.runs[from].timeline.clone();
        for task in crate::task::Task::ALL {
            if timeline.open[task.index()].is_some() {
                timeline.hold_changed(step + 1, task, None);
            }
        }
        self.runs[to].timeline = timeline;
        self.runs[to].send(Command::Restore(snapshot));
        if !self.runs[to].playing {
            self.runs[to].send(Command::Pause);
        }
    }
}
