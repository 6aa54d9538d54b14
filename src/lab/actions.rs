//! What panels ask the app to do. A panel pushes actions while it draws; `LabApp` applies them
//! once per frame, after every panel has drawn (rerun's command queue).

use super::code::LabState;
use super::files::FileAction;
use super::lessons::Lesson;
use crate::session::Gradients;
use crate::train::config::{LearningRates, TaskPerturbation};
use crate::train::recipe::Recipe;
use crate::weighting::StrategyConfig;

#[derive(Clone, Debug, PartialEq)]
pub enum UiAction {
    /// Play if paused, pause if playing (both runs).
    TogglePlay,
    /// Play or pause one run.
    SetRunPlaying {
        slot: usize,
        playing: bool,
    },
    /// One step for each run.
    StepOnce,
    /// Both runs from step 0 with the settings shown.
    Reset,
    /// Keep the results, then both runs from step 0 with the next seed, playing: another pair
    /// for the paired differences.
    NextSeed,
    /// Run `slot`'s rule, from its next step.
    SetStrategy {
        slot: usize,
        config: StrategyConfig,
    },
    /// The weight-logit scale override (None: each rule's default), for both runs.
    SetScale(Option<f32>),
    SetRates(LearningRates),
    /// Whether w reaches the trunk for both runs (false: eq. 11), from their next step.
    SetWeightsReachTrunk(bool),
    /// The rules' gradient space and the lens, for both runs, from their next step.
    SetGradients(Gradients),
    SetEvalEvery(u64),
    EvaluateNow,
    /// Copy run `from` into the other slot at its current state.
    Fork {
        from: usize,
    },
    /// Make a task of run `slot` harder (or restore it) from its next step.
    Perturb {
        slot: usize,
        change: TaskPerturbation,
    },
    /// Hold one task's weight of run `slot` at a value from its next step, for as long as
    /// the user holds it (`None`: release it).
    Hold {
        slot: usize,
        task: crate::task::Task,
        value: Option<f64>,
    },
    /// Forget a run's scripted perturbations and holds (from a lab code or lesson); applies
    /// on Reset.
    ClearScript(usize),
    SetSmoothing(f32),
    /// Embed the projector's subset with both runs and start t-SNE.
    Project,
    OpenLesson(Lesson),
    LeaveLesson,
    /// Put the lab's code on the clipboard.
    CopyLabCode,
    /// Open a lab from its (already decoded) code.
    OpenLabCode(Box<LabState>),
    /// Hide the first-start hint for good.
    DismissWelcome,
    /// Ask for a path (dialog) and then carry out a file action.
    OpenFile(FileAction),
    /// A message for the status line.
    Status(String),
    /// Stop the dataset load in progress and go back to the dataset before it.
    CancelLoad,
    /// Restart both runs from a recipe's settings.
    SetRecipe(Recipe),
    /// Train and evaluate on another published fold of the real dataset (None: fold 1).
    SetFold(Option<usize>),
    /// Open a run of the open sweep into slot A or B (it trains on from its checkpoint).
    OpenSweepRun {
        slot: usize,
        dir: std::path::PathBuf,
    },
    /// Stop reading the open sweep and forget it.
    CloseSweep,
}
