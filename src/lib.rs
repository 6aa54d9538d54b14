//! cari-mtl: a desktop lab for dynamic multi-task learning, after Ming, Burie & Luqman,
//! "Dynamic Deep Multi-task Learning for Caricature-Visual Face Recognition" (GREC 2019).
//!
//! # Layers
//!
//! Each line imports only from the lines below it (checked by `tests/architecture.rs`):
//!
//! ```text
//! cli        the command line: `cari-mtl` opens the window, subcommands run headless
//! ui         the window's panels only: each a `View` drawn from the lab's state, pushing actions
//! lab        the window's state without egui: run slots, histories, settings, dataset loads,
//!            the projector's, toy's, landscape's and Sweep tab's state, lab codes; applies the
//!            panels' actions once per frame
//! session    window ↔ trainer threads: typed Commands in, Events out, bounded channels;
//!            `spawn_trainer` is the one place a trainer thread is built
//! train      Trainer (one run's model, optimisers, step), losses, optimisers, step metrics;
//!            `schedule`: the one training loop every driver runs; `headless`: a run into its folder;
//!            `lens` and `trainer/taskwise`: each task's own gradient; `hold`: held weights;
//!            `sweep`: a compare folder read (also while it grows), collected and paired
//! eval       Tables I–IV on held-out data, paired differences; embeddings for the projector
//! tsne       Barnes–Hut t-SNE and the thread that animates it
//! weighting  the weighting rules (one file each, one list naming them), their shared math
//!            (Gram matrix, combining gradients), the toy model and the two-task loss landscape
//! model      the network: presets, trunk, branches, Ψ
//! data       the synthetic faces, real-dataset loaders (data/real), batches
//! leaves     task (the three tasks), kernels (the hand-written CPU ops, their one GEMM, and
//!            the fast/portable choice every layer asks), atomic_file, seeded (one hash),
//!            tensorboard (event files and projector folders, written by hand)
//! ```
//!
//! The trainer owns every tensor; the window owns none and draws the numbers that come back.

pub mod atomic_file;
pub mod cli;
pub mod data;
pub mod eval;
pub mod kernels;
pub mod lab;
pub mod model;
pub mod seeded;
pub mod session;
pub mod task;
pub mod tensorboard;
pub mod train;
pub mod tsne;
pub mod ui;
pub mod weighting;

/// Training allocates and frees tens of megabytes of activations and gradients per step; glibc
/// malloc hands such blocks back to the OS at once (mmap/munmap), so every step paid for fresh
/// zeroed pages again (about 40 % of the reference step). mimalloc keeps them for reuse.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
