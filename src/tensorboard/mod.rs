//! TensorBoard files written by hand: scalar event files (the Scalars tab) and the embedding
//! projector's folder (tensors, metadata, sprite, config).
//!
//! No crate does this for us with our own wall times, so the few formats involved (TFRecord
//! framing, three protobuf messages, the projector's TSV and text config) are written here
//! byte by byte and checked against TensorBoard's own reader (`bench/tensorboard_check.py`).
//! Every file goes through [`crate::atomic_file`], so a crash never leaves a half-written one
//! for TensorBoard to choke on. A leaf: imports only `atomic_file`.

pub mod error;
pub mod events;
pub mod projector;

pub use error::TensorBoardError;
pub use events::{DecodedEvent, ScalarEvent, decode_event, read_records, write_event_file};
pub use projector::{ProjectorInput, Thumbnails, write_projector};
