//! Training: the trainer (owns the model and optimisers, takes one step at a time), its losses,
//! optimisers and the step metrics it reports; the one training loop (`schedule`) that every
//! driver runs it through, a headless run into its folder (`headless`), and a sweep of runs
//! read back (`sweep`: `compare`'s folders, for `compare --collect` and the window). Synchronous:
//! `session` runs it on a thread.

pub mod checkpoint;
pub mod config;
pub mod headless;
pub mod hold;
pub mod lens;
pub mod losses;
pub mod metrics;
pub mod optim;
pub mod recipe;
pub mod run_folder;
pub mod schedule;
pub mod snapshot;
pub mod sweep;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{TrainError, Trainer};
