//! The window's dataset: made on a named thread, with its progress (files decoded of how
//! many), a Cancel that goes back to the dataset before, and what came of it.

use crossbeam_channel::{Receiver, bounded};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use crate::data::Dataset;
use crate::data::dataset::LoadMonitor;
use crate::data::synthetic::SyntheticConfig;
use crate::model::Preset;
use crate::session::Waker;
use crate::train::config::TrainConfig;

/// What the loading thread shares with the window: written there, read each frame here.
#[derive(Default)]
pub struct LoadProgress {
    fraction_bits: AtomicU32,
    files_done: AtomicUsize,
    files_total: AtomicUsize,
    cancel_requested: AtomicBool,
    waker: Option<Waker>,
}

impl LoadProgress {
    fn new(waker: Option<Waker>) -> LoadProgress {
        LoadProgress {
            waker,
            ..LoadProgress::default()
        }
    }

    pub fn fraction_done(&self) -> f32 {
        f32::from_bits(self.fraction_bits.load(Ordering::Relaxed))
    }

    /// Files decoded so far and in all; None before a real load knows its file count
    /// (the synthetic faces are drawn, not read).
    pub fn files_decoded(&self) -> Option<(usize, usize)> {
        let total = self.files_total.load(Ordering::Relaxed);
        (total > 0).then(|| (self.files_done.load(Ordering::Relaxed), total))
    }

    /// Ask the load to stop; it ends as soon as the images being decoded are done.
    pub fn cancel(&self) {
        self.cancel_requested.store(true, Ordering::Relaxed);
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::Relaxed)
    }
}

impl LoadMonitor for LoadProgress {
    fn fraction(&self, fraction: f32) {
        self.fraction_bits
            .store(fraction.to_bits(), Ordering::Relaxed);
        if let Some(wake) = &self.waker {
            wake();
        }
    }

    fn files(&self, done: usize, total: usize) {
        self.files_total.store(total, Ordering::Relaxed);
        self.files_done.fetch_max(done, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.cancel_requested()
    }
}

/// What decides the window's dataset: which one, its fold, the seed, the preset (image size)
/// and the synthetic faces' sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct DataChoice {
    pub dataset: String,
    pub fold: Option<usize>,
    pub seed: u64,
    pub preset: Preset,
    pub synthetic: SyntheticConfig,
}

/// The dataset the window had before a load began, to go back to when the load is cancelled.
#[derive(Clone)]
pub struct Previous {
    /// What it was made from (restored on a Cancel).
    pub choice: DataChoice,
    pub dataset: Arc<Dataset>,
}

pub enum DatasetState {
    Loading {
        result: Receiver<Result<Arc<Dataset>, String>>,
        progress: Arc<LoadProgress>,
        /// What the window shows if this load is cancelled.
        previous: Option<Previous>,
    },
    Ready(Arc<Dataset>),
    Failed(String),
}

/// What became of a load, as [`DatasetState::poll`] tells the app.
pub enum LoadOutcome {
    Ready(Arc<Dataset>),
    /// Cancelled by the user: go back to `previous` when there was one.
    Cancelled(Option<Previous>),
}

impl DatasetState {
    /// Make the dataset of `config` on a named thread; `previous` is kept for a Cancel.
    pub fn start(
        config: TrainConfig,
        waker: Option<Waker>,
        previous: Option<Previous>,
    ) -> DatasetState {
        let (tx, rx) = bounded::<Result<Arc<Dataset>, String>>(1);
        let progress = Arc::new(LoadProgress::new(waker.clone()));
        let monitor = progress.clone();
        let spawned = std::thread::Builder::new()
            .name("dataset".into())
            .spawn(move || {
                // A panic must reach the window as an error, not leave it waiting forever.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    config.load_dataset(monitor.as_ref())
                }));
                let result = match result {
                    Ok(loaded) => loaded.map(Arc::new).map_err(|e| e.to_string()),
                    Err(_) => Err("making the dataset panicked (a bug: please report it)".into()),
                };
                let _ = tx.send(result);
                if let Some(wake) = &waker {
                    wake();
                }
            });
        match spawned {
            Ok(_) => DatasetState::Loading {
                result: rx,
                progress,
                previous,
            },
            Err(e) => DatasetState::Failed(format!("could not start the dataset thread: {e}")),
        }
    }

    /// Take the thread's result; what the app should do when the load has just ended.
    pub fn poll(&mut self) -> Option<LoadOutcome> {
        let DatasetState::Loading {
            result,
            progress,
            previous,
        } = self
        else {
            return None;
        };
        let done = match result.try_recv() {
            Ok(done) => done,
            Err(crossbeam_channel::TryRecvError::Empty) => return None,
            // The thread ended without a result.
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Err("the dataset thread stopped without a result".into())
            }
        };
        if progress.cancel_requested() {
            let previous = previous.take();
            *self = match &previous {
                Some(p) => DatasetState::Ready(p.dataset.clone()),
                None => DatasetState::Failed(
                    "loading was cancelled: open a dataset (Files, Open dataset…) or press Reset for the synthetic faces"
                        .into(),
                ),
            };
            return Some(LoadOutcome::Cancelled(previous));
        }
        match done {
            Ok(d) => {
                *self = DatasetState::Ready(d.clone());
                Some(LoadOutcome::Ready(d))
            }
            Err(e) => {
                *self = DatasetState::Failed(e);
                None
            }
        }
    }

    pub fn ready(&self) -> Option<&Arc<Dataset>> {
        match self {
            DatasetState::Ready(d) => Some(d),
            _ => None,
        }
    }

    /// The load in progress, if any.
    pub fn loading(&self) -> Option<&Arc<LoadProgress>> {
        match self {
            DatasetState::Loading { progress, .. } => Some(progress),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loading(
        previous: Option<Previous>,
    ) -> (
        DatasetState,
        crossbeam_channel::Sender<Result<Arc<Dataset>, String>>,
    ) {
        let (tx, rx) = bounded(1);
        let state = DatasetState::Loading {
            result: rx,
            progress: Arc::new(LoadProgress::default()),
            previous,
        };
        (state, tx)
    }

    #[test]
    fn a_dataset_thread_that_dies_without_a_result_is_reported() {
        let (mut state, tx) = loading(None);
        assert!(state.poll().is_none());
        assert!(state.loading().is_some());
        drop(tx); // the thread ended (a panic, say) and sent nothing more
        assert!(state.poll().is_none());
        assert!(
            matches!(&state, DatasetState::Failed(m) if m.contains("without a result")),
            "the window must not wait forever"
        );
    }

    #[test]
    fn a_cancelled_load_goes_back_to_the_dataset_before() {
        let before = Arc::new(Dataset {
            name: "synthetic".into(),
            ..Dataset::default()
        });
        let previous = Previous {
            choice: DataChoice {
                dataset: "synthetic".into(),
                fold: None,
                seed: 1,
                preset: Preset::Tiny,
                synthetic: SyntheticConfig::default(),
            },
            dataset: before.clone(),
        };
        let (mut state, tx) = loading(Some(previous));
        let progress = state.loading().cloned().unwrap();
        progress.cancel();
        tx.send(Err("cancelled".into())).unwrap();
        let outcome = state.poll();
        assert!(
            matches!(outcome, Some(LoadOutcome::Cancelled(Some(ref p))) if p.choice.dataset == "synthetic")
        );
        assert!(state.ready().is_some_and(|d| Arc::ptr_eq(d, &before)));
    }

    #[test]
    fn progress_counts_files_and_never_goes_back() {
        let progress = LoadProgress::default();
        assert_eq!(progress.files_decoded(), None);
        LoadMonitor::files(&progress, 3, 10);
        LoadMonitor::files(&progress, 2, 10); // a slower thread reports late
        LoadMonitor::fraction(&progress, 0.25);
        assert_eq!(progress.files_decoded(), Some((3, 10)));
        assert_eq!(progress.fraction_done(), 0.25);
        assert!(!LoadMonitor::cancelled(&progress));
        progress.cancel();
        assert!(LoadMonitor::cancelled(&progress));
    }
}
