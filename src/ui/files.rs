//! Files through native dialogs. A dialog runs on its own thread and hands the chosen path
//! back through a channel, so the window never freezes while it is open.

use crossbeam_channel::{Receiver, bounded};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::history::RunHistory;
use crate::atomic_file::{write_atomically, write_bytes};
use crate::train::metrics::{METRICS_HEADER, csv_row};

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
}

impl FileAction {
    fn is_save(self) -> bool {
        matches!(
            self,
            FileAction::ExportCsv(_)
                | FileAction::SavePlotsPng
                | FileAction::SaveCheckpoint(_)
                | FileAction::SaveConfig
        )
    }

    fn filter(self) -> (&'static str, &'static str, &'static str) {
        match self {
            FileAction::ExportCsv(_) => ("CSV", "csv", "metrics.csv"),
            FileAction::SavePlotsPng => ("PNG image", "png", "cari-mtl.png"),
            FileAction::ExportFailureSheet(_) => ("PNG image", "png", "failures.png"),
            FileAction::SaveCheckpoint(_) | FileAction::LoadCheckpoint(_) => {
                ("safetensors", "safetensors", "checkpoint.safetensors")
            }
            FileAction::SaveConfig | FileAction::LoadConfig => {
                ("JSON", "json", "cari-mtl-run.json")
            }
        }
    }
}

#[derive(Default)]
pub struct FileDialogs {
    pending: Option<(FileAction, Receiver<Option<PathBuf>>)>,
    /// Where the next window screenshot goes (requested at the end of the frame).
    pub screenshot_path: Option<PathBuf>,
    /// The outcome of a screenshot being saved.
    screenshot_result: Option<Receiver<Result<String, String>>>,
}

impl FileDialogs {
    /// Open a dialog for `action` on a thread.
    pub fn open(&mut self, action: FileAction) -> Result<(), String> {
        if self.pending.is_some() {
            return Err("a file dialog is already open".into());
        }
        let (tx, rx) = bounded(1);
        let (name, ext, default_name) = action.filter();
        std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new().add_filter(name, &[ext]);
                let path = if action.is_save() {
                    dialog.set_file_name(default_name).save_file()
                } else {
                    dialog.pick_file()
                };
                let _ = tx.send(path);
            })
            .map_err(|e| format!("could not open a file dialog: {e}"))?;
        self.pending = Some((action, rx));
        Ok(())
    }

    /// The chosen path, once the user has chosen one.
    pub fn poll(&mut self) -> Option<(FileAction, PathBuf)> {
        let (action, rx) = self.pending.as_ref()?;
        match rx.try_recv() {
            Ok(Some(path)) => {
                let action = *action;
                self.pending = None;
                Some((action, path))
            }
            Ok(None) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                self.pending = None;
                None
            }
            Err(crossbeam_channel::TryRecvError::Empty) => None,
        }
    }

    /// Ask egui for a screenshot of the next frame if one is wanted; it is saved where the
    /// callback runs, and the outcome comes back through a channel.
    pub fn request_screenshot(&mut self, ctx: &egui::Context) {
        let Some(path) = self.screenshot_path.take() else {
            return;
        };
        let (tx, rx) = bounded(1);
        let repaint = ctx.clone();
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
            egui::ScreenshotCallback::new(move |image| {
                let _ = tx.send(save_screenshot(&path, &image));
                repaint.request_repaint();
            }),
        ));
        self.screenshot_result = Some(rx);
    }

    /// The message of a finished screenshot, once.
    pub fn poll_screenshot(&mut self) -> Option<Result<String, String>> {
        let result = self.screenshot_result.as_ref()?.try_recv().ok()?;
        self.screenshot_result = None;
        Some(result)
    }
}

fn save_screenshot(path: &Path, image: &Arc<egui::ColorImage>) -> Result<String, String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or("the screenshot had an unexpected size")?;
    write_atomically(path, |tmp| {
        buffer.save_with_format(tmp, image::ImageFormat::Png)
    })
    .map_err(|e| e.to_string())?;
    Ok(format!("saved {}", path.display()))
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
            });
        }
        let text = metrics_csv(&history);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(METRICS_HEADER));
        let body: Vec<&str> = lines.collect();
        assert_eq!(body.len(), history.len());
        assert!(history.summarised_len() > 0, "some rows are blocks");
        assert!(body.iter().all(|l| l.split(',').count() == 10));
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
