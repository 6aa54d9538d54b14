//! The trainer's background thread: commands in, events out, both over bounded channels.
//!
//! Neither side ever blocks on the other. The driver's sends go through [`TrainerHandle::send`],
//! which parks what a full channel cannot take and retries it later, newest setting winning.
//! The thread keeps its events in an [`Outbox`] that is flushed with `try_send`: step rows
//! merge pairwise past [`MAX_PENDING_ROWS`], and bulky events shed their heavy parts past
//! [`OUTBOX_LIMIT`], so an absent consumer costs bounded memory and loses no step and no
//! evaluation figure. A panic inside a step becomes a fatal `Event::Error`, and the run then
//! refuses to train.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use super::budget::{Seat, SizedPool, ThreadBudget};
use super::messages::{Applied, Command, Event, PauseReason};
use crate::eval::{EmbeddingRequest, Embeddings, EvalReport};
use crate::train::metrics::{StepMetrics, coalesce};
use crate::train::schedule::{Advanced, LoopError, Schedule, Sink, advance};
use crate::train::{TrainError, Trainer};

/// Step rows kept while the consumer is away before neighbours are merged.
pub const MAX_PENDING_ROWS: usize = 4096;
/// Events (other than rows) kept while the consumer is away before bulky ones are thinned.
pub const OUTBOX_LIMIT: usize = 64;
const CHANNEL_CAPACITY: usize = 64;
/// How long an idle trainer waits for a command before flushing its outbox again.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Called after events are sent, e.g. `egui::Context::request_repaint`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What became of a command handed to [`TrainerHandle::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// It is in the channel.
    Delivered,
    /// The channel was full: it waits in the handle's backlog for [`TrainerHandle::retry`].
    Queued,
    /// The trainer thread has ended.
    Gone,
}

/// The driver's end of a trainer thread.
pub struct TrainerHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    /// Commands a full channel could not take, oldest first.
    backlog: VecDeque<Command>,
}

impl TrainerHandle {
    /// Hand a command to the trainer without ever blocking.
    pub fn send(&mut self, command: Command) -> Sent {
        if !self.retry() {
            return Sent::Gone;
        }
        if !self.backlog.is_empty() {
            park(&mut self.backlog, command);
            return Sent::Queued;
        }
        match self.commands.try_send(command) {
            Ok(()) => Sent::Delivered,
            Err(TrySendError::Full(command)) => {
                park(&mut self.backlog, command);
                Sent::Queued
            }
            Err(TrySendError::Disconnected(_)) => Sent::Gone,
        }
    }

    /// Move parked commands into the channel while it has room; false when the thread has ended.
    pub fn retry(&mut self) -> bool {
        while let Some(command) = self.backlog.pop_front() {
            match self.commands.try_send(command) {
                Ok(()) => {}
                Err(TrySendError::Full(command)) => {
                    self.backlog.push_front(command);
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        true
    }

    /// Commands waiting for room in the channel.
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// Every event waiting now (never blocks).
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }
}

/// Park a command; a newer value of the same setting replaces the parked one.
fn park(backlog: &mut VecDeque<Command>, command: Command) {
    if let Some(old) = backlog.iter_mut().find(|old| command.supersedes(old)) {
        *old = command;
    } else {
        backlog.push_back(command);
    }
}

impl Drop for TrainerHandle {
    fn drop(&mut self) {
        // Ask the thread to end; it notices within one step. We do not join: a window must
        // never wait for a step to finish.
        let _ = self.commands.try_send(Command::Stop);
    }
}

/// Start the trainer of `config` on a thread named `name`: the one place a trainer thread is
/// built (the window's run slots, `bench --ab`). The device is chosen and the model built on
/// that thread, so a window never waits for it; a failure arrives as a fatal `Event::Error`.
pub fn spawn_trainer(
    name: &str,
    config: crate::train::TrainConfig,
    dataset: Arc<crate::data::Dataset>,
    waker: Waker,
    budget: &ThreadBudget,
) -> std::io::Result<TrainerHandle> {
    let build = move || {
        let device =
            crate::train::trainer::select_device(&config.device).map_err(TrainError::Data)?;
        Trainer::new(config, dataset, &device)
    };
    spawn(name, build, waker, budget)
}

/// Start a named trainer thread. `build` runs on that thread (model building can take a while
/// and must not hold up the window); its error, or its panic, arrives as a fatal `Event::Error`.
/// The run trains on its share of `budget`.
pub fn spawn<F>(
    name: &str,
    build: F,
    waker: Waker,
    budget: &ThreadBudget,
) -> std::io::Result<TrainerHandle>
where
    F: FnOnce() -> Result<Trainer, TrainError> + Send + 'static,
{
    let (command_tx, command_rx) = bounded(CHANNEL_CAPACITY);
    let (event_tx, event_rx) = bounded(CHANNEL_CAPACITY);
    let seat = budget.seat();
    let pool = SizedPool::new(name);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let mut worker = Worker {
                trainer: None,
                commands: command_rx,
                outbox: Outbox::new(event_tx, waker),
                seat,
                pool,
                playing: false,
                steps_left: 0,
                schedule: Schedule::default(),
            };
            worker.start(build);
        })?;
    Ok(TrainerHandle {
        commands: command_tx,
        events: event_rx,
        backlog: VecDeque::new(),
    })
}

struct Worker {
    /// None when the run could not be built, or after a step panicked: it refuses to train.
    trainer: Option<Trainer>,
    commands: Receiver<Command>,
    outbox: Outbox,
    /// This run's place in the thread budget, and the pool sized to its share.
    seat: Seat,
    pool: SizedPool,
    playing: bool,
    steps_left: u64,
    /// When the run evaluates, embeds and ends: the same loop as `train`'s.
    schedule: Schedule,
}

impl Worker {
    fn start<F>(&mut self, build: F)
    where
        F: FnOnce() -> Result<Trainer, TrainError>,
    {
        match catch_unwind(AssertUnwindSafe(build)) {
            Ok(Ok(trainer)) => self.ready(trainer),
            Ok(Err(e)) => self.fatal(format!("could not build the run: {e}")),
            Err(panic) => self.fatal(format!("building the run panicked: {}", panic_text(&panic))),
        }
        if catch_unwind(AssertUnwindSafe(|| self.run())).is_err() {
            // The loop itself panicked (steps are caught inside it).
            self.trainer = None;
            self.fatal("the trainer thread panicked; this run has stopped".into());
            self.outbox.flush();
        }
    }

    fn ready(&mut self, trainer: Trainer) {
        self.schedule = Schedule::of(trainer.config());
        match trainer.info() {
            Ok(info) => {
                self.trainer = Some(trainer);
                let applied = self.applied();
                self.emit(Event::Ready { info, applied });
            }
            Err(e) => self.fatal(format!("could not describe the run: {e}")),
        }
    }

    fn step_count(&self) -> u64 {
        self.trainer.as_ref().map_or(0, Trainer::step_count)
    }

    fn applied(&self) -> Applied {
        let trainer = self.trainer.as_ref();
        Applied {
            strategy: trainer.map(|t| t.strategy().clone()).unwrap_or_default(),
            rates: trainer.map(|t| t.config().rates).unwrap_or_default(),
            eval_every: self.schedule.eval_every,
            gradients: trainer.map(gradients_of).unwrap_or_default(),
        }
    }

    fn busy(&self) -> bool {
        self.trainer.is_some() && (self.playing || self.steps_left > 0)
    }

    fn run(&mut self) {
        loop {
            let Some(commands) = self.next_commands() else {
                return;
            };
            for command in commands {
                if !self.handle(command) {
                    self.outbox.flush();
                    return;
                }
            }
            self.seat.set_active(self.busy());
            if self.busy() {
                self.train_one();
            }
            self.outbox.flush();
        }
    }

    /// Run `work` on the trainer, on this run's share of the cores.
    fn on_share<R: Send>(&mut self, work: impl FnOnce(&mut Trainer) -> R + Send) -> Option<R> {
        let trainer = self.trainer.as_mut()?;
        let threads = self.seat.threads();
        Some(self.pool.install(threads, || work(trainer)))
    }

    /// Every waiting command, newest setting winning; blocks (briefly) only while idle. None
    /// when the driver has gone.
    fn next_commands(&mut self) -> Option<Vec<Command>> {
        let mut commands = Vec::new();
        if !self.busy() {
            loop {
                match self.commands.recv_timeout(IDLE_POLL) {
                    Ok(command) => {
                        commands.push(command);
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => self.outbox.flush(),
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            }
        }
        loop {
            match self.commands.try_recv() {
                Ok(command) => commands.push(command),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) if commands.is_empty() => return None,
                Err(TryRecvError::Disconnected) => break,
            }
        }
        Some(keep_newest_settings(commands))
    }

    /// Returns false when the thread should end.
    fn handle(&mut self, command: Command) -> bool {
        let step = self.step_count();
        if let Command::Stop = command {
            self.emit(Event::Finished { step });
            return false;
        }
        if self.trainer.is_none() {
            if matches!(command, Command::Play | Command::Step(_)) {
                self.error(
                    "this run has failed and cannot train; press Reset".into(),
                    true,
                );
            }
            return true;
        }
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
                    reason: PauseReason::User,
                });
            }
            Command::Step(n) => {
                self.playing = false;
                self.steps_left = n;
            }
            Command::SetEvalEvery(n) => self.schedule.eval_every = n,
            Command::Evaluate => self.evaluate(),
            Command::Embed(request) => {
                if request.at_step.is_some_and(|s| s > step) {
                    self.schedule.embed(request);
                } else {
                    self.embed(&request);
                }
            }
            other => self.change(other, step),
        }
        true
    }

    /// Commands that change the trainer's state.
    fn change(&mut self, command: Command, step: u64) {
        let Some(trainer) = self.trainer.as_mut() else {
            return;
        };
        let outcome = match command {
            Command::SetStrategy(strategy) => {
                trainer
                    .set_strategy(strategy)
                    .map(|()| Event::StrategyChanged {
                        step: step + 1,
                        applied: trainer.strategy().clone(),
                    })
            }
            Command::SetLearningRates(rates) => {
                trainer
                    .set_rates(rates)
                    .map(|()| Event::LearningRatesChanged {
                        step: step + 1,
                        applied: trainer.config().rates,
                    })
            }
            Command::SetGradients(gradients) => {
                trainer.set_gradients(gradients.grad_space, gradients.lens);
                Ok(Event::GradientsChanged {
                    step: step + 1,
                    applied: gradients,
                })
            }
            Command::SetWeightsReachTrunk(reach) => {
                trainer.set_weights_reach_trunk(reach);
                Ok(Event::WeightsReachTrunkChanged {
                    step: step + 1,
                    reach,
                })
            }
            Command::Perturb(change) => {
                trainer.perturb(change);
                Ok(Event::Perturbed {
                    step: step + 1,
                    change,
                })
            }
            Command::Hold { task, value } => {
                trainer.hold(task, value).map(|()| Event::HoldChanged {
                    step: step + 1,
                    task,
                    value,
                })
            }
            Command::SaveCheckpoint(path) => trainer
                .save_checkpoint(&path)
                .map(|()| Event::CheckpointSaved(path)),
            Command::LoadCheckpoint(path) => trainer
                .load_checkpoint(&path)
                .map(|()| Event::CheckpointLoaded(path)),
            Command::ContinueFrom {
                checkpoint,
                step,
                wall_secs,
            } => trainer
                .continue_from(&checkpoint, step, wall_secs)
                .map(|()| Event::Continued { step, checkpoint }),
            Command::Snapshot => trainer.snapshot().map(|s| Event::Snapshot(Box::new(s))),
            Command::Restore(snapshot) => trainer.restore(&snapshot).map(|()| Event::Restored {
                step: snapshot.step,
                applied: Applied {
                    strategy: trainer.strategy().clone(),
                    rates: trainer.config().rates,
                    eval_every: self.schedule.eval_every,
                    gradients: gradients_of(trainer),
                },
            }),
            _ => return,
        };
        match outcome {
            Ok(event) => {
                if let Event::Restored { .. } = event {
                    self.outbox.discard_rows();
                }
                self.emit(event);
            }
            Err(e) => {
                let kept = self.applied();
                self.emit(Event::Rejected {
                    step,
                    reason: e.to_string(),
                    kept,
                });
            }
        }
    }

    /// One turn of the training loop, on this run's share of the cores.
    fn train_one(&mut self) {
        let Some(trainer) = self.trainer.as_mut() else {
            return;
        };
        let threads = self.seat.threads();
        let (pool, schedule) = (&mut self.pool, &mut self.schedule);
        let mut sink = EventSink::default();
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.install(threads, || advance(trainer, schedule, &mut sink))
        }));
        for event in sink.events {
            self.outbox.push(event);
        }
        match result {
            Ok(Ok(advanced)) => self.after_step(advanced),
            Ok(Err(LoopError::Step(e))) => {
                self.stop_training();
                self.error(e.to_string(), false);
                let step = self.step_count();
                self.emit(Event::Paused {
                    step,
                    reason: PauseReason::Error,
                });
            }
            Ok(Err(LoopError::Sink(never))) => match never {},
            Err(panic) => {
                // A panic may have left the model half-updated: this run trains no more.
                self.stop_training();
                self.trainer = None;
                self.error(
                    format!("the training step panicked: {}", panic_text(&panic)),
                    true,
                );
            }
        }
    }

    fn stop_training(&mut self) {
        self.playing = false;
        self.steps_left = 0;
    }

    /// What a step means for Play and Step: a Step command counts down, and the schedule's
    /// end pauses the run.
    fn after_step(&mut self, advanced: Advanced) {
        let step = advanced.step;
        if self.steps_left > 0 {
            self.steps_left -= 1;
            if self.steps_left == 0 && !self.playing {
                self.emit(Event::Paused {
                    step,
                    reason: PauseReason::Stepped,
                });
            }
        }
        if advanced.reached_end && self.busy() {
            self.stop_training();
            self.emit(Event::Paused {
                step,
                reason: PauseReason::ReachedMaxSteps(self.schedule.max_steps),
            });
        }
    }

    fn embed(&mut self, request: &EmbeddingRequest) {
        match self.on_share(|t| t.embed(request)) {
            Some(Ok(e)) => self.emit(Event::Embedded(Box::new(e))),
            Some(Err(e)) => self.error(e.to_string(), false),
            None => {}
        }
    }

    fn evaluate(&mut self) {
        let step = self.step_count();
        match self.on_share(|t| t.evaluate()) {
            Some(Ok(report)) => self.emit(Event::Evaluated(Box::new(report))),
            Some(Err(e)) => self.emit(evaluation_error(step, &e)),
            None => {}
        }
    }

    fn fatal(&mut self, message: String) {
        self.error(message, true);
    }

    fn error(&mut self, message: String, fatal: bool) {
        let step = self.step_count();
        self.emit(Event::Error {
            step,
            message,
            fatal,
        });
    }

    fn emit(&mut self, event: Event) {
        self.outbox.push(event);
        self.outbox.flush();
    }
}

/// Where a trainer takes the tasks' gradients now.
fn gradients_of(trainer: &Trainer) -> super::messages::Gradients {
    super::messages::Gradients {
        grad_space: trainer.config().grad_space,
        lens: trainer.config().lens,
    }
}

/// The loop's results as events, in the order they came (rows, evaluations, embeddings).
#[derive(Default)]
struct EventSink {
    events: Vec<Event>,
}

impl Sink for EventSink {
    type Error = std::convert::Infallible;

    fn row(&mut self, row: StepMetrics) -> Result<(), Self::Error> {
        self.events.push(Event::Metrics(vec![row]));
        Ok(())
    }

    fn evaluated(&mut self, report: Result<EvalReport, TrainError>) -> Result<(), Self::Error> {
        self.events.push(match report {
            Ok(report) => Event::Evaluated(Box::new(report)),
            Err(e) => evaluation_error(report_step(&self.events), &e),
        });
        Ok(())
    }

    fn embedded(&mut self, embeddings: Result<Embeddings, TrainError>) -> Result<(), Self::Error> {
        self.events.push(match embeddings {
            Ok(e) => Event::Embedded(Box::new(e)),
            Err(e) => Event::Error {
                step: report_step(&self.events),
                message: e.to_string(),
                fatal: false,
            },
        });
        Ok(())
    }
}

/// The step of the row this turn took (what an error in its evaluation is reported at).
fn report_step(events: &[Event]) -> u64 {
    events
        .iter()
        .find_map(|e| match e {
            Event::Metrics(rows) => rows.last().map(|r| r.step),
            _ => None,
        })
        .unwrap_or(0)
}

fn evaluation_error(step: u64, e: &TrainError) -> Event {
    Event::Error {
        step,
        message: format!("evaluation: {e}"),
        fatal: false,
    }
}

/// Keep only the newest of each superseded setting, at the place of the newest.
fn keep_newest_settings(commands: Vec<Command>) -> Vec<Command> {
    let mut kept: Vec<Command> = Vec::with_capacity(commands.len());
    for command in commands {
        kept.retain(|old| !command.supersedes(old));
        kept.push(command);
    }
    kept
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// Events on their way out, with the policy that bounds them while the consumer is away.
pub struct Outbox {
    sender: Sender<Event>,
    waker: Waker,
    /// Step rows not yet sent, oldest first.
    rows: Vec<StepMetrics>,
    /// Other events not yet sent, in order; rows taken before an event are queued before it.
    queued: VecDeque<Event>,
}

impl Outbox {
    pub fn new(sender: Sender<Event>, waker: Waker) -> Self {
        Outbox {
            sender,
            waker,
            rows: Vec::new(),
            queued: VecDeque::new(),
        }
    }

    pub fn push_row(&mut self, row: StepMetrics) {
        self.rows.push(row);
        if self.rows.len() > MAX_PENDING_ROWS {
            coalesce(&mut self.rows);
        }
    }

    /// Queue an event behind the rows taken before it.
    pub fn push(&mut self, event: Event) {
        if let Event::Metrics(rows) = event {
            for row in rows {
                self.push_row(row);
            }
            return;
        }
        self.queue_rows();
        self.queued.push_back(event);
        self.shed();
    }

    /// Forget rows not yet sent (a restored trainer's history starts anew).
    pub fn discard_rows(&mut self) {
        self.rows.clear();
    }

    /// Events waiting (rows count as one event).
    pub fn len(&self) -> usize {
        self.queued.len() + usize::from(!self.rows.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn queue_rows(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut self.rows);
        // Rows right behind rows merge into one event, so they are bounded as the rows are.
        if let Some(Event::Metrics(last)) = self.queued.back_mut() {
            last.extend(rows);
            if last.len() > MAX_PENDING_ROWS {
                coalesce(last);
            }
        } else {
            self.queued.push_back(Event::Metrics(rows));
        }
    }

    /// Past the limit: thin the oldest full evaluation to its figures (the curves keep every
    /// point), then drop the oldest embeddings or snapshots (they were asked for once and are
    /// superseded by newer ones). Rows, markers and errors are never dropped.
    fn shed(&mut self) {
        while self.queued.len() > OUTBOX_LIMIT {
            let thick = self
                .queued
                .iter()
                .position(|e| matches!(e, Event::Evaluated(r) if !r.is_thin()));
            if let Some(i) = thick {
                if let Event::Evaluated(report) = &mut self.queued[i] {
                    report.thin();
                }
                continue;
            }
            let droppable = self
                .queued
                .iter()
                .position(|e| matches!(e, Event::Embedded(_) | Event::Snapshot(_)));
            match droppable {
                Some(i) => {
                    self.queued.remove(i);
                }
                None => break,
            }
        }
    }

    /// Send what the channel takes; wake the consumer if anything went.
    pub fn flush(&mut self) {
        let mut sent = false;
        loop {
            if self.queued.is_empty() {
                self.queue_rows();
            }
            let Some(event) = self.queued.pop_front() else {
                break;
            };
            match self.sender.try_send(event) {
                Ok(()) => sent = true,
                Err(TrySendError::Full(event)) | Err(TrySendError::Disconnected(event)) => {
                    self.queued.push_front(event);
                    break;
                }
            }
        }
        if sent {
            (self.waker)();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Embeddings, EvalReport};
    use crate::train::config::LearningRates;

    fn row(step: u64, w0: f32, steps: u32) -> StepMetrics {
        StepMetrics {
            step,
            wall_secs: step as f64,
            strategy: "proposed".into(),
            weights: [w0, 0.5, 0.5 - w0],
            losses: [2.0 * w0, 1.0, 1.0],
            lr: 1e-3,
            coalesced_steps: steps,
            lens: None,
        }
    }

    fn outbox(capacity: usize) -> (Outbox, Receiver<Event>) {
        let (tx, rx) = bounded(capacity);
        (Outbox::new(tx, Arc::new(|| {})), rx)
    }

    fn report(step: u64) -> Box<EvalReport> {
        Box::new(EvalReport {
            step,
            pairs: vec![(0, 1, 0.5, true)],
            open_embeddings: Embeddings {
                values: vec![0.0; 64],
                samples: vec![0],
                dim: 64,
                ..Embeddings::default()
            },
            ..EvalReport::default()
        })
    }

    #[test]
    fn merged_rows_are_weighted_by_the_steps_they_stand_for() {
        // A row standing for 3 steps with w0 = 1.0 and one standing for 1 step with w0 = 0.2:
        // (3·1.0 + 1·0.2)/4 = 0.8; losses (3·2.0 + 1·0.4)/4 = 1.6; step and time of the later.
        let merged = crate::train::metrics::merge_rows(&row(3, 1.0, 3), row(4, 0.2, 1));
        assert!((merged.weights[0] - 0.8).abs() < 1e-6, "{merged:?}");
        assert!((merged.losses[0] - 1.6).abs() < 1e-6, "{merged:?}");
        assert_eq!((merged.step, merged.coalesced_steps), (4, 4));
        assert_eq!(merged.wall_secs, 4.0);
    }

    #[test]
    fn an_absent_consumer_keeps_every_step_in_bounded_rows() {
        let (mut out, rx) = outbox(1);
        let total = 3 * MAX_PENDING_ROWS as u64;
        for step in 1..=total {
            out.push_row(row(step, 0.25, 1));
            out.flush();
        }
        // The first row went out at once; the rest wait, merged but all accounted for.
        let first = match rx.try_recv() {
            Ok(Event::Metrics(rows)) => rows,
            other => panic!("{other:?}"),
        };
        assert!(out.rows.len() <= MAX_PENDING_ROWS);
        let queued: Vec<&StepMetrics> = out
            .queued
            .iter()
            .flat_map(|e| match e {
                Event::Metrics(rows) => rows.iter().collect(),
                _ => Vec::new(),
            })
            .collect();
        assert!(queued.len() <= MAX_PENDING_ROWS);
        let waiting: u64 = out
            .rows
            .iter()
            .chain(queued)
            .map(|r| r.coalesced_steps as u64)
            .sum();
        let sent: u64 = first.iter().map(|r| r.coalesced_steps as u64).sum();
        assert_eq!(waiting + sent, total);
        assert_eq!(out.rows.last().map(|r| r.step), Some(total));
    }

    #[test]
    fn events_follow_the_rows_taken_before_them() {
        let (mut out, rx) = outbox(16);
        for step in 1..=3 {
            out.push_row(row(step, 0.3, 1));
        }
        out.push(Event::Paused {
            step: 3,
            reason: PauseReason::Stepped,
        });
        out.push_row(row(4, 0.3, 1));
        out.push(Event::Finished { step: 4 });
        out.flush();
        let order: Vec<String> = rx
            .try_iter()
            .map(|e| match e {
                Event::Metrics(rows) => {
                    format!("rows {:?}", rows.iter().map(|r| r.step).collect::<Vec<_>>())
                }
                Event::Paused { .. } => "paused".into(),
                Event::Finished { .. } => "finished".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(order, ["rows [1, 2, 3]", "paused", "rows [4]", "finished"]);
    }

    #[test]
    fn past_the_limit_evaluations_are_thinned_and_embeddings_dropped_never_markers() {
        let (mut out, rx) = outbox(1);
        out.push(Event::Finished { step: 0 }); // fills the channel: nobody reads
        out.flush();
        for i in 0..OUTBOX_LIMIT as u64 {
            out.push(Event::Evaluated(report(i)));
            out.push(Event::Embedded(Box::default()));
            out.push(Event::Perturbed {
                step: i,
                change: crate::train::config::TaskPerturbation {
                    task: crate::task::Task::Cari,
                    perturbation: crate::train::config::Perturbation::Noise,
                },
            });
        }
        let count = |f: fn(&Event) -> bool| out.queued.iter().filter(|e| f(e)).count();
        assert_eq!(
            count(|e| matches!(e, Event::Perturbed { .. })),
            OUTBOX_LIMIT,
            "markers kept"
        );
        assert_eq!(
            count(|e| matches!(e, Event::Evaluated(_))),
            OUTBOX_LIMIT,
            "every figure kept"
        );
        assert_eq!(
            count(|e| matches!(e, Event::Embedded(_))),
            0,
            "embeddings dropped first"
        );
        let thick = out
            .queued
            .iter()
            .filter(|e| matches!(e, Event::Evaluated(r) if !r.is_thin()))
            .count();
        assert_eq!(thick, 0);
        // Once the consumer reads again, everything left arrives in order.
        let mut steps = Vec::new();
        while !out.is_empty() {
            out.flush();
            for e in rx.try_iter() {
                if let Event::Evaluated(r) = e {
                    steps.push(r.step);
                }
            }
        }
        assert_eq!(steps, (0..OUTBOX_LIMIT as u64).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_channel_parks_commands_and_the_newest_setting_wins() {
        let (tx, commands) = bounded(1);
        let (_events_tx, events) = bounded(1);
        let mut handle = TrainerHandle {
            commands: tx,
            events,
            backlog: VecDeque::new(),
        };
        let rates = |lr| LearningRates { lr, psi_lr: 1e-2 };
        assert_eq!(handle.send(Command::Play), Sent::Delivered);
        for lr in [1e-3, 2e-3, 3e-3] {
            assert_eq!(
                handle.send(Command::SetLearningRates(rates(lr))),
                Sent::Queued
            );
        }
        assert_eq!(handle.send(Command::Evaluate), Sent::Queued);
        assert_eq!(handle.backlog_len(), 2, "three slider values park as one");
        assert!(matches!(commands.try_recv(), Ok(Command::Play)));
        assert!(handle.retry());
        match commands.try_recv() {
            Ok(Command::SetLearningRates(r)) => assert_eq!(r.lr, 3e-3),
            other => panic!("{other:?}"),
        }
        assert!(handle.retry());
        assert!(matches!(commands.try_recv(), Ok(Command::Evaluate)));
        drop(commands);
        assert_eq!(handle.send(Command::Play), Sent::Gone);
    }

    #[test]
    fn the_trainer_applies_only_the_newest_of_each_setting() {
        let rates = |lr| Command::SetLearningRates(LearningRates { lr, psi_lr: 1e-2 });
        let kept = keep_newest_settings(vec![
            rates(1e-3),
            Command::Step(2),
            rates(2e-3),
            Command::SetEvalEvery(5),
            Command::SetEvalEvery(7),
        ]);
        let text: Vec<String> = kept.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with("Step(2)"));
        assert!(text[1].contains("0.002"));
        assert_eq!(text[2], "SetEvalEvery(7)");
    }
}
