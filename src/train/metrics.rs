//! What training reports: one row per step (metrics.csv), facts about a run, and the CSV form
//! that both `cari-mtl train` and the window's export write.

use serde::{Deserialize, Serialize};

use super::lens::LensRow;
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
    /// The gradient lens's figures, on the steps it looked.
    #[serde(default)]
    pub lens: Option<LensRow>,
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

/// The header of metrics.csv: the step's numbers, then the gradient lens's nine columns
/// (empty on steps without the lens).
pub const METRICS_HEADER: &str = "step,wall_s,strategy,w_verif,w_visual,w_cari,loss_verif,loss_visual,loss_cari,lr,grad_norm_verif,grad_norm_visual,grad_norm_cari,grad_cos_verif_visual,grad_cos_verif_cari,grad_cos_visual_cari,grad_align_verif,grad_align_visual,grad_align_cari";

/// The lens's columns, in [`METRICS_HEADER`]'s order.
pub const LENS_COLUMNS: [&str; 9] = [
    "grad_norm_verif",
    "grad_norm_visual",
    "grad_norm_cari",
    "grad_cos_verif_visual",
    "grad_cos_verif_cari",
    "grad_cos_visual_cari",
    "grad_align_verif",
    "grad_align_visual",
    "grad_align_cari",
];

/// One metrics.csv line (no newline).
pub fn csv_row(r: &StepMetrics) -> String {
    let lens = match &r.lens {
        Some(l) => {
            let values: Vec<String> = lens_values(l).iter().map(|v| format!("{v:.6e}")).collect();
            values.join(",")
        }
        None => ",".repeat(LENS_COLUMNS.len() - 1),
    };
    format!(
        "{},{:.4},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{lens}",
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

/// A lens row's nine numbers in [`LENS_COLUMNS`]' order.
pub fn lens_values(l: &LensRow) -> [f32; 9] {
    let [n0, n1, n2] = l.norms;
    let [c0, c1, c2] = l.cosines;
    let [a0, a1, a2] = l.alignments;
    [n0, n1, n2, c0, c1, c2, a0, a1, a2]
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
        // The lens looks on some steps only: a merged row keeps the later look.
        lens: b.lens.or(a.lens),
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

/// Read metrics.csv rows (columns found by name, so files with extra or reordered columns
/// read the same), calling `each` per row; returns the number of rows. Errors name the line.
pub fn read_metrics_csv(
    reader: impl std::io::BufRead,
    mut each: impl FnMut(StepMetrics),
) -> Result<u64, String> {
    let mut lines = reader.lines();
    let header = match lines.next() {
        Some(line) => line.map_err(|e| e.to_string())?,
        None => return Err("empty file (no header)".into()),
    };
    let columns = MetricsColumns::find(&header)?;
    let mut count = 0u64;
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", i + 2))?;
        if line.trim().is_empty() {
            continue;
        }
        let row = columns
            .parse(&line)
            .map_err(|e| format!("line {}: {e}", i + 2))?;
        each(row);
        count += 1;
    }
    Ok(count)
}

/// Where each field sits in a metrics.csv header.
struct MetricsColumns {
    step: usize,
    wall: usize,
    strategy: usize,
    weights: [usize; TASKS],
    losses: [usize; TASKS],
    lr: usize,
    /// The lens's columns, in files that have them.
    lens: Option<[usize; 9]>,
}

impl MetricsColumns {
    fn find(header: &str) -> Result<MetricsColumns, String> {
        let names: Vec<&str> = header.trim().split(',').collect();
        let at = |name: &str| {
            names.iter().position(|h| *h == name).ok_or_else(|| {
                format!("no column '{name}' in the header (expected {METRICS_HEADER})")
            })
        };
        let keys = ["verif", "visual", "cari"];
        Ok(MetricsColumns {
            step: at("step")?,
            wall: at("wall_s")?,
            strategy: at("strategy")?,
            weights: [
                at(&format!("w_{}", keys[0]))?,
                at(&format!("w_{}", keys[1]))?,
                at(&format!("w_{}", keys[2]))?,
            ],
            losses: [
                at(&format!("loss_{}", keys[0]))?,
                at(&format!("loss_{}", keys[1]))?,
                at(&format!("loss_{}", keys[2]))?,
            ],
            lr: at("lr")?,
            lens: LENS_COLUMNS
                .iter()
                .map(|name| names.iter().position(|h| h == name))
                .collect::<Option<Vec<usize>>>()
                .and_then(|v| v.try_into().ok()),
        })
    }

    fn parse(&self, line: &str) -> Result<StepMetrics, String> {
        let cells: Vec<&str> = line.trim().split(',').collect();
        let cell = |i: usize, what: &str| {
            cells
                .get(i)
                .copied()
                .ok_or_else(|| format!("no {what} (only {} cells)", cells.len()))
        };
        let number = |i: usize, what: &str| -> Result<f64, String> {
            let text = cell(i, what)?;
            text.parse::<f64>()
                .map_err(|_| format!("{what} '{text}' is not a number"))
        };
        let step_text = cell(self.step, "step")?;
        let step = step_text
            .parse::<u64>()
            .map_err(|_| format!("step '{step_text}' is not a whole number"))?;
        let mut weights = [0f32; TASKS];
        let mut losses = [0f32; TASKS];
        for t in 0..TASKS {
            weights[t] = number(self.weights[t], "weight")? as f32;
            losses[t] = number(self.losses[t], "loss")? as f32;
        }
        let lens = match self.lens {
            Some(columns) if !cells.get(columns[0]).is_none_or(|c| c.is_empty()) => {
                let mut v = [0f32; 9];
                for (value, &column) in v.iter_mut().zip(&columns) {
                    *value = number(column, "lens value")? as f32;
                }
                Some(LensRow {
                    norms: [v[0], v[1], v[2]],
                    cosines: [v[3], v[4], v[5]],
                    alignments: [v[6], v[7], v[8]],
                })
            }
            _ => None,
        };
        Ok(StepMetrics {
            step,
            wall_secs: number(self.wall, "wall_s")?,
            strategy: cell(self.strategy, "strategy")?.to_string(),
            weights,
            losses,
            lr: number(self.lr, "lr")?,
            coalesced_steps: 1,
            lens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_read_back_the_same() {
        let row = StepMetrics {
            step: 7,
            wall_secs: 1.25,
            strategy: "static(0.40/0.30/0.30)".into(),
            weights: [0.4, 0.3, 0.3],
            losses: [5.25, 4.5, 0.125],
            lr: 1e-3,
            coalesced_steps: 1,
            lens: None,
        };
        let text = format!("{METRICS_HEADER}\n{}\n\n", csv_row(&row));
        let mut back = Vec::new();
        let n = read_metrics_csv(text.as_bytes(), |r| back.push(r)).unwrap();
        assert_eq!((n, back), (1, vec![row]));
    }

    #[test]
    fn bad_lines_are_named() {
        let text = format!("{METRICS_HEADER}\n1,0.1,proposed,0.3,0.3,x,1,1,1,0.001\n");
        let err = read_metrics_csv(text.as_bytes(), |_| {}).unwrap_err();
        assert_eq!(err, "line 2: weight 'x' is not a number");
        let err = read_metrics_csv("step,loss\n".as_bytes(), |_| {}).unwrap_err();
        assert!(err.contains("no column 'wall_s'"), "{err}");
    }
}
