//! The window's dataset: made on a named thread, with its progress, and what came of it.

use crossbeam_channel::{Receiver, bounded};
use std::sync::Arc;

use crate::data::Dataset;
use crate::session::Waker;
use crate::train::config::TrainConfig;

pub enum DatasetMessage {
    Progress(f32),
    Done(Result<Arc<Dataset>, String>),
}

pub enum DatasetState {
    Loading {
        messages: Receiver<DatasetMessage>,
        fraction: f32,
    },
    Ready(Arc<Dataset>),
    Failed(String),
}

impl DatasetState {
    /// Make the dataset of `config` on a named thread.
    pub fn start(config: TrainConfig, waker: Option<Waker>) -> DatasetState {
        let (tx, rx) = bounded::<DatasetMessage>(256);
        let spawned = std::thread::Builder::new()
            .name("dataset".into())
            .spawn(move || {
                let wake = || {
                    if let Some(w) = &waker {
                        w();
                    }
                };
                let progress = |f: f32| {
                    let _ = tx.try_send(DatasetMessage::Progress(f));
                    wake();
                };
                // A panic must reach the window as an error, not leave it waiting forever.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    config.load_dataset(&progress)
                }));
                let result = match result {
                    Ok(loaded) => loaded.map(Arc::new).map_err(|e| e.to_string()),
                    Err(_) => Err("making the dataset panicked (a bug: please report it)".into()),
                };
                let _ = tx.send(DatasetMessage::Done(result));
                wake();
            });
        match spawned {
            Ok(_) => DatasetState::Loading {
                messages: rx,
                fraction: 0.0,
            },
            Err(e) => DatasetState::Failed(format!("could not start the dataset thread: {e}")),
        }
    }

    /// Take the thread's messages; the dataset when it has just become ready.
    pub fn poll(&mut self) -> Option<Arc<Dataset>> {
        let DatasetState::Loading { messages, fraction } = self else {
            return None;
        };
        let mut done = None;
        loop {
            match messages.try_recv() {
                Ok(DatasetMessage::Progress(f)) => *fraction = f,
                Ok(DatasetMessage::Done(r)) => done = Some(r),
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    // The thread ended without a result.
                    done.get_or_insert(Err("the dataset thread stopped without a result".into()));
                    break;
                }
            }
        }
        match done? {
            Ok(d) => {
                *self = DatasetState::Ready(d.clone());
                Some(d)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dataset_thread_that_dies_without_a_result_is_reported() {
        let (tx, rx) = bounded::<DatasetMessage>(4);
        let mut state = DatasetState::Loading {
            messages: rx,
            fraction: 0.0,
        };
        tx.send(DatasetMessage::Progress(0.5)).unwrap();
        assert!(state.poll().is_none());
        assert!(matches!(state, DatasetState::Loading { fraction, .. } if fraction == 0.5));
        drop(tx); // the thread ended (a panic, say) and sent nothing more
        assert!(state.poll().is_none());
        assert!(
            matches!(&state, DatasetState::Failed(m) if m.contains("without a result")),
            "the window must not wait forever"
        );
    }
}
