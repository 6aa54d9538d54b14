//! What training reports: one row per step (metrics.csv), facts about a run, and the CSV form
//! that both `cari-mtl train` and the window's export write.

use serde::{Deserialize, Serialize};

use crate::task::TASKS;

/// One training step's numbers, as written to metrics.csv.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// 1-based count of optimiser steps taken.
    pub step: u64,
    /// Seconds of training since the run started (pauses excluded).
    pub wall_secs: f64,
    pub strategy: String,
    /// Weights the network's loss used at this step (normalised to sum 1 for display).
    pub weights: [f32; TASKS],
    pub losses: [f32; TASKS],
    /// The network's learning rate.
    pub lr: f64,
    /// How many steps this row stands for: 1, or more when an absent consumer let rows pile up
    /// and neighbours were averaged to keep memory bounded.
    pub coalesced_steps: u32,
}

/// Facts about a ready run, shown in the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub device: String,
    pub preset: String,
    pub dataset: String,
    pub parameters: usize,
    pub train_images: usize,
    pub classes: usize,
    pub embedding_dim: usize,
    pub z_dim: usize,
}

/// The header of metrics.csv.
pub const METRICS_HEADER: &str =
    "step,wall_s,strategy,w_verif,w_visual,w_cari,loss_verif,loss_visual,loss_cari,lr";

/// One metrics.csv line (no newline).
pub fn csv_row(r: &StepMetrics) -> String {
    format!(
        "{},{:.4},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{}",
        r.step,
        r.wall_secs,
        r.strategy,
        r.weights[0],
        r.weights[1],
        r.weights[2],
        r.losses[0],
        r.losses[1],
        r.losses[2],
        r.lr
    )
}

/// Merge neighbouring rows pairwise (a row then stands for several steps): every quantity is
/// the mean weighted by how many steps each row stands for; step, time and rule are the later
/// row's.
pub fn merge_rows(a: &StepMetrics, b: StepMetrics) -> StepMetrics {
    let (na, nb) = (a.coalesced_steps as f32, b.coalesced_steps as f32);
    let mix = |x: f32, y: f32| (x * na + y * nb) / (na + nb);
    StepMetrics {
        weights: std::array::from_fn(|i| mix(a.weights[i], b.weights[i])),
        losses: std::array::from_fn(|i| mix(a.losses[i], b.losses[i])),
        coalesced_steps: a.coalesced_steps.saturating_add(b.coalesced_steps),
        ..b
    }
}

/// Halve the number of rows by merging neighbours (see [`merge_rows`]).
pub fn coalesce(rows: &mut Vec<StepMetrics>) {
    let mut out = Vec::with_capacity(rows.len() / 2 + 1);
    let mut iter = rows.drain(..);
    while let Some(a) = iter.next() {
        match iter.next() {
            Some(b) => out.push(merge_rows(&a, b)),
            None => out.push(a),
        }
    }
    drop(iter);
    *rows = out;
}
