//! The app state (one serde struct, as eframe_template) and the top-level layout.

use crossbeam_channel::{Receiver, bounded};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::data::Dataset;
use crate::data::synthetic::SyntheticConfig;
use crate::model::Preset;
use crate::protocol::Command;
use crate::train::config::{LearningRates, TrainConfig};
use crate::train::worker::Waker;
use crate::weighting::{Strategy, StrategyConfig};

use super::files::FileDialogs;
use super::lessons::Lesson;
use super::run::{RunSlot, RunStatus, SlotRequest};
use super::toy::ToyPanel;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// A | B in two columns.
    SideBySide,
    /// Both runs on one pair of plots, A solid and B dashed.
    Overlay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    Lab,
    Metrics,
    Projector,
    Toy,
}

/// Everything that persists between launches and goes into a lesson or run-config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub seed: u64,
    pub preset: Preset,
    /// `auto`, `cpu` or `cuda:N`.
    pub device: String,
    pub rates: LearningRates,
    /// Weight-logit scale override; None = each rule's default (proposed 1, naive 0.5).
    pub scale: Option<f32>,
    pub weights_reach_trunk: bool,
    /// Evaluate every N steps (0 = only on demand).
    pub eval_every: u64,
    /// EMA smoothing of the curves, 0..0.999.
    pub smoothing: f32,
    pub wall_time_axis: bool,
    pub layout: Layout,
    pub strategies: [StrategyConfig; 2],
    pub synthetic: SyntheticConfig,
    pub tab: Tab,
    pub toy: ToyPanel,
    pub lesson: Option<Lesson>,
    pub show_explain: bool,
    /// Which run the explain panel reads.
    pub explain_run: usize,
    pub projector: super::projector::ProjectorSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 1,
            preset: Preset::Tiny,
            device: "auto".into(),
            rates: LearningRates::default(),
            scale: None,
            weights_reach_trunk: true,
            eval_every: 200,
            smoothing: 0.6,
            wall_time_axis: false,
            layout: Layout::SideBySide,
            strategies: [
                StrategyConfig::new(Strategy::Proposed),
                StrategyConfig::new(Strategy::Naive),
            ],
            synthetic: SyntheticConfig::default(),
            tab: Tab::Lab,
            toy: ToyPanel::default(),
            lesson: None,
            show_explain: true,
            explain_run: 0,
            projector: super::projector::ProjectorSettings::default(),
        }
    }
}

impl Settings {
    /// The trainer config of run `slot`.
    pub fn train_config(&self, slot: usize) -> TrainConfig {
        let mut strategy = self.strategies[slot].clone();
        if self.scale.is_some() {
            strategy.scale = self.scale;
        }
        let mut synthetic = self.synthetic.clone();
        synthetic.seed = self.seed;
        synthetic.image_size = self.preset.image_size();
        TrainConfig {
            seed: self.seed,
            preset: self.preset,
            strategy,
            rates: self.rates,
            weights_reach_trunk: self.weights_reach_trunk,
            eval_every: self.eval_every,
            device: self.device.clone(),
            synthetic,
            ..TrainConfig::default()
        }
    }
}

pub enum DatasetMessage {
    Progress(f32),
    Done(Result<Arc<Dataset>, String>),
}

pub enum DatasetState {
    Loading {
        messages: Receiver<DatasetMessage>,
        fraction: f32,
    },
    Ready(Arc<Dataset>),
    Failed(String),
}

pub struct LabApp {
    pub settings: Settings,
    pub dataset: DatasetState,
    pub runs: [RunSlot; 2],
    /// Whether Play is on (both runs).
    pub playing: bool,
    /// The plots follow the newest step until the user zooms or pans.
    pub follow_latest: bool,
    /// Set for one frame to bring the plots back to following.
    pub reset_view: bool,
    pub files: FileDialogs,
    pub status_line: Option<String>,
    /// Settings of the trainers now running, to tell what a Reset would change.
    started_with: Option<Settings>,
    waker: Option<Waker>,
    started: Option<std::time::Instant>,
    /// Kept evaluations of runs from before a Reset, for the results table.
    pub kept_results: Vec<(String, super::run::EvalPoint)>,
    pub projector: super::projector::ProjectorState,
}

impl LabApp {
    /// The app as eframe creates it: settings from the last launch.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        Self::with_settings(settings)
    }

    /// The app with given settings and no window (tests, benchmarks).
    pub fn with_settings(settings: Settings) -> Self {
        let smoothing = settings.smoothing;
        LabApp {
            settings,
            dataset: DatasetState::Failed("not started".into()),
            runs: [RunSlot::new("A", smoothing), RunSlot::new("B", smoothing)],
            playing: false,
            follow_latest: true,
            reset_view: false,
            files: FileDialogs::default(),
            status_line: None,
            started_with: None,
            waker: None,
            started: None,
            kept_results: Vec::new(),
            projector: super::projector::ProjectorState::default(),
        }
    }

    /// What wakes the window from another thread (None before the first frame).
    pub fn waker(&self) -> Option<Waker> {
        self.waker.clone()
    }

    /// Generate the dataset on a named thread; trainers start when it is ready.
    pub fn start_dataset(&mut self) {
        let (tx, rx) = bounded::<DatasetMessage>(256);
        let config = self.settings.train_config(0);
        let waker = self.waker.clone();
        let spawned = std::thread::Builder::new()
            .name("dataset".into())
            .spawn(move || {
                let progress = |f: f32| {
                    let _ = tx.try_send(DatasetMessage::Progress(f));
                    if let Some(w) = &waker {
                        w();
                    }
                };
                let result = crate::data::load(&config, &progress)
                    .map(Arc::new)
                    .map_err(|e| e.to_string());
                let _ = tx.send(DatasetMessage::Done(result));
                if let Some(w) = &waker {
                    w();
                }
            });
        self.dataset = match spawned {
            Ok(_) => DatasetState::Loading {
                messages: rx,
                fraction: 0.0,
            },
            Err(e) => DatasetState::Failed(format!("could not start the dataset thread: {e}")),
        };
        for run in &mut self.runs {
            *run = RunSlot::new(run.name, self.settings.smoothing);
        }
        self.projector = super::projector::ProjectorState::default();
    }

    /// Stop both runs and start again from step 0 with the current settings.
    pub fn reset(&mut self) {
        for run in &self.runs {
            if let Some(p) = run.evals.last() {
                self.kept_results.push((
                    format!(
                        "{} {} (seed {})",
                        run.name, run.strategy_label, self.settings.seed
                    ),
                    p.clone(),
                ));
            }
        }
        self.playing = false;
        self.follow_latest = true;
        self.reset_view = true;
        let same_data = self.started_with.as_ref().is_some_and(|s| {
            s.seed == self.settings.seed
                && s.preset == self.settings.preset
                && s.synthetic == self.settings.synthetic
        });
        match (&self.dataset, same_data) {
            (DatasetState::Ready(d), true) => {
                let d = d.clone();
                self.start_runs(d);
            }
            _ => self.start_dataset(),
        }
    }

    fn start_runs(&mut self, dataset: Arc<Dataset>) {
        self.projector = super::projector::ProjectorState::default();
        let waker = self.waker.clone().unwrap_or_else(|| Arc::new(|| {}));
        for slot in 0..2 {
            let config = self.settings.train_config(slot);
            self.runs[slot].start(config, dataset.clone(), waker.clone());
        }
        self.started_with = Some(self.settings.clone());
        self.started = None;
    }

    /// Poll the dataset thread and the trainers; never blocks.
    pub fn poll(&mut self) {
        if let DatasetState::Loading { messages, fraction } = &mut self.dataset {
            let mut done = None;
            for m in messages.try_iter() {
                match m {
                    DatasetMessage::Progress(f) => *fraction = f,
                    DatasetMessage::Done(r) => done = Some(r),
                }
            }
            match done {
                Some(Ok(d)) => {
                    self.dataset = DatasetState::Ready(d.clone());
                    self.start_runs(d);
                }
                Some(Err(e)) => self.dataset = DatasetState::Failed(e),
                None => {}
            }
        }
        let mut requests = Vec::new();
        for slot in 0..2 {
            let was_building = self.runs[slot].status == RunStatus::Building;
            requests.extend(self.runs[slot].drain());
            // A run that became ready while Play is on starts playing.
            if was_building && self.runs[slot].is_ready() && self.playing {
                self.runs[slot].send(Command::Play);
            }
            for note in self.runs[slot].notes.drain(..) {
                self.status_line = Some(note);
            }
        }
        for request in requests {
            match request {
                SlotRequest::Fork { to, snapshot } => {
                    let from = 1 - to;
                    let step = snapshot.step;
                    self.settings.strategies[to] = snapshot.strategy.clone();
                    self.runs[to].history = self.runs[from].history.clone();
                    self.runs[to].history.markers.push(super::history::Marker {
                        step: step + 1,
                        label: format!("forked from {}", self.runs[from].name),
                    });
                    self.runs[to].evals = self.runs[from].evals.clone();
                    self.runs[to].send(Command::Restore(snapshot));
                    if !self.playing {
                        self.runs[to].send(Command::Pause);
                    }
                }
            }
        }
        if let Some(result) = self.files.poll_screenshot() {
            self.status_line = Some(result.unwrap_or_else(|m| format!("warning: {m}")));
        }
        if let Some((action, path)) = self.files.poll() {
            self.status_line = Some(match super::files::perform(self, action, &path) {
                Ok(message) => message,
                Err(message) => format!("warning: {message}"),
            });
        }
    }

    pub fn set_playing(&mut self, playing: bool) {
        self.playing = playing;
        for run in &mut self.runs {
            run.send(if playing {
                Command::Play
            } else {
                Command::Pause
            });
        }
        if playing && self.started.is_none() {
            self.started = Some(std::time::Instant::now());
        }
    }

    pub fn step_once(&mut self) {
        self.playing = false;
        for run in &mut self.runs {
            run.send(Command::Step(1));
        }
    }

    /// Apply run `slot`'s strategy setting to its trainer (from the next step).
    pub fn apply_strategy(&mut self, slot: usize) {
        let mut strategy = self.settings.strategies[slot].clone();
        if self.settings.scale.is_some() {
            strategy.scale = self.settings.scale;
        }
        self.runs[slot].send(Command::SetStrategy(strategy));
    }

    pub fn apply_rates(&mut self) {
        let rates = self.settings.rates;
        for run in &mut self.runs {
            run.send(Command::SetLearningRates(rates));
        }
    }

    /// Copy run `from` into the other slot at its current state.
    pub fn fork(&mut self, from: usize) {
        self.runs[from].fork_to = Some(1 - from);
        self.runs[from].send(Command::Snapshot);
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.started.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    /// Whether a control is shown (a lesson may hide the ones it does not need).
    pub fn shows(&self, control: super::lessons::Control) -> bool {
        self.settings.lesson.is_none_or(|l| l.shows(control))
    }

    fn keyboard(&mut self, ui: &egui::Ui) {
        if ui.ctx().egui_wants_keyboard_input() {
            return;
        }
        let (space, s, r) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::S),
                i.key_pressed(egui::Key::R),
            )
        });
        if space {
            self.set_playing(!self.playing);
        }
        if s {
            self.step_once();
        }
        if r {
            self.reset();
        }
    }

    /// One frame of the whole window.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        if self.waker.is_none() {
            let ctx = ui.ctx().clone();
            self.waker = Some(Arc::new(move || ctx.request_repaint()));
            if matches!(self.dataset, DatasetState::Failed(ref m) if m == "not started") {
                self.start_dataset();
            }
        }
        self.poll();
        self.keyboard(ui);
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui));
        if let Some(lesson) = self.settings.lesson {
            egui::Panel::top("lesson_text")
                .show(ui, |ui| super::lessons::lesson_banner_ui(self, ui, lesson));
        }
        match self.settings.tab {
            Tab::Lab => {
                if self.settings.show_explain && self.shows(super::lessons::Control::Explain) {
                    egui::Panel::right("explain")
                        .default_size(340.0)
                        .show(ui, |ui| super::explain::explain_ui(self, ui));
                }
                egui::CentralPanel::default().show(ui, |ui| super::fig3::fig3_ui(self, ui));
            }
            Tab::Metrics => {
                egui::CentralPanel::default().show(ui, |ui| super::metrics::metrics_ui(self, ui));
            }
            Tab::Projector => {
                egui::CentralPanel::default()
                    .show(ui, |ui| super::projector::projector_ui(self, ui));
            }
            Tab::Toy => {
                egui::CentralPanel::default()
                    .show(ui, |ui| super::toy::toy_ui(&mut self.settings.toy, ui));
            }
        }
        if self.runs.iter().any(|r| r.status == RunStatus::Building)
            || matches!(self.dataset, DatasetState::Loading { .. })
        {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        use super::lessons::Control;
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut self.settings.tab, Tab::Lab, "Lab").on_hover_text("Fig. 3 live: weights above losses for runs A and B");
            ui.selectable_value(&mut self.settings.tab, Tab::Metrics, "Metrics").on_hover_text("Evaluation as in the paper's Tables I–IV");
            ui.selectable_value(&mut self.settings.tab, Tab::Projector, "Embeddings").on_hover_text("t-SNE of the embeddings of runs A and B, and the failure inspector");
            ui.selectable_value(&mut self.settings.tab, Tab::Toy, "Toy").on_hover_text("The weighting rules on a toy model: no network, instant");
            super::lessons::lessons_menu_ui(self, ui);
            ui.separator();
            let ready = self.runs.iter().any(|r| r.is_ready());
            let play_label = if self.playing { "Pause" } else { "Play" };
            if ui.add_enabled(ready, egui::Button::new(play_label)).on_hover_text("Train both runs continuously (Space)").clicked() {
                self.set_playing(!self.playing);
            }
            if ui.add_enabled(ready, egui::Button::new("Step")).on_hover_text("One training step for each run (S)").clicked() {
                self.step_once();
            }
            if ui.button("Reset").on_hover_text("Start both runs again from step 0 with the settings shown (R)").clicked() {
                self.reset();
            }
            ui.separator();
            if self.shows(Control::Seed) {
                ui.label("seed");
                ui.add(egui::DragValue::new(&mut self.settings.seed).range(0..=u32::MAX as u64))
                    .on_hover_text("Seed of the data, the initial parameters and the batch order; both runs share it. Applies on Reset.");
            }
            if self.shows(Control::Preset) {
                egui::ComboBox::from_id_salt("preset")
                    .selected_text(self.settings.preset.key())
                    .show_ui(ui, |ui| {
                        for p in Preset::ALL {
                            ui.selectable_value(&mut self.settings.preset, p, p.key());
                        }
                    })
                    .response
                    .on_hover_text("Network size: tiny (32×32, CPU) or paper (the authors' Inception-ResNet cut at 160×160, meant for CUDA). Applies on Reset.");
            }
            if self.shows(Control::Device) {
                let mut devices = vec!["auto".to_string(), "cpu".to_string()];
                if cfg!(feature = "cuda") {
                    devices.push("cuda:0".into());
                }
                egui::ComboBox::from_id_salt("device")
                    .selected_text(self.device_text())
                    .show_ui(ui, |ui| {
                        for d in devices {
                            ui.selectable_value(&mut self.settings.device, d.clone(), d);
                        }
                    })
                    .response
                    .on_hover_text(if cfg!(feature = "cuda") {
                        "Where training runs: auto picks CUDA:0 when a GPU answers. Applies on Reset."
                    } else {
                        "Where training runs. This build has no CUDA; build with --features cuda for a GPU. Applies on Reset."
                    });
            }
            if self.shows(Control::Rates) {
                ui.label("lr");
                let lr = ui.add(egui::DragValue::new(&mut self.settings.rates.lr).range(1e-6..=1.0).speed(1e-5).custom_formatter(|v, _| format!("{v:.0e}")))
                    .on_hover_text("The network's learning rate (RMSProp). Applies at the next step.");
                ui.label("Ψ lr");
                let psi = ui.add(egui::DragValue::new(&mut self.settings.rates.psi_lr).range(1e-6..=1.0).speed(1e-4).custom_formatter(|v, _| format!("{v:.0e}")))
                    .on_hover_text("Ψ's own learning rate under proposed. Below about half the network's rate the gradient reaching the trunk through w pushes the weights into naive's order. Applies at the next step.");
                if lr.changed() || psi.changed() {
                    self.apply_rates();
                }
            }
            if self.shows(Control::Scale) {
                let mut overridden = self.settings.scale.is_some();
                if ui.checkbox(&mut overridden, "s").on_hover_text("Weight-logit scale s: Ψ's logits are L2-normalised and multiplied by s, which bounds every weight (s = 0.5: 0.21..0.48; 1: 0.13..0.63; 2: 0.04..0.85). Off: each rule's default from the authors' code (proposed 1, naive 0.5).").changed() {
                    self.settings.scale = if overridden { Some(1.0) } else { None };
                    self.apply_strategy(0);
                    self.apply_strategy(1);
                }
                if let Some(s) = &mut self.settings.scale
                    && ui.add(egui::Slider::new(s, 0.1..=5.0).logarithmic(true)).changed()
                {
                    self.apply_strategy(0);
                    self.apply_strategy(1);
                }
            }
        });
        ui.horizontal_wrapped(|ui| {
            for run in &self.runs {
                let status = match &run.status {
                    RunStatus::Waiting => "waiting for data".to_string(),
                    RunStatus::Building => "building the model…".to_string(),
                    RunStatus::Paused(r) => format!("paused ({r})"),
                    RunStatus::Playing => "training".to_string(),
                    RunStatus::Failed(_) => "FAILED".to_string(),
                };
                ui.label(format!(
                    "{}: step {} · {:.1} steps/s · {:.0} s trained · {}",
                    run.name, run.step, run.steps_per_sec, run.wall_secs, status
                ))
                .on_hover_text(
                    "Steps per second is smoothed over recent steps; time trained excludes pauses.",
                );
                ui.separator();
            }
            ui.label(format!("elapsed {:.0} s", self.elapsed_secs()))
                .on_hover_text("Wall time since Play was first pressed");
            if let DatasetState::Loading { fraction, .. } = &self.dataset {
                ui.add(
                    egui::ProgressBar::new(*fraction)
                        .desired_width(160.0)
                        .text("generating faces…"),
                );
            }
        });
    }

    fn device_text(&self) -> String {
        let running = self.runs[0].info.as_ref().map(|i| i.device.clone());
        match running {
            Some(d) => format!("{} ({d})", self.settings.device),
            None => self.settings.device.clone(),
        }
    }

    fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            match &self.dataset {
                DatasetState::Ready(d) => {
                    ui.label(format!("{}: {} images, {} identities", d.name, d.images.len(), d.images.identities.len()));
                }
                DatasetState::Loading { .. } => {
                    ui.spinner();
                    ui.label("generating the synthetic faces…");
                }
                DatasetState::Failed(m) => {
                    ui.colored_label(egui::Color32::RED, format!("dataset: {m}"));
                }
            }
            if let Some(info) = &self.runs[0].info {
                ui.separator();
                ui.label(format!("{} · {} parameters · {} classes · embedding {}-d (bottleneck) · Z {}-d", info.preset, info.parameters, info.classes, info.embedding_dim, info.z_dim))
                    .on_hover_text("The embedding used for verification, C2P/P2C and t-SNE is the verification branch's bottleneck, L2-normalised.");
            }
            if let Some(line) = &self.status_line {
                ui.separator();
                ui.label(line.as_str());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                super::files::file_menu_ui(self, ui);
            });
        });
    }
}

impl eframe::App for LabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// The name of run slot 0 or 1.
pub fn slot_name(slot: usize) -> &'static str {
    if slot == 0 { "A" } else { "B" }
}
