//! TensorBoard files written by hand: scalar event files (the Scalars tab).
//!
//! No crate does this for us with our own wall times, so the formats involved (TFRecord
//! framing and three protobuf messages) are written here byte by byte and checked against
//! TensorBoard's own bytes. Every file goes through [`crate::atomic_file`], so a crash never
//! leaves a half-written one for TensorBoard to choke on. A leaf: imports only `atomic_file`.

pub mod error;
pub mod events;

pub use error::TensorBoardError;
pub use events::{DecodedEvent, ScalarEvent, decode_event, read_records, write_event_file};
