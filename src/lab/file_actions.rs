//! What the window does with a path: the Files menu's actions, opening a dataset or a run
//! folder (from the menu, a drop on the window or the command line).

use std::path::Path;

use super::Lab;
use super::files::{FileAction, metrics_csv, write_png, write_text};
use super::history::RunHistory;
use super::run::{EvalPoint, OpenedInto, slot_name};
use super::settings::load_settings;
use crate::data::real::{EXPECTED_LAYOUTS, detect_layout};
use crate::session::Command;
use crate::train::run_folder::OpenedRun;

impl Lab {
    /// Carry out a file action on a chosen path. Ok is the message for the status line.
    pub fn perform_file_action(
        &mut self,
        action: FileAction,
        path: &Path,
    ) -> Result<String, String> {
        match action {
            FileAction::ExportCsv(slot) => {
                let history = &self.runs[slot].history;
                write_text(path, &metrics_csv(history))?;
                let mut message = format!("wrote {} rows to {}", history.len(), path.display());
                // Block rows are means over many steps: say so, or they read as single steps.
                let summarised = history.summarised_len();
                if summarised > 0 {
                    message.push_str(&format!(
                        ", of which {summarised} summarised rows (means of older steps)"
                    ));
                }
                Ok(message)
            }
            FileAction::SavePlotsPng => {
                self.for_the_window.screenshot = Some(path.to_path_buf());
                Ok("taking a screenshot…".into())
            }
            FileAction::SaveCheckpoint(slot) => {
                self.runs[slot].send(Command::SaveCheckpoint(path.to_path_buf()));
                Ok(format!("saving run {} …", self.runs[slot].name))
            }
            FileAction::LoadCheckpoint(slot) => {
                self.runs[slot].send(Command::LoadCheckpoint(path.to_path_buf()));
                Ok(format!("loading into run {} …", self.runs[slot].name))
            }
            FileAction::SaveConfig => {
                let json =
                    serde_json::to_string_pretty(&self.settings).map_err(|e| e.to_string())?;
                write_text(path, &json)?;
                Ok(format!("saved settings to {}", path.display()))
            }
            FileAction::ExportFailureSheet(slot) => self.export_failure_sheet(slot, path),
            FileAction::LoadConfig => {
                let (settings, notes) = load_settings(path)?;
                self.settings = settings;
                self.reset();
                let mut message = format!("loaded {} and reset the runs", path.display());
                for note in notes {
                    message.push_str(&format!("; {note}"));
                }
                Ok(message)
            }
            FileAction::OpenDataset => self.open_dataset(path),
            FileAction::OpenRun(slot) => self.open_run(slot, path),
            FileAction::OpenSweep => self.open_sweep(path),
        }
    }

    /// Show the sweep in `dir` (a `compare` folder, finished or still training) in the Sweep
    /// tab; it is read on a background thread and follows the runs as they finish.
    pub fn open_sweep(&mut self, dir: &Path) -> Result<String, String> {
        if !dir.join(crate::train::sweep::SWEEP_FILE).is_file() {
            return Err(format!(
                "{} is not a sweep folder: no {} (a sweep folder is what `cari-mtl compare --out` writes)",
                dir.display(),
                crate::train::sweep::SWEEP_FILE
            ));
        }
        self.sweep.open(dir, self.waker.clone())?;
        self.settings.tab = super::settings::Tab::Sweep;
        Ok(format!("reading the sweep in {} …", dir.display()))
    }

    /// `--open-sweep DIR`.
    pub(super) fn open_launch_sweep(&mut self) {
        if let Some(dir) = self.launch.open_sweep.take() {
            let message = self
                .open_sweep(&dir)
                .unwrap_or_else(|e| format!("warning: {e}"));
            self.status_line = Some(message);
        }
    }

    fn export_failure_sheet(&mut self, slot: usize, path: &Path) -> Result<String, String> {
        let dataset = self.dataset.ready().ok_or("no dataset loaded")?;
        let report = self.runs[slot]
            .last_report
            .as_ref()
            .ok_or("this run has no evaluation yet")?;
        let sheet = super::failures::failure_sheet(dataset, report, 20);
        write_png(path, &sheet)?;
        Ok(format!(
            "saved the failure sheet of run {} to {}",
            self.runs[slot].name,
            path.display()
        ))
    }

    /// Train both runs on the dataset in `folder` (its layout recognised from the folder).
    pub fn open_dataset(&mut self, folder: &Path) -> Result<String, String> {
        let layout = detect_layout(folder).ok_or_else(|| {
            format!(
                "{} is not a dataset folder: expected {EXPECTED_LAYOUTS}",
                folder.display()
            )
        })?;
        let spec = format!("{}:{}", layout.key(), folder.display());
        self.settings.dataset = spec.clone();
        // A new copy's folds are not known yet: start on its first.
        self.settings.fold = None;
        self.reset();
        Ok(format!("opening {spec} …"))
    }

    /// Put the run in `dir` (written by `cari-mtl train` or `compare`) into `slot`: its curves
    /// and final evaluation at once, then a trainer from its checkpoint that can evaluate
    /// again (the failure inspector), embed (the projector) and go on training from its step.
    pub fn open_run(&mut self, slot: usize, dir: &Path) -> Result<String, String> {
        let run = OpenedRun::open(dir).map_err(|e| e.to_string())?;
        let mut history = RunHistory::new(self.settings.smoothing);
        let mut last = (0, 0.0);
        run.for_each_row(|row| {
            last = (row.step, row.wall_secs);
            history.push(row);
        })
        .map_err(|e| e.to_string())?;
        let evals = run
            .summary_step()
            .map(|step| EvalPoint {
                step,
                summary: run.final_metrics().into_iter().collect(),
            })
            .filter(|p| !p.summary.is_empty())
            .into_iter()
            .collect();
        let same_data = self.adopt_run_settings(slot, &run);
        self.opened[slot] = Some(OpenedInto {
            dir: dir.to_path_buf(),
            history,
            evals,
            checkpoint: run.checkpoint.clone(),
            step: last.0,
            wall_secs: last.1,
        });
        match (self.dataset.ready().cloned(), same_data) {
            (Some(dataset), true) => self.start_slot(slot, dataset),
            _ => self.reset(),
        }
        let what = if run.finished {
            ""
        } else {
            " (it did not finish)"
        };
        Ok(format!(
            "opened {}{what} into run {}: {} steps",
            dir.display(),
            slot_name(slot),
            last.0
        ))
    }

    /// Take the run's settings into the window; whether the data stays the same (else both
    /// runs restart on the run's dataset).
    fn adopt_run_settings(&mut self, slot: usize, run: &OpenedRun) -> bool {
        let config = &run.config;
        let s = &mut self.settings;
        let same_data = s.dataset == config.data.dataset
            && s.seed == config.seed
            && s.preset == config.preset
            && s.fold == config.data.fold
            && (config.data.dataset != "synthetic" || {
                let (mut a, mut b) = (s.synthetic.clone(), config.data.synthetic.clone());
                (a.seed, a.image_size, b.seed, b.image_size) = (0, 0, 0, 0);
                a == b
            });
        s.dataset = config.data.dataset.clone();
        s.fold = config.data.fold;
        s.recipe = config.recipe;
        s.seed = config.seed;
        s.preset = config.preset;
        s.synthetic = config.data.synthetic.clone();
        s.strategies[slot] = config.strategy.clone();
        s.rates = config.rates;
        same_data
    }

    /// What an opened run gives its slot once the slot's trainer has been started.
    pub(super) fn install_opened(&mut self, slot: usize) {
        let Some(opened) = self.opened[slot].take() else {
            return;
        };
        let run = &mut self.runs[slot];
        run.history = opened.history;
        run.evals = opened.evals;
        run.step = opened.step;
        run.wall_secs = opened.wall_secs;
        match opened.checkpoint {
            Some(checkpoint) => {
                run.send(Command::ContinueFrom {
                    checkpoint,
                    step: opened.step,
                    wall_secs: opened.wall_secs,
                });
                run.send(Command::Evaluate);
            }
            None => run.notes.push(format!(
                "{} has no checkpoint: its curves are shown; training starts from step 0",
                opened.dir.display()
            )),
        }
    }

    /// `--open-run DIR` (up to two): into A, then B, before the dataset starts.
    pub(super) fn open_launch_runs(&mut self) {
        let dirs = std::mem::take(&mut self.launch.open_runs);
        for (slot, dir) in dirs.iter().enumerate().take(2) {
            let message = self
                .open_run(slot, dir)
                .unwrap_or_else(|e| format!("warning: {e}"));
            self.status_line = Some(message);
        }
    }

    /// A folder dropped on the window over run `slot`'s half: a run folder goes into that
    /// run, anything else is opened as a dataset.
    pub fn open_dropped(&mut self, slot: usize, path: &Path) {
        let result = if path.join(crate::train::run_folder::CONFIG_FILE).is_file() {
            self.open_run(slot, path)
        } else {
            self.open_dataset(path)
        };
        self.status_line = Some(result.unwrap_or_else(|e| format!("warning: {e}")));
    }
}
