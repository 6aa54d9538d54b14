//! Training: the trainer (owns the model and optimisers, takes one step at a time), its losses,
//! optimisers and the step metrics it reports. Synchronous: `session` runs it on a thread.

pub mod checkpoint;
pub mod config;
pub mod losses;
pub mod metrics;
pub mod optim;
pub mod recipe;
pub mod run_folder;
pub mod snapshot;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{TrainError, Trainer};
