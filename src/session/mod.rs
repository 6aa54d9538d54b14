//! The link between a window (or any driver) and trainer threads: typed commands in, typed
//! events out, over bounded channels that neither side ever blocks on.

pub mod budget;
pub mod messages;
pub mod worker;

pub use budget::ThreadBudget;
pub use messages::{Applied, Command, Event, Gradients, PauseReason};
pub use worker::{Sent, TrainerHandle, Waker, spawn, spawn_trainer};
