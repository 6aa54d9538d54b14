//! The one training loop: a [`Schedule`] says what is due after each step (an evaluation,
//! embeddings waiting for their step, the end of the run), and [`advance`] takes one step and
//! does what is due, handing the results to a [`Sink`]. The window's trainer thread, `train`,
//! `compare` and `bench` all drive their trainers through it, so they agree by construction on
//! when a run evaluates and ends.

use super::config::TrainConfig;
use super::metrics::StepMetrics;
use super::trainer::{TrainError, Trainer};
use crate::eval::{EmbeddingRequest, Embeddings, EvalReport};

/// When a run evaluates, embeds and ends.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    /// The run ends at this step; 0: when it is stopped.
    pub max_steps: u64,
    /// Evaluate after every step that is a multiple of this; 0: never during training.
    pub eval_every: u64,
    /// Embedding requests waiting for their step, oldest first.
    waiting_embeds: Vec<EmbeddingRequest>,
}

impl Schedule {
    /// The schedule a run's config asks for.
    pub fn of(config: &TrainConfig) -> Schedule {
        Schedule {
            max_steps: config.max_steps,
            eval_every: config.eval_every,
            waiting_embeds: Vec::new(),
        }
    }

    /// Embed `request` once the run reaches its step (at once if it has no step or the run is
    /// already there).
    pub fn embed(&mut self, request: EmbeddingRequest) {
        self.waiting_embeds.push(request);
    }

    /// Whether a run at `step` has reached its end.
    pub fn reached_end(&self, step: u64) -> bool {
        self.max_steps > 0 && step >= self.max_steps
    }

    /// Whether the step just taken is followed by an evaluation.
    pub fn evaluates_at(&self, step: u64) -> bool {
        self.eval_every > 0 && step.is_multiple_of(self.eval_every)
    }

    /// The embedding requests due at `step` (taken out of the schedule).
    pub fn embeds_due(&mut self, step: u64) -> Vec<EmbeddingRequest> {
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting_embeds)
            .into_iter()
            .partition(|r| r.at_step.is_none_or(|s| s <= step));
        self.waiting_embeds = waiting;
        due
    }
}

/// Where a run's results go: the window's outbox, a run folder, a benchmark's timer.
pub trait Sink {
    type Error;

    /// A step was taken.
    fn row(&mut self, row: StepMetrics) -> Result<(), Self::Error>;

    /// An evaluation the schedule asked for, or why it failed (the run goes on either way).
    fn evaluated(&mut self, report: Result<EvalReport, TrainError>) -> Result<(), Self::Error>;

    /// Embeddings the schedule had waiting for this step, or why they failed.
    fn embedded(&mut self, embeddings: Result<Embeddings, TrainError>) -> Result<(), Self::Error>;
}

/// Why [`advance`] stopped: the step failed, or the sink could not take its results.
#[derive(Debug, thiserror::Error)]
pub enum LoopError<E> {
    #[error(transparent)]
    Step(TrainError),
    #[error(transparent)]
    Sink(E),
}

/// What one [`advance`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advanced {
    /// The step taken.
    pub step: u64,
    /// The schedule's last step was taken.
    pub reached_end: bool,
}

/// One step, then what the schedule has due after it, each result handed to `sink`.
pub fn advance<S: Sink>(
    trainer: &mut Trainer,
    schedule: &mut Schedule,
    sink: &mut S,
) -> Result<Advanced, LoopError<S::Error>> {
    let row = trainer.step().map_err(LoopError::Step)?;
    let step = row.step;
    sink.row(row).map_err(LoopError::Sink)?;
    if schedule.evaluates_at(step) {
        sink.evaluated(trainer.evaluate())
            .map_err(LoopError::Sink)?;
    }
    for request in schedule.embeds_due(step) {
        sink.embedded(trainer.embed(&request))
            .map_err(LoopError::Sink)?;
    }
    Ok(Advanced {
        step,
        reached_end: schedule.reached_end(step),
    })
}

/// A sink that keeps nothing (benchmarks time the steps themselves).
pub struct Discard;

impl Sink for Discard {
    type Error = std::convert::Infallible;

    fn row(&mut self, _row: StepMetrics) -> Result<(), Self::Error> {
        Ok(())
    }

    fn evaluated(&mut self, _report: Result<EvalReport, TrainError>) -> Result<(), Self::Error> {
        Ok(())
    }

    fn embedded(&mut self, _e: Result<Embeddings, TrainError>) -> Result<(), Self::Error> {
        Ok(())
    }
}
