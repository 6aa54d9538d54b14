//! What the window does with files: the actions a dialog is opened for, and writing text,
//! PNG and a run's metrics (atomically; an error names the file).

use std::path::Path;

use super::history::RunHistory;
use crate::atomic_file::{write_atomically, write_bytes};
use crate::train::metrics::{METRICS_HEADER, csv_row};

/// A file action: what a dialog asks a path for, then does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileAction {
    ExportCsv(usize),
    SavePlotsPng,
    SaveCheckpoint(usize),
    LoadCheckpoint(usize),
    /// The settings (a run configuration, or a lesson with its state).
    SaveConfig,
    LoadConfig,
    /// The worst false positives and negatives of a run's latest evaluation, as PNG.
    ExportFailureSheet(usize),
    /// A dataset folder (WebCaricature, CaVI or `folder:` layout).
    OpenDataset,
    /// A run folder written by `cari-mtl train` or `compare`, into slot A or B.
    OpenRun(usize),
    /// A sweep folder written by `cari-mtl compare`, into the Sweep tab.
    OpenSweep,
}

/// Write text atomically; the error names the file.
pub fn write_text(path: &Path, text: &str) -> Result<(), String> {
    write_bytes(path, text.as_bytes()).map_err(|e| e.to_string())
}

/// Write an image as PNG atomically; the error names the file.
pub fn write_png(path: &Path, image: &image::RgbImage) -> Result<(), String> {
    write_atomically(path, |tmp| {
        image.save_with_format(tmp, image::ImageFormat::Png)
    })
    .map_err(|e| e.to_string())
}

/// A run's history as metrics.csv text (same columns as `cari-mtl train`): one row per
/// summarised block (its means, at its last step and time) before the full-resolution rows.
pub fn metrics_csv(history: &RunHistory) -> String {
    let mut out = String::from(METRICS_HEADER);
    out.push('\n');
    for row in history.export_rows() {
        out.push_str(&csv_row(&row));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::StepMetrics;

    #[test]
    fn export_counts_every_step_once() {
        // Enough rows that the oldest are summarised; every fifth row stands for 3 steps.
        let mut history = RunHistory::new(0.6);
        let mut step = 0;
        for i in 0..150_000u32 {
            let coalesced = if i % 5 == 0 { 3 } else { 1 };
            step += coalesced as u64;
            history.push(StepMetrics {
                step,
                wall_secs: step as f64 * 0.01,
                strategy: "proposed".into(),
                weights: [0.2, 0.3, 0.5],
                losses: [1.0, 2.0, (i % 7) as f32],
                lr: 1e-3,
                coalesced_steps: coalesced,
                lens: None,
            });
        }
        let text = metrics_csv(&history);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(METRICS_HEADER));
        let body: Vec<&str> = lines.collect();
        assert_eq!(body.len(), history.len());
        assert!(history.summarised_len() > 0, "some rows are blocks");
        let columns = METRICS_HEADER.split(',').count();
        assert!(body.iter().all(|l| l.split(',').count() == columns));
        let rows: Vec<StepMetrics> = history.export_rows().map(|r| r.into_owned()).collect();
        let coalesced: u64 = rows.iter().map(|r| r.coalesced_steps as u64).sum();
        assert_eq!(coalesced, step, "every step counted once");
        // Block rows first, at their last steps, then full-resolution rows, steps rising.
        assert!(rows.windows(2).all(|p| p[0].step < p[1].step));
        assert_eq!(rows.last().map(|r| r.step), Some(step));
        let steps: Vec<u64> = body
            .iter()
            .map(|l| {
                l.split(',')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0)
            })
            .collect();
        assert_eq!(steps, rows.iter().map(|r| r.step).collect::<Vec<_>>());
    }
}
