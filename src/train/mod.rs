//! Training: the trainer (owns the model and optimisers), its background thread, losses and
//! optimisers.

pub mod config;
pub mod losses;
pub mod optim;
pub mod snapshot;
pub mod trainer;
pub mod worker;

pub use config::TrainConfig;
pub use trainer::{TrainError, Trainer};
