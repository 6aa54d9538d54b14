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
                let result = config
                    .load_dataset(&progress)
                    .map(Arc::new)
                    .map_err(|e| e.to_string());
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
        for m in messages.try_iter() {
            match m {
                DatasetMessage::Progress(f) => *fraction = f,
                DatasetMessage::Done(r) => done = Some(r),
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
