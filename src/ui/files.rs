//! Files through native dialogs. A dialog runs on its own thread and hands the chosen path
//! back through a channel, so the window never freezes while it is open.

use crossbeam_channel::{Receiver, bounded};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::app::{LabApp, Settings};
use crate::protocol::Command;

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
    {
        let [w, h] = image.size;
        let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
        let buffer = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
            .ok_or("the screenshot had an unexpected size")?;
        write_atomically(path, |tmp| {
            buffer
                .save_with_format(tmp, image::ImageFormat::Png)
                .map_err(|e| e.to_string())
        })?;
        Ok(format!("saved {}", path.display()))
    }
}

/// Write through a temporary file in the same folder, then rename over `path`: a failure never
/// leaves a half-written file where the user's was.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("could not write {}: {e}", path.display()));
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("could not write {}: {e}", path.display()))
}

/// The run's full history as metrics.csv text (same columns as `cari-mtl train`).
pub fn metrics_csv(app: &LabApp, slot: usize) -> String {
    let mut out = String::from(crate::cli::train::METRICS_HEADER);
    out.push('\n');
    for row in &app.runs[slot].history.rows {
        out.push_str(&crate::cli::train::csv_row(row));
        out.push('\n');
    }
    out
}

/// Carry out a file action on a chosen path. Ok is the message for the status line.
pub fn perform(app: &mut LabApp, action: FileAction, path: &Path) -> Result<String, String> {
    match action {
        FileAction::ExportCsv(slot) => {
            let text = metrics_csv(app, slot);
            write_atomically(path, |tmp| {
                let mut f = std::fs::File::create(tmp).map_err(|e| e.to_string())?;
                f.write_all(text.as_bytes()).map_err(|e| e.to_string())
            })?;
            Ok(format!(
                "wrote {} rows to {}",
                app.runs[slot].history.len(),
                path.display()
            ))
        }
        FileAction::SavePlotsPng => {
            app.files.screenshot_path = Some(path.to_path_buf());
            Ok("taking a screenshot…".into())
        }
        FileAction::SaveCheckpoint(slot) => {
            app.runs[slot].send(Command::SaveCheckpoint(path.to_path_buf()));
            Ok(format!("saving run {} …", app.runs[slot].name))
        }
        FileAction::LoadCheckpoint(slot) => {
            app.runs[slot].send(Command::LoadCheckpoint(path.to_path_buf()));
            Ok(format!("loading into run {} …", app.runs[slot].name))
        }
        FileAction::SaveConfig => {
            let json = serde_json::to_string_pretty(&app.settings).map_err(|e| e.to_string())?;
            write_atomically(path, |tmp| {
                std::fs::write(tmp, json.as_bytes()).map_err(|e| e.to_string())
            })?;
            Ok(format!("saved settings to {}", path.display()))
        }
        FileAction::ExportFailureSheet(slot) => {
            let super::app::DatasetState::Ready(dataset) = &app.dataset else {
                return Err("no dataset loaded".into());
            };
            let report = app.runs[slot]
                .last_report
                .clone()
                .ok_or("this run has no evaluation yet")?;
            let sheet = super::projector::failure_sheet(dataset, &report, 20);
            write_atomically(path, |tmp| {
                sheet
                    .save_with_format(tmp, image::ImageFormat::Png)
                    .map_err(|e| e.to_string())
            })?;
            Ok(format!(
                "saved the failure sheet of run {} to {}",
                app.runs[slot].name,
                path.display()
            ))
        }
        FileAction::LoadConfig => {
            let settings = load_settings(path)?;
            app.settings = settings;
            app.reset();
            Ok(format!("loaded {} and reset the runs", path.display()))
        }
    }
}

/// Read a settings/lesson file, with an error that names the file and the cause.
pub fn load_settings(path: &Path) -> Result<Settings, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 1 << 20 {
        return Err(format!(
            "{}: {} bytes is too large for a settings file",
            path.display(),
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let settings: Settings = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a cari-mtl settings file ({e})", path.display()))?;
    let config = settings.train_config(0);
    config
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    settings
        .toy
        .config
        .validate()
        .map_err(|e| format!("{}: toy: {e}", path.display()))?;
    Ok(settings)
}

pub fn file_menu_ui(app: &mut LabApp, ui: &mut egui::Ui) {
    let mut chosen = None;
    ui.menu_button("Files", |ui| {
        for slot in 0..2 {
            if ui
                .button(format!(
                    "Export run {} metrics (CSV)…",
                    super::app::slot_name(slot)
                ))
                .clicked()
            {
                chosen = Some(FileAction::ExportCsv(slot));
            }
        }
        if ui.button("Save the window as PNG…").clicked() {
            chosen = Some(FileAction::SavePlotsPng);
        }
        ui.separator();
        for slot in 0..2 {
            if ui
                .button(format!(
                    "Save run {} checkpoint…",
                    super::app::slot_name(slot)
                ))
                .clicked()
            {
                chosen = Some(FileAction::SaveCheckpoint(slot));
            }
            if ui
                .button(format!(
                    "Load checkpoint into run {}…",
                    super::app::slot_name(slot)
                ))
                .clicked()
            {
                chosen = Some(FileAction::LoadCheckpoint(slot));
            }
        }
        for slot in 0..2 {
            if ui
                .button(format!(
                    "Export run {} failure sheet (PNG)…",
                    super::app::slot_name(slot)
                ))
                .clicked()
            {
                chosen = Some(FileAction::ExportFailureSheet(slot));
            }
        }
        ui.separator();
        if ui.button("Save settings / lesson (JSON)…").clicked() {
            chosen = Some(FileAction::SaveConfig);
        }
        if ui.button("Open settings / lesson (JSON)…").clicked() {
            chosen = Some(FileAction::LoadConfig);
        }
    })
    .response
    .on_hover_text("Export metrics, save the plots, checkpoints and settings");
    if let Some(action) = chosen {
        if let Err(e) = app.files.open(action) {
            app.status_line = Some(format!("warning: {e}"));
        } else if action == FileAction::SavePlotsPng {
            // The screenshot is requested once the path is known (see `perform`).
        }
    }
    app.files.request_screenshot(ui.ctx());
}
