//! The app: the window's state, the per-frame order (poll trainers, draw panels, apply their
//! actions) and what each action does.

use std::sync::Arc;

mod file_actions;

use super::actions::UiAction;
use super::colours::unfilled;
use super::dataset::{DatasetState, LoadOutcome, Previous};
use super::fig3::Fig3View;
use super::files::{DialogOutcome, FileDialogs};
use super::history::Marker;
use super::launch::{Launch, QuitTimer, summary_line};
use super::projector::ProjectorState;
use super::run::{KeptRun, OpenedInto, RunSlot, RunStatus, SlotRequest};
use super::settings::{Settings, Tab, checked_saved_settings};
use crate::data::Dataset;
use crate::session::{Command, ThreadBudget, Waker};
use crate::train::snapshot::TrainerSnapshot;
use crate::weighting::StrategyConfig;

/// The longest a repaint waits after a trainer's event while training, with a GPU (~30 Hz).
const REPAINT_WHILE_TRAINING: std::time::Duration = std::time::Duration::from_millis(33);

/// The same on a software renderer (llvmpipe/lavapipe: no GPU, e.g. Xvfb or a VM), where every
/// frame is rasterised by the CPU cores the trainers need. Measured under Xvfb on 2 cores
/// (bench/window_rate.sh): a frame of the Lab tab takes about 0.2 s of CPU there, so any rate
/// above ~4 Hz keeps the rasteriser busy on ~0.9 of a core; once a second leaves the trainers
/// nearly all of the machine and the curves still move.
const REPAINT_WHILE_TRAINING_ON_CPU: std::time::Duration = std::time::Duration::from_millis(1000);

pub struct LabApp {
    pub settings: Settings,
    pub dataset: DatasetState,
    pub runs: [RunSlot; 2],
    pub fig3: Fig3View,
    pub projector: ProjectorState,
    pub files: FileDialogs,
    pub status_line: Option<String>,
    /// Evaluations of runs from before a Reset, for the results table and paired differences.
    pub kept_results: Vec<KeptRun>,
    /// Slots that start playing once their new trainer is ready (Next seed).
    play_when_ready: [bool; 2],
    /// Run folders being opened into slots A and B, waiting for their trainers to start.
    opened: [Option<OpenedInto>; 2],
    /// Actions pushed by the panels this frame, applied after drawing.
    actions: Vec<UiAction>,
    /// The cores shared out among the runs that are training.
    budget: ThreadBudget,
    launch: Launch,
    quit_timer: QuitTimer,
    /// Frames drawn since start (reported on stderr by `--quit-after`).
    frames_drawn: u64,
    /// Settings of the trainers now running, to tell what a Reset would change.
    started_with: Option<Settings>,
    waker: Option<Waker>,
    started: Option<std::time::Instant>,
    /// How long a repaint may wait after a trainer's event (longer on a software renderer).
    repaint_while_training: std::time::Duration,
}

/// Whether the window is rasterised on the CPU (a software Vulkan/GL device, no GPU).
fn drawn_by_the_cpu(cc: &eframe::CreationContext<'_>) -> bool {
    cc.wgpu_render_state
        .as_ref()
        .is_some_and(|state| state.adapter.get_info().device_type == eframe::wgpu::DeviceType::Cpu)
}

impl LabApp {
    /// The app as eframe creates it: settings from the last launch.
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let saved: Option<Settings> = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY));
        let (mut settings, problem) = checked_saved_settings(saved);
        let mut notes: Vec<String> = problem.into_iter().collect();
        if let Some(spec) = &launch.dataset {
            settings.dataset = spec.clone();
            settings.fold = launch.fold;
        } else if let Some(gone) = settings.dataset_gone() {
            notes.push(gone);
            settings.dataset = "synthetic".into();
            settings.fold = None;
        }
        let mut app = Self::with_settings(settings);
        if drawn_by_the_cpu(cc) {
            app.repaint_while_training = REPAINT_WHILE_TRAINING_ON_CPU;
            app.fig3.plain_background = true;
        }
        app.status_line = (!notes.is_empty()).then(|| notes.join("; "));
        app.launch = launch;
        app
    }

    /// The app with given settings and no window (tests, benchmarks).
    pub fn with_settings(settings: Settings) -> Self {
        let smoothing = settings.smoothing;
        LabApp {
            settings,
            dataset: DatasetState::Failed("not started".into()),
            runs: [RunSlot::new("A", smoothing), RunSlot::new("B", smoothing)],
            fig3: Fig3View::default(),
            projector: ProjectorState::default(),
            files: FileDialogs::default(),
            status_line: None,
            kept_results: Vec::new(),
            play_when_ready: [false; 2],
            actions: Vec::new(),
            opened: [None, None],
            budget: ThreadBudget::for_this_machine(),
            launch: Launch::default(),
            quit_timer: QuitTimer::default(),
            frames_drawn: 0,
            started_with: None,
            waker: None,
            started: None,
            repaint_while_training: REPAINT_WHILE_TRAINING,
        }
    }

    /// What wakes the window from another thread (None before the first frame).
    pub fn waker(&self) -> Option<Waker> {
        self.waker.clone()
    }

    /// Whether Play is on for any run.
    pub fn playing(&self) -> bool {
        self.runs.iter().any(|r| r.playing)
    }

    /// Queue an action, as a panel does; it is applied at the end of the frame.
    pub fn push(&mut self, action: UiAction) {
        self.actions.push(action);
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
        self.fig3.follow_newest();
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

    /// The seed the running trainers were started with (the field may show the next one).
    pub fn live_seed(&self) -> u64 {
        self.started_with
            .as_ref()
            .map_or(self.settings.seed, |s| s.seed)
    }

    /// Keep the results and start both runs again with the next seed, playing.
    fn next_seed(&mut self) {
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
    fn start_slot(&mut self, slot: usize, dataset: Arc<Dataset>) {
        self.projector = ProjectorState::default();
        let waker = self.waker.clone().unwrap_or_else(|| Arc::new(|| {}));
        let config = self.settings.train_config(slot);
        self.runs[slot].start(config, dataset, waker, &self.budget);
        self.install_opened(slot);
    }

    /// Poll the dataset thread, the trainers and the file dialogs; never blocks.
    pub fn poll(&mut self) {
        self.poll_dataset();
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
        if let Some(result) = self.files.poll_screenshot() {
            self.status_line = Some(result.unwrap_or_else(|m| format!("warning: {m}")));
        }
    }

    /// The file dialogs' outcomes (the in-window dialog draws here).
    fn file_dialogs(&mut self, ctx: &egui::Context) {
        for outcome in self.files.show(ctx) {
            let message = match outcome {
                DialogOutcome::Chosen(action, path) => self
                    .perform_file_action(action, &path)
                    .unwrap_or_else(|e| format!("warning: {e}")),
                DialogOutcome::Message(m) => m,
            };
            self.status_line = Some(message);
        }
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

    /// `--quit-after`: once its time has passed since the first step, print the line and close.
    fn check_quit(&mut self, ctx: &egui::Context) {
        let Some(limit) = self.launch.quit_after_secs else {
            return;
        };
        if self.runs.iter().any(|r| r.step > 0) {
            self.quit_timer.saw_a_step();
        }
        if let Some(secs) = self.quit_timer.expired(limit) {
            println!(
                "{}",
                summary_line([self.runs[0].step, self.runs[1].step], secs)
            );
            eprintln!("{} frames drawn", self.frames_drawn);
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
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
            SlotRequest::Reconcile(applied) => {
                self.settings.reconcile_strategy(slot, &applied.strategy);
                self.settings.rates = applied.rates;
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
        self.runs[to].send(Command::Restore(snapshot));
        if !self.runs[to].playing {
            self.runs[to].send(Command::Pause);
        }
    }

    /// Apply every action the panels pushed this frame, in order.
    pub fn apply_actions(&mut self) {
        for action in std::mem::take(&mut self.actions) {
            self.apply(action);
        }
    }

    pub fn apply(&mut self, action: UiAction) {
        match action {
            UiAction::TogglePlay => self.set_playing(!self.playing()),
            UiAction::SetRunPlaying { slot, playing } => self.set_run_playing(slot, playing),
            UiAction::StepOnce => self.step_once(),
            UiAction::Reset => self.reset(),
            UiAction::NextSeed => self.next_seed(),
            UiAction::SetStrategy { slot, config } => self.set_strategy(slot, config),
            UiAction::SetScale(scale) => {
                self.settings.scale = scale;
                self.send_strategy(0);
                self.send_strategy(1);
            }
            UiAction::SetRates(rates) => {
                self.settings.rates = rates;
                self.send_all(Command::SetLearningRates(rates));
            }
            UiAction::SetWeightsReachTrunk(reach) => {
                self.settings.weights_reach_trunk = reach;
                self.send_all(Command::SetWeightsReachTrunk(reach));
            }
            UiAction::SetEvalEvery(every) => {
                self.settings.eval_every = every;
                self.send_all(Command::SetEvalEvery(every));
            }
            UiAction::EvaluateNow => self.send_all(Command::Evaluate),
            UiAction::Fork { from } => self.fork(from),
            UiAction::Perturb { slot, change } => self.runs[slot].send(Command::Perturb(change)),
            UiAction::SetSmoothing(smoothing) => {
                self.settings.smoothing = smoothing;
                for run in &mut self.runs {
                    run.history.set_smoothing(smoothing);
                }
            }
            UiAction::Project => self.project(),
            UiAction::OpenLesson(lesson) => {
                self.settings.open_lesson(lesson);
                if lesson.trains() {
                    self.reset();
                }
            }
            UiAction::LeaveLesson => self.settings.lesson = None,
            UiAction::DismissWelcome => self.settings.welcome_seen = true,
            UiAction::OpenFile(action) => {
                if let Err(e) = self.files.open(action) {
                    self.status_line = Some(format!("warning: {e}"));
                }
            }
            UiAction::Status(message) => self.status_line = Some(message),
            UiAction::CancelLoad => {
                if let Some(progress) = self.dataset.loading() {
                    progress.cancel();
                    self.status_line = Some("cancelling the load…".into());
                }
            }
            UiAction::SetRecipe(recipe) => {
                self.settings.choose_recipe(recipe);
                self.reset();
            }
            UiAction::SetFold(fold) => {
                self.settings.fold = fold;
                self.reset();
            }
        }
    }

    fn send_all(&mut self, command: Command) {
        for run in &mut self.runs {
            run.send(command.clone());
        }
    }

    /// Play or pause both runs.
    pub fn set_playing(&mut self, playing: bool) {
        for slot in 0..2 {
            self.set_run_playing(slot, playing);
        }
    }

    /// Play or pause one run (the other keeps going; the cores follow).
    pub fn set_run_playing(&mut self, slot: usize, playing: bool) {
        self.runs[slot].playing = playing;
        self.runs[slot].send(if playing {
            Command::Play
        } else {
            Command::Pause
        });
        if playing {
            self.started.get_or_insert_with(std::time::Instant::now);
        }
    }

    pub fn step_once(&mut self) {
        for run in &mut self.runs {
            run.playing = false;
        }
        self.send_all(Command::Step(1));
    }

    /// Change run `slot`'s rule from its next step.
    pub fn set_strategy(&mut self, slot: usize, config: StrategyConfig) {
        self.settings.strategies[slot] = config;
        self.send_strategy(slot);
    }

    fn send_strategy(&mut self, slot: usize) {
        let strategy = self.settings.strategy_for(slot);
        self.runs[slot].send(Command::SetStrategy(strategy));
    }

    /// Copy run `from` into the other slot at its current state.
    pub fn fork(&mut self, from: usize) {
        self.runs[from].fork_to = Some(1 - from);
        self.runs[from].send(Command::Snapshot);
    }

    /// Ask both runs for embeddings of the projector's subset, at the same step.
    fn project(&mut self) {
        let Some(dataset) = self.dataset.ready().cloned() else {
            return;
        };
        let playing = self.playing();
        let requests =
            self.projector
                .requests(&dataset, &self.settings.projector, &self.runs, playing);
        for (slot, (catch_up, request)) in requests.into_iter().enumerate() {
            if catch_up > 0 {
                self.runs[slot].send(Command::Step(catch_up));
            }
            self.runs[slot].request_embeddings(request);
        }
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.started.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    fn keyboard(&mut self, ui: &egui::Ui) {
        if ui.ctx().egui_wants_keyboard_input() {
            return;
        }
        ui.input(|i| {
            for (key, action) in [
                (egui::Key::Space, UiAction::TogglePlay),
                (egui::Key::S, UiAction::StepOnce),
                (egui::Key::R, UiAction::Reset),
            ] {
                if i.key_pressed(key) {
                    self.actions.push(action);
                }
            }
        });
    }

    /// What runs before drawing, and also while the window is hidden: take the threads'
    /// messages, apply queued actions, check `--quit-after`.
    pub fn logic(&mut self, ctx: &egui::Context) {
        if self.waker.is_none() {
            let wake_ctx = ctx.clone();
            // Trainers send events after every step; a repaint per event would take a core
            // from training. Repaints are coalesced to at most about 30 per second (1 when the
            // CPU draws the window).
            let interval = self.repaint_while_training;
            self.waker = Some(Arc::new(move || {
                wake_ctx.request_repaint_after(interval);
            }));
            if matches!(self.dataset, DatasetState::Failed(ref m) if m == "not started") {
                self.open_launch_runs();
                self.start_dataset();
            }
        }
        self.poll();
        self.apply_actions();
        self.check_quit(ctx);
        if self.runs.iter().any(|r| r.status == RunStatus::Building)
            || matches!(self.dataset, DatasetState::Loading { .. })
        {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    /// One frame of the whole window, as eframe runs it: the logic, then the drawing.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        self.logic(&ui.ctx().clone());
        self.draw(ui);
    }

    /// Every panel, then the actions they pushed.
    fn draw(&mut self, ui: &mut egui::Ui) {
        self.frames_drawn += 1;
        self.take_dropped(ui.ctx());
        self.file_dialogs(ui.ctx());
        self.keyboard(ui);
        self.panels_ui(ui);
        self.apply_actions();
        self.files.request_screenshot(ui.ctx());
    }

    fn panels_ui(&mut self, ui: &mut egui::Ui) {
        let live_seed = self.live_seed();
        let actions = &mut self.actions;
        let bar = unfilled(egui::Frame::side_top_panel(ui.style()));
        let central =
            egui::CentralPanel::default().frame(unfilled(egui::Frame::central_panel(ui.style())));
        egui::Panel::top("top_bar").frame(bar).show(ui, |ui| {
            super::top_bar::ui(
                ui,
                &mut self.settings,
                &self.runs,
                self.started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
                &self.dataset,
                actions,
            )
        });
        egui::Panel::bottom("status_bar").frame(bar).show(ui, |ui| {
            super::status_bar::ui(ui, &self.dataset, &self.runs, &self.status_line, actions)
        });
        if !self.settings.welcome_seen && self.settings.lesson.is_none() {
            egui::Panel::top("welcome")
                .frame(bar)
                .show(ui, |ui| super::top_bar::welcome_ui(ui, actions));
        }
        if let Some(lesson) = self.settings.lesson {
            egui::Panel::top("lesson_text").frame(bar).show(ui, |ui| {
                super::top_bar::lesson_banner_ui(ui, lesson, actions)
            });
        }
        match self.settings.tab {
            Tab::Lab => {
                if self.settings.show_explain
                    && self.settings.shows(super::lessons::Control::Explain)
                {
                    egui::Panel::right("explain")
                        .frame(bar)
                        .default_size(340.0)
                        .show(ui, |ui| {
                            super::explain::ui(ui, &mut self.settings.explain_run, &self.runs)
                        });
                }
                central.show(ui, |ui| {
                    self.fig3.ui(ui, &mut self.settings, &self.runs, actions)
                });
            }
            Tab::Metrics => {
                central.show(ui, |ui| {
                    super::metrics::ui(
                        ui,
                        self.settings.eval_every,
                        &self.runs,
                        &self.kept_results,
                        live_seed,
                        actions,
                    )
                });
            }
            Tab::Projector => {
                central.show(ui, |ui| {
                    self.projector.ui(
                        ui,
                        &mut self.settings.projector,
                        &self.runs,
                        &self.dataset,
                        actions,
                    )
                });
            }
            Tab::Toy => {
                central.show(ui, |ui| super::toy::toy_ui(&mut self.settings.toy, ui));
            }
        }
    }
}

impl eframe::App for LabApp {
    /// The panel colour: the panels paint no fill of their own (see `colours::unfilled`).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        LabApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        // eframe has just run `logic`.
        self.draw(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
