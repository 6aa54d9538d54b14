//! What each action does to the lab.

use super::Lab;
use super::actions::UiAction;
use super::code::{CodeError, LabState};
use super::lessons::Lesson;
use crate::session::Command;
use crate::weighting::StrategyConfig;

impl Lab {
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
            UiAction::SetGradients(gradients) => {
                self.settings.gradients = gradients;
                self.send_all(Command::SetGradients(gradients));
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
            UiAction::Hold { slot, task, value } => {
                self.runs[slot].send(Command::Hold { task, value })
            }
            UiAction::ClearScript(slot) => {
                self.settings.scripts[slot] = Default::default();
            }
            UiAction::SetSmoothing(smoothing) => {
                self.settings.smoothing = smoothing;
                for run in &mut self.runs {
                    run.history.set_smoothing(smoothing);
                }
            }
            UiAction::Project => self.project(),
            UiAction::OpenLesson(lesson) => self.open_lesson(lesson),
            UiAction::LeaveLesson => self.settings.leave_lesson(),
            UiAction::CopyLabCode => {
                let code = self.lab_code();
                self.status_line = Some(format!(
                    "copied the lab code ({} characters) to the clipboard; Paste lab code in another window, or cari-mtl --lab CODE",
                    code.len()
                ));
                self.for_the_window.clipboard = Some(code);
            }
            UiAction::OpenLabCode(state) => {
                self.status_line = Some(match self.open_lab_state(*state, false) {
                    Ok(()) => "opened the lab code".into(),
                    Err(e) => format!("warning: {e}"),
                });
            }
            UiAction::DismissWelcome => self.settings.welcome_seen = true,
            UiAction::OpenFile(action) => self.for_the_window.dialogs.push(action),
            UiAction::OpenSweepRun { slot, dir } => {
                let message = self.open_run(slot, &dir);
                if message.is_ok() {
                    self.settings.tab = super::settings::Tab::Lab;
                }
                self.status_line = Some(message.unwrap_or_else(|e| format!("warning: {e}")));
            }
            UiAction::CloseSweep => self.sweep.close(),
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

    /// The lab's code: its settings, and each run's perturbations and holds (the script it
    /// started with and what the user did since).
    pub fn lab_code(&self) -> String {
        let scripts = std::array::from_fn(|slot| {
            let run = &self.runs[slot];
            if run.handle.is_some() {
                run.lab_script()
            } else {
                self.settings.scripts[slot].clone()
            }
        });
        LabState::of(&self.settings, scripts).encode()
    }

    /// Open a lab from its decoded code. Nothing changes when it is refused. The runs start
    /// again when what they train changes (always for a lesson that trains).
    pub fn open_lab_state(&mut self, state: LabState, restart: bool) -> Result<(), CodeError> {
        let settings = state.applied_to(&self.settings)?;
        let running = self
            .started_with
            .as_ref()
            .map(|s| [s.train_config(0), s.train_config(1)]);
        let changed = running
            .is_some_and(|configs| configs != [settings.train_config(0), settings.train_config(1)]);
        self.settings = settings;
        self.settings.welcome_seen = true;
        if self.started() && (changed || restart) {
            self.reset();
        }
        Ok(())
    }

    fn open_lesson(&mut self, lesson: Lesson) {
        let opened = LabState::decode(lesson.code()).and_then(|state| {
            let trains = state.tab != super::settings::Tab::Toy;
            self.open_lab_state(state, trains)
        });
        if let Err(e) = opened {
            self.status_line = Some(format!("warning: lesson '{}': {e}", lesson.title()));
        }
    }
}
