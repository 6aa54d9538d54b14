//! The window's state as its own layer, without egui: the two run slots and their histories,
//! the dataset load, the settings, the projector's jobs, the toy, and the actions that change
//! them. The panels in `ui` draw this state and push [`actions::UiAction`]s; [`Lab`] applies
//! them once per frame (rerun's command queue), so no panel calls back into it.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`Lab`]: what the window holds |
//! | `logic.rs` | each frame's polling: the dataset thread, the trainers, forks, Reset |
//! | `commands.rs` | what each action does |
//! | `file_actions.rs` | what a chosen path does: exports, checkpoints, settings, a dataset or run folder |
//! | `run.rs`, `history/` | one run slot: its trainer handle, status and bounded history |
//! | `settings.rs`, `lessons.rs`, `launch.rs` | what the window remembers, the lessons, the command-line launch |
//! | `dataset.rs`, `projector.rs`, `failures.rs`, `toy.rs`, `landscape.rs`, `files.rs` | each tab's state and numbers |
//! | `script.rs`, `code.rs` | a run's perturbations and holds by step; the lab as one short text code |
//! | `paired.rs` | A − B paired by seed and both rules, for the Metrics tab |
//! | `sweep.rs` | the Sweep tab: a `compare` folder read on its own thread, its tables |

pub mod actions;
pub mod code;
mod commands;
pub mod dataset;
pub mod failures;
mod file_actions;
pub mod files;
pub mod history;
pub mod landscape;
pub mod launch;
pub mod lessons;
mod logic;
pub mod paired;
pub mod projector;
pub mod run;
pub mod script;
pub mod settings;
pub mod sweep;
pub mod toy;

use actions::UiAction;
use dataset::DatasetState;
use landscape::LandscapeRuns;
use launch::{Launch, QuitTimer};
use projector::ProjectorState;
use run::{KeptRun, OpenedInto, RunSlot};
use settings::Settings;
use sweep::SweepState;

use crate::session::{ThreadBudget, Waker};

/// Everything the window holds, and the order it changes in: poll the threads, then apply
/// the actions the panels pushed.
pub struct Lab {
    pub settings: Settings,
    pub dataset: DatasetState,
    pub runs: [RunSlot; 2],
    pub projector: ProjectorState,
    /// The loss landscape's paths, computed in the background.
    pub landscape: LandscapeRuns,
    /// The sweep open in the Sweep tab.
    pub sweep: SweepState,
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
    /// Settings of the trainers now running, to tell what a Reset would change.
    started_with: Option<Settings>,
    waker: Option<Waker>,
    started: Option<std::time::Instant>,
    /// What the window must do that the lab cannot (it has no egui), until the window takes it.
    for_the_window: ForTheWindow,
}

/// What every panel of the window sees: the state it reads, the settings it edits in place
/// (view options and the values the next Reset starts from), and the queue its actions go to.
/// Anything a trainer must apply goes through an action, never through `settings`.
pub struct PanelCtx<'a> {
    pub settings: &'a mut Settings,
    pub runs: &'a [RunSlot; 2],
    pub dataset: &'a DatasetState,
    pub kept_results: &'a [KeptRun],
    pub projector: &'a mut ProjectorState,
    pub landscape: &'a LandscapeRuns,
    /// The Sweep tab's state; its view options (band, baseline, curves) are edited in place.
    pub sweep: &'a mut SweepState,
    pub status_line: &'a Option<String>,
    /// The seed the running trainers started with (the seed field may show the next one).
    pub live_seed: u64,
    /// Seconds since Play was first pressed.
    pub elapsed_secs: f64,
    pub actions: &'a mut Vec<UiAction>,
}

/// What the lab asks of the window, which draws and owns the dialogs.
#[derive(Debug, Default, PartialEq)]
pub struct ForTheWindow {
    /// Dialogs to open, each for a file action.
    pub dialogs: Vec<files::FileAction>,
    /// Save a screenshot of the window to this path.
    pub screenshot: Option<std::path::PathBuf>,
    /// The runs started again from step 0: the plots follow the newest steps again.
    pub runs_restarted: bool,
    /// Put this text (a lab code) on the clipboard.
    pub clipboard: Option<String>,
}

impl Lab {
    /// The lab with given settings, before its first frame (nothing started yet).
    pub fn with_settings(settings: Settings) -> Self {
        let smoothing = settings.smoothing;
        Lab {
            settings,
            dataset: DatasetState::Failed("not started".into()),
            runs: [RunSlot::new("A", smoothing), RunSlot::new("B", smoothing)],
            projector: ProjectorState::default(),
            landscape: LandscapeRuns::default(),
            sweep: SweepState::default(),
            status_line: None,
            kept_results: Vec::new(),
            play_when_ready: [false; 2],
            actions: Vec::new(),
            opened: [None, None],
            budget: ThreadBudget::for_this_machine(),
            launch: Launch::default(),
            quit_timer: QuitTimer::default(),
            started_with: None,
            waker: None,
            started: None,
            for_the_window: ForTheWindow::default(),
        }
    }

    /// The panels' view of the lab for one frame.
    pub fn panel_ctx(&mut self) -> PanelCtx<'_> {
        let (live_seed, elapsed_secs) = (self.live_seed(), self.elapsed_secs());
        PanelCtx {
            settings: &mut self.settings,
            runs: &self.runs,
            dataset: &self.dataset,
            kept_results: &self.kept_results,
            projector: &mut self.projector,
            landscape: &self.landscape,
            sweep: &mut self.sweep,
            status_line: &self.status_line,
            live_seed,
            elapsed_secs,
            actions: &mut self.actions,
        }
    }

    /// The lab as the command line launches it.
    pub fn launched(settings: Settings, launch: Launch) -> Self {
        let mut lab = Lab::with_settings(settings);
        lab.launch = launch;
        lab
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

    /// The seed the running trainers were started with (the field may show the next one).
    pub fn live_seed(&self) -> u64 {
        self.started_with
            .as_ref()
            .map_or(self.settings.seed, |s| s.seed)
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.started.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }
}
