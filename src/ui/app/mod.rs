//! The app as eframe runs it: the lab's state, the panels' own view state, the file dialogs,
//! and the order of a frame (the lab's logic, then the panels, then their actions).

use std::sync::Arc;

mod layout;

use super::explain::Explain;
use super::fig3::Fig3View;
use super::files::{DialogOutcome, FileDialogs};
use super::metrics::MetricsPanel;
use super::projector::ProjectorPanel;
use super::status_bar::StatusBar;
use super::sweep::SweepPanel;
use super::top_bar::{LessonBanner, TopBar, Welcome};
use super::toy::ToyPanel;
use crate::lab::Lab;
use crate::lab::actions::UiAction;
use crate::lab::launch::Launch;
use crate::lab::settings::{Settings, checked_saved_settings};

/// The longest a repaint waits after a trainer's event while training, with a GPU (~30 Hz).
const REPAINT_WHILE_TRAINING: std::time::Duration = std::time::Duration::from_millis(33);

/// The same on a software renderer (llvmpipe/lavapipe: no GPU, e.g. Xvfb or a VM), where every
/// frame is rasterised by the CPU cores the trainers need. Measured under Xvfb on 2 cores
/// (bench/window_rate.sh): a frame of the Lab tab takes about 0.2 s of CPU there, so any rate
/// above ~4 Hz keeps the rasteriser busy on ~0.9 of a core; once a second leaves the trainers
/// nearly all of the machine and the curves still move.
const REPAINT_WHILE_TRAINING_ON_CPU: std::time::Duration = std::time::Duration::from_millis(1000);

/// Every panel, each with its own view state.
#[derive(Default)]
pub struct Panels {
    pub top_bar: TopBar,
    pub status_bar: StatusBar,
    pub welcome: Welcome,
    pub lesson: LessonBanner,
    pub explain: Explain,
    pub fig3: Fig3View,
    pub metrics: MetricsPanel,
    pub projector: ProjectorPanel,
    pub toy: ToyPanel,
    pub sweep: SweepPanel,
}

pub struct LabApp {
    /// The window's state (no egui).
    pub lab: Lab,
    pub panels: Panels,
    pub files: FileDialogs,
    /// Frames drawn since start (reported on stderr by `--quit-after`).
    frames_drawn: u64,
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
        let (settings, problem) = checked_saved_settings(saved);
        let mut notes: Vec<String> = problem.into_iter().collect();
        let settings = launch.settings_from(settings, &mut notes);
        let mut app = LabApp::around(Lab::launched(settings, launch));
        if drawn_by_the_cpu(cc) {
            app.repaint_while_training = REPAINT_WHILE_TRAINING_ON_CPU;
            app.panels.fig3.plain_background = true;
        }
        app.lab.status_line = (!notes.is_empty()).then(|| notes.join("; "));
        app
    }

    /// The app with given settings and no window (tests, benchmarks).
    pub fn with_settings(settings: Settings) -> Self {
        LabApp::around(Lab::with_settings(settings))
    }

    fn around(lab: Lab) -> Self {
        LabApp {
            lab,
            panels: Panels::default(),
            files: FileDialogs::default(),
            frames_drawn: 0,
            repaint_while_training: REPAINT_WHILE_TRAINING,
        }
    }

    /// What runs before drawing, and also while the window is hidden: take the threads'
    /// messages, apply queued actions, check `--quit-after`.
    pub fn logic(&mut self, ctx: &egui::Context) {
        if !self.lab.started() {
            let wake_ctx = ctx.clone();
            // Trainers send events after every step; a repaint per event would take a core
            // from training. Repaints are coalesced to at most about 30 per second (1 when the
            // CPU draws the window).
            let interval = self.repaint_while_training;
            self.lab.start(Arc::new(move || {
                wake_ctx.request_repaint_after(interval);
            }));
        }
        self.lab.poll();
        if let Some(result) = self.files.poll_screenshot() {
            self.lab.status_line = Some(result.unwrap_or_else(|m| format!("warning: {m}")));
        }
        self.apply_actions(ctx);
        if let Some(line) = self.lab.quit_due() {
            println!("{line}");
            eprintln!("{} frames drawn", self.frames_drawn);
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if self.lab.preparing() {
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
        self.apply_actions(&ui.ctx().clone());
        self.files.request_screenshot(ui.ctx());
    }

    /// The lab applies the actions; what it cannot do without egui comes back here.
    fn apply_actions(&mut self, ctx: &egui::Context) {
        self.lab.apply_actions();
        let wanted = self.lab.take_for_the_window();
        if let Some(code) = wanted.clipboard {
            ctx.copy_text(code);
        }
        for action in wanted.dialogs {
            if let Err(e) = self.files.open(action) {
                self.lab.status_line = Some(format!("warning: {e}"));
            }
        }
        if let Some(path) = wanted.screenshot {
            self.files.screenshot_path = Some(path);
        }
        if wanted.runs_restarted {
            self.panels.fig3.follow_newest();
        }
    }

    /// The file dialogs' outcomes (the in-window dialog draws here).
    fn file_dialogs(&mut self, ctx: &egui::Context) {
        for outcome in self.files.show(ctx) {
            let message = match outcome {
                DialogOutcome::Chosen(action, path) => self
                    .lab
                    .perform_file_action(action, &path)
                    .unwrap_or_else(|e| format!("warning: {e}")),
                DialogOutcome::Message(m) => m,
            };
            self.lab.status_line = Some(message);
        }
    }

    /// Folders dropped on the window: into the run under the pointer (A on the left half, B
    /// on the right) when it is a run folder, else opened as a dataset.
    fn take_dropped(&mut self, ctx: &egui::Context) {
        let (files, pointer, width) = ctx.input(|i| {
            let width = i.viewport_rect().width();
            (i.raw.dropped_files.clone(), i.pointer.latest_pos(), width)
        });
        for file in files {
            let path = file.path().to_path_buf();
            if path.as_os_str().is_empty() {
                continue;
            }
            let slot = usize::from(pointer.is_some_and(|p| p.x > width / 2.0));
            self.lab.open_dropped(slot, &path);
        }
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
                    self.lab.push(action);
                }
            }
        });
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
        eframe::set_value(storage, eframe::APP_KEY, &self.lab.settings);
    }
}
