//! cari-mtl: a desktop lab for dynamic multi-task learning, after Ming, Burie & Luqman,
//! "Dynamic Deep Multi-task Learning for Caricature-Visual Face Recognition" (GREC 2019).
//!
//! Flow is one-way: `data` → `model` → `train` → `protocol` (typed commands and events) → `ui`.
//! The UI owns no tensors; the trainer knows nothing of egui.

pub mod cli;
pub mod data;
pub mod embed;
pub mod eval;
pub mod kernels;
pub mod model;
pub mod protocol;
pub mod toy;
pub mod train;
pub mod ui;
pub mod weighting;

/// Training allocates and frees tens of megabytes of activations and gradients per step; glibc
/// malloc hands such blocks back to the OS at once (mmap/munmap), so every step paid for fresh
/// zeroed pages again (about 40 % of the reference step). mimalloc keeps them for reuse.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
