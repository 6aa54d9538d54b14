//! The trainer's background thread: commands in, events out, both over bounded channels.
//!
//! The thread never blocks on a slow or absent consumer: step rows wait in a local buffer that
//! is sent with `try_send` and, past [`MAX_PENDING_ROWS`], averaged pairwise so memory stays
//! bounded. Other events wait in a small outbox that drops its oldest bulky entries when full.
//! A panic inside a step becomes an `Event::Error`, never a hang.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use super::trainer::{TrainError, Trainer};
use crate::protocol::{Command, Event, StepMetrics};

/// Step rows kept while the consumer is away before neighbours are averaged.
pub const MAX_PENDING_ROWS: usize = 4096;
const OUTBOX_LIMIT: usize = 64;
const CHANNEL_CAPACITY: usize = 64;

/// Called after each event is sent, e.g. `egui::Context::request_repaint`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

pub struct TrainerHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
}

impl TrainerHandle {
    /// Send a command; false when the thread has ended.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }
}

impl Drop for TrainerHandle {
    fn drop(&mut self) {
        // Ask the thread to end; it notices within one step. We do not join: a UI must never
        // wait for a step to finish.
        let _ = self.commands.try_send(Command::Stop);
    }
}

/// Start a named trainer thread. `build` runs on that thread (model building can take a while
/// and must not hold up the UI); its error, or its panic, arrives as a fatal `Event::Error`.
pub fn spawn<F>(name: &str, build: F, waker: Waker) -> std::io::Result<TrainerHandle>
where
    F: FnOnce() -> Result<Trainer, TrainError> + Send + 'static,
{
    let (command_tx, command_rx) = bounded(CHANNEL_CAPACITY);
    let (event_tx, event_rx) = bounded(CHANNEL_CAPACITY);
    // The thread is detached: a UI never waits for a step to finish (see Drop).
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let fatal = |message: String| {
                // A fresh consumer has room: the channel is empty at this point.
                let _ = event_tx.try_send(Event::Error {
                    step: 0,
                    message,
                    fatal: true,
                });
                waker();
            };
            let trainer = match catch_unwind(AssertUnwindSafe(build)) {
                Ok(Ok(trainer)) => trainer,
                Ok(Err(e)) => return fatal(format!("could not build the run: {e}")),
                Err(_) => return fatal("building the run panicked".into()),
            };
            match trainer.info() {
                Ok(info) => {
                    let _ = event_tx.try_send(Event::Ready(info));
                    waker();
                }
                Err(e) => return fatal(format!("could not describe the run: {e}")),
            }
            let mut worker = Worker {
                trainer,
                commands: command_rx,
                events: event_tx,
                waker,
                pending: Vec::new(),
                outbox: VecDeque::new(),
                playing: false,
                steps_left: 0,
                eval_every: 0,
                pending_embeds: Vec::new(),
            };
            worker.eval_every = worker.trainer.config().eval_every;
            let step = worker.trainer.step_count();
            if catch_unwind(AssertUnwindSafe(|| worker.run())).is_err() {
                // The loop itself panicked (not a step: those are caught inside).
                let _ = worker.events.try_send(Event::Error {
                    step,
                    message: "the trainer thread panicked; this run has stopped".into(),
                    fatal: true,
                });
                (worker.waker)();
            }
        })?;
    Ok(TrainerHandle {
        commands: command_tx,
        events: event_rx,
    })
}

struct Worker {
    trainer: Trainer,
    commands: Receiver<Command>,
    events: Sender<Event>,
    waker: Waker,
    pending: Vec<StepMetrics>,
    outbox: VecDeque<Event>,
    playing: bool,
    steps_left: u64,
    eval_every: u64,
    /// Embedding requests waiting for their step.
    pending_embeds: Vec<crate::eval::EmbeddingRequest>,
}

impl Worker {
    fn busy(&self) -> bool {
        self.playing || self.steps_left > 0
    }

    fn run(&mut self) {
        loop {
            // Take every waiting command; block only while idle (with a timeout, so buffered
            // events still get out to a consumer that was away).
            loop {
                let command = if self.busy() {
                    match self.commands.try_recv() {
                        Ok(c) => c,
                        Err(crossbeam_channel::TryRecvError::Empty) => break,
                        Err(crossbeam_channel::TryRecvError::Disconnected) => return,
                    }
                } else {
                    match self.commands.recv_timeout(Duration::from_millis(50)) {
                        Ok(c) => c,
                        Err(RecvTimeoutError::Timeout) => {
                            self.flush();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                };
                if !self.handle(command) {
                    self.flush();
                    return;
                }
            }
            if self.busy() {
                self.train_one();
            }
            self.flush();
        }
    }

    /// Returns false when the thread should end.
    fn handle(&mut self, command: Command) -> bool {
        let step = self.trainer.step_count();
        match command {
            Command::Play => {
                self.playing = true;
                self.emit(Event::Playing { step });
            }
            Command::Pause => {
                self.playing = false;
                self.steps_left = 0;
                self.emit(Event::Paused {
                    step,
                    reason: "paused".into(),
                });
            }
            Command::Step(n) => {
                self.playing = false;
                self.steps_left = n;
            }
            Command::SetStrategy(strategy) => match self.trainer.set_strategy(strategy) {
                Ok(()) => self.emit(Event::StrategyChanged {
                    step: step + 1,
                    strategy: self.trainer.strategy().label(),
                }),
                Err(e) => self.error(e.to_string(), false),
            },
            Command::SetLearningRates(rates) => match self.trainer.set_rates(rates) {
                Ok(()) => self.emit(Event::LearningRatesChanged {
                    step: step + 1,
                    rates,
                }),
                Err(e) => self.error(e.to_string(), false),
            },
            Command::Perturb(change) => {
                self.trainer.perturb(change);
                self.emit(Event::Perturbed {
                    step: step + 1,
                    task: change.task,
                    perturbation: change.perturbation,
                });
            }
            Command::Evaluate => self.evaluate(),
            Command::SetEvalEvery(n) => self.eval_every = n,
            Command::SaveCheckpoint(path) => match self.trainer.save_checkpoint(&path) {
                Ok(()) => self.emit(Event::CheckpointSaved(path)),
                Err(e) => self.error(e.to_string(), false),
            },
            Command::LoadCheckpoint(path) => match self.trainer.load_checkpoint(&path) {
                Ok(()) => self.emit(Event::CheckpointLoaded(path)),
                Err(e) => self.error(e.to_string(), false),
            },
            Command::Snapshot => match self.trainer.snapshot() {
                Ok(s) => self.emit(Event::Snapshot(Box::new(s))),
                Err(e) => self.error(e.to_string(), false),
            },
            Command::Restore(snapshot) => match self.trainer.restore(&snapshot) {
                Ok(()) => {
                    self.pending.clear();
                    self.emit(Event::Restored {
                        step: snapshot.step,
                    });
                }
                Err(e) => self.error(e.to_string(), false),
            },
            Command::Embed(request) => {
                if request.at_step.is_some_and(|s| s > step) {
                    self.pending_embeds.push(request);
                } else {
                    self.embed(&request);
                }
            }
            Command::Stop => {
                self.emit(Event::Finished { step });
                return false;
            }
        }
        true
    }

    fn train_one(&mut self) {
        let result = catch_unwind(AssertUnwindSafe(|| self.trainer.step()));
        match result {
            Ok(Ok(metrics)) => {
                let step = metrics.step;
                self.pending.push(metrics);
                if self.pending.len() > MAX_PENDING_ROWS {
                    coalesce(&mut self.pending);
                }
                if self.steps_left > 0 {
                    self.steps_left -= 1;
                    if self.steps_left == 0 && !self.playing {
                        self.emit(Event::Paused {
                            step,
                            reason: "stepped".into(),
                        });
                    }
                }
                let max = self.trainer.config().max_steps;
                if max > 0 && step >= max && self.busy() {
                    self.playing = false;
                    self.steps_left = 0;
                    self.emit(Event::Paused {
                        step,
                        reason: format!("reached {max} steps"),
                    });
                }
                if self.eval_every > 0 && step % self.eval_every == 0 {
                    self.evaluate();
                }
                let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_embeds)
                    .into_iter()
                    .partition(|r| r.at_step.is_none_or(|s| s <= step));
                self.pending_embeds = waiting;
                for request in due {
                    self.embed(&request);
                }
            }
            Ok(Err(e)) => {
                self.playing = false;
                self.steps_left = 0;
                self.error(e.to_string(), false);
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                self.playing = false;
                self.steps_left = 0;
                self.error(format!("the training step panicked: {what}"), true);
            }
        }
    }

    fn embed(&mut self, request: &crate::eval::EmbeddingRequest) {
        match self.trainer.embed(request) {
            Ok(e) => self.emit(Event::Embedded(Box::new(e))),
            Err(e) => self.error(e.to_string(), false),
        }
    }

    fn evaluate(&mut self) {
        match self.trainer.evaluate() {
            Ok(report) => self.emit(Event::Evaluated(Box::new(report))),
            Err(e) => self.error(format!("evaluation: {e}"), false),
        }
    }

    fn error(&mut self, message: String, fatal: bool) {
        self.emit(Event::Error {
            step: self.trainer.step_count(),
            message,
            fatal,
        });
    }

    fn emit(&mut self, event: Event) {
        // Order matters to the consumer: rows taken before this event go first.
        if !self.pending.is_empty() {
            self.outbox
                .push_back(Event::Metrics(std::mem::take(&mut self.pending)));
        }
        self.outbox.push_back(event);
        while self.outbox.len() > OUTBOX_LIMIT {
            // Drop the oldest bulky, replaceable event; keep errors, markers and rows.
            let drop_at = self.outbox.iter().position(|e| {
                matches!(
                    e,
                    Event::Evaluated(_) | Event::Embedded(_) | Event::Snapshot(_)
                )
            });
            match drop_at {
                Some(i) => {
                    self.outbox.remove(i);
                }
                None => break,
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        let mut sent = false;
        while let Some(event) = self.outbox.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => sent = true,
                Err(TrySendError::Full(event)) | Err(TrySendError::Disconnected(event)) => {
                    self.outbox.push_front(event);
                    break;
                }
            }
        }
        if self.outbox.is_empty() && !self.pending.is_empty() {
            let rows = std::mem::take(&mut self.pending);
            match self.events.try_send(Event::Metrics(rows)) {
                Ok(()) => sent = true,
                Err(TrySendError::Full(Event::Metrics(rows)))
                | Err(TrySendError::Disconnected(Event::Metrics(rows))) => self.pending = rows,
                Err(_) => {}
            }
        }
        if sent {
            (self.waker)();
        }
    }
}

/// Halve the number of rows by averaging neighbours (a row then stands for several steps).
pub fn coalesce(rows: &mut Vec<StepMetrics>) {
    let mut out = Vec::with_capacity(rows.len() / 2 + 1);
    let mut iter = rows.drain(..);
    while let Some(a) = iter.next() {
        match iter.next() {
            Some(b) => {
                let (na, nb) = (a.coalesced_steps as f32, b.coalesced_steps as f32);
                let mix = |x: f32, y: f32| (x * na + y * nb) / (na + nb);
                out.push(StepMetrics {
                    weights: std::array::from_fn(|i| mix(a.weights[i], b.weights[i])),
                    losses: std::array::from_fn(|i| mix(a.losses[i], b.losses[i])),
                    coalesced_steps: a.coalesced_steps + b.coalesced_steps,
                    ..b
                });
            }
            None => out.push(a),
        }
    }
    drop(iter);
    *rows = out;
}
