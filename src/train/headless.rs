//! A headless run into its folder (`train`, `compare`): the one training loop of
//! [`schedule`](super::schedule) with a run folder as its sink, then the final evaluation,
//! the checkpoint and summary.json.

use std::path::Path;
use std::sync::Arc;

use super::config::TrainConfig;
use super::metrics::StepMetrics;
use super::run_folder::{RunFolderError, RunWriter};
use super::schedule::{LoopError, Schedule, Sink, advance};
use super::trainer::{TrainError, Trainer};
use crate::data::Dataset;
use crate::eval::{Embeddings, EvalReport};

/// How a run's folder is written.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Replace a previous run in the folder instead of refusing it.
    pub overwrite: bool,
    /// Fail as a diverging run does at this step, with this reason (the tests of what a
    /// failed run leaves behind inject it).
    pub inject_failure: Option<(u64, String)>,
}

pub struct RunOutcome {
    pub last_row: Option<StepMetrics>,
    /// The final evaluation, or why it could not be made (the run itself is still written).
    pub report: Result<EvalReport, String>,
    pub train_secs: f64,
}

/// How a run ended: finished (its folder complete), or failed while training (its folder
/// says so, with the rows it took).
pub enum RunEnd {
    Finished(Box<RunOutcome>),
    Failed { step: u64, reason: String },
}

/// Why a headless run could not be made at all (as opposed to failing while training).
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Folder(#[from] RunFolderError),
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// The run folder as the loop's sink: every row appended as it comes, every evaluation the
/// schedule asks for (`eval_every`) appended to evaluations.csv.
struct FolderSink<'a> {
    writer: &'a mut RunWriter,
    on_row: &'a mut dyn FnMut(&StepMetrics),
    last_row: Option<StepMetrics>,
    /// The latest evaluation, kept in case it is at the last step (the final one then).
    last_report: Option<EvalReport>,
}

impl Sink for FolderSink<'_> {
    type Error = RunFolderError;

    fn row(&mut self, row: StepMetrics) -> Result<(), RunFolderError> {
        self.writer.row(&row)?;
        (self.on_row)(&row);
        self.last_row = Some(row);
        Ok(())
    }

    fn evaluated(&mut self, report: Result<EvalReport, TrainError>) -> Result<(), RunFolderError> {
        match report {
            Ok(report) => {
                self.writer.evaluation(report.step, &report.summary)?;
                self.last_report = Some(report);
                Ok(())
            }
            // A failed evaluation is not a row; the run goes on, and its end says why.
            Err(_) => self.writer.sync(),
        }
    }

    fn embedded(&mut self, _e: Result<Embeddings, TrainError>) -> Result<(), RunFolderError> {
        Ok(())
    }
}

/// Train `config.max_steps` steps and write the run's folder `out`; `on_row` sees each row
/// (a progress bar). Errors are about the folder or the setup; a failure while training is a
/// `RunEnd::Failed`.
pub fn train_to_folder(
    config: &TrainConfig,
    dataset: Arc<Dataset>,
    device: &candle_core::Device,
    out: &Path,
    options: &RunOptions,
    on_row: &mut dyn FnMut(&StepMetrics),
) -> Result<RunEnd, HeadlessError> {
    let mut trainer = Trainer::new(config.clone(), dataset, device)?;
    let mut writer = RunWriter::create(out, config, options.overwrite)?;
    let mut schedule = Schedule::of(config);
    let mut sink = FolderSink {
        writer: &mut writer,
        on_row,
        last_row: None,
        last_report: None,
    };
    // Not `schedule.reached_end`: a headless run always has an end (0 steps would never stop).
    while trainer.step_count() < config.max_steps {
        let next = trainer.step_count() + 1;
        let failure = match &options.inject_failure {
            Some((at, reason)) if *at == next => Some(reason.clone()),
            _ => match advance(&mut trainer, &mut schedule, &mut sink) {
                Ok(_) => None,
                Err(LoopError::Step(e)) => Some(e.to_string()),
                Err(LoopError::Sink(e)) => return Err(e.into()),
            },
        };
        if let Some(reason) = failure {
            writer.fail(next, &reason)?;
            return Ok(RunEnd::Failed { step: next, reason });
        }
    }
    let last_row = sink.last_row.take();
    let train_secs = last_row.as_ref().map_or(0.0, |r| r.wall_secs);
    // An evaluation the schedule made at the last step is the final one: not made twice.
    let step = trainer.step_count();
    let report = match sink.last_report.take().filter(|r| r.step == step) {
        Some(report) => Ok(report),
        None => {
            let report = trainer.evaluate().map_err(|e| e.to_string());
            if let Ok(r) = &report {
                writer.evaluation(r.step, &r.summary)?;
            }
            report
        }
    };
    let summary = summary_json(&report, trainer.step_count());
    writer.finish(
        |path| trainer.save_checkpoint(path).map_err(|e| e.to_string()),
        &summary,
    )?;
    Ok(RunEnd::Finished(Box::new(RunOutcome {
        last_row,
        report,
        train_secs,
    })))
}

/// summary.json: the final evaluation's figures and what they were computed on, or why there
/// are none.
pub fn summary_json(report: &Result<EvalReport, String>, step: u64) -> serde_json::Value {
    match report {
        Ok(report) => serde_json::json!({
            "step": report.step,
            "protocol": protocol_json(report),
            "metrics": report.summary,
            // Per metric with folds: {"sd": sample sd (n − 1) over the folds, "n": folds}.
            "spread": report.spread,
            "eval_secs": report.eval_secs,
        }),
        Err(e) => serde_json::json!({ "step": step, "error": e }),
    }
}

/// summary.json's `protocol`: the evaluation's facts, and how it was made in words.
fn protocol_json(report: &EvalReport) -> serde_json::Value {
    let facts = &report.facts;
    serde_json::json!({
        "name": facts.name,
        "fold": facts.fold,
        "pairs_matched": facts.pairs_matched,
        "pairs_mismatched": facts.pairs_mismatched,
        "train_identities": facts.train_identities,
        "test_identities": facts.test_identities,
        "description": report.protocol,
    })
}
