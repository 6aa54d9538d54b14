//! Files through dialogs. The system's dialog runs on its own thread and hands the chosen path
//! back through a channel, so the window never freezes while it is open. Where no system
//! dialog can open (no desktop portal answers, as under a bare X server), a dialog inside the
//! window takes its place, and the status line says why; nothing fails in silence.

use crossbeam_channel::{Receiver, bounded};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::atomic_file::write_atomically;
use crate::lab::files::FileAction;

/// What kind of path an action asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wanted {
    Folder,
    ExistingFile,
    NewFile,
}

/// How a file action's dialog looks: what it asks for, its filter and its title.
trait DialogLook {
    fn wanted(self) -> Wanted;
    fn filter(self) -> (&'static str, &'static str, &'static str);
    fn title(self) -> String;
}

impl DialogLook for FileAction {
    fn wanted(self) -> Wanted {
        match self {
            FileAction::ExportCsv(_)
            | FileAction::SavePlotsPng
            | FileAction::SaveCheckpoint(_)
            | FileAction::SaveConfig
            | FileAction::ExportFailureSheet(_) => Wanted::NewFile,
            FileAction::LoadCheckpoint(_) | FileAction::LoadConfig => Wanted::ExistingFile,
            FileAction::OpenDataset | FileAction::OpenRun(_) | FileAction::OpenSweep => {
                Wanted::Folder
            }
        }
    }

    /// (filter name, extension, default file name) of file actions.
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
            FileAction::OpenDataset | FileAction::OpenRun(_) | FileAction::OpenSweep => {
                ("folder", "", "")
            }
        }
    }

    /// The dialog's title.
    fn title(self) -> String {
        match self {
            FileAction::ExportCsv(s) => format!("Export run {} metrics as CSV", slot(s)),
            FileAction::SavePlotsPng => "Save the window as PNG".into(),
            FileAction::SaveCheckpoint(s) => format!("Save run {} checkpoint", slot(s)),
            FileAction::LoadCheckpoint(s) => format!("Load a checkpoint into run {}", slot(s)),
            FileAction::SaveConfig => "Save settings / lesson".into(),
            FileAction::LoadConfig => "Open settings / lesson".into(),
            FileAction::ExportFailureSheet(s) => format!("Export run {} failure sheet", slot(s)),
            FileAction::OpenDataset => "Open a dataset folder".into(),
            FileAction::OpenRun(s) => format!("Open a run folder into run {}", slot(s)),
            FileAction::OpenSweep => "Open a sweep folder (written by compare)".into(),
        }
    }
}

fn slot(s: usize) -> &'static str {
    crate::lab::run::slot_name(s)
}

/// A system dialog that answers "nothing" this fast did not open at all (rfd returns None
/// within milliseconds when no portal answers, and a person cannot cancel that quickly).
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(300);

/// What the dialogs report.
#[derive(Debug, PartialEq)]
pub enum DialogOutcome {
    Chosen(FileAction, PathBuf),
    /// For the status line (a cancel, a fallback to the in-window dialog).
    Message(String),
}

enum Pending {
    System {
        action: FileAction,
        answer: Receiver<Option<PathBuf>>,
        opened: Instant,
    },
    InWindow {
        action: FileAction,
        dialog: Box<egui_file::FileDialog>,
    },
    /// A save onto an existing file, waiting for the user to confirm.
    ConfirmReplace { action: FileAction, path: PathBuf },
}

#[derive(Default)]
pub struct FileDialogs {
    pending: Option<Pending>,
    /// Messages waiting for the status line.
    messages: Vec<String>,
    /// Where the next window screenshot goes (requested at the end of the frame).
    pub screenshot_path: Option<PathBuf>,
    /// The outcome of a screenshot being saved.
    screenshot_result: Option<Receiver<Result<String, String>>>,
}

/// Whether a system dialog can be expected to open: on Linux it needs a D-Bus session (the
/// desktop portal); elsewhere the platform's own dialogs are always there.
fn system_dialogs_available() -> Result<(), &'static str> {
    if cfg!(target_os = "linux")
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty())
    {
        return Err("no desktop session (D-Bus) to ask for the system's file dialog");
    }
    Ok(())
}

impl FileDialogs {
    /// Open a dialog for `action`: the system's, or the in-window one when none can open.
    pub fn open(&mut self, action: FileAction) -> Result<(), String> {
        if self.pending.is_some() {
            return Err("a file dialog is already open".into());
        }
        match system_dialogs_available() {
            Ok(()) => self.open_system(action),
            Err(why) => {
                self.messages
                    .push(format!("{why}; using the dialog inside the window"));
                self.open_in_window(action);
                Ok(())
            }
        }
    }

    /// Whether a dialog is open (for tests and the window's repaint).
    pub fn is_open(&self) -> bool {
        self.pending.is_some()
    }

    fn open_system(&mut self, action: FileAction) -> Result<(), String> {
        let (tx, rx) = bounded(1);
        let (name, ext, default_name) = action.filter();
        let title = action.title();
        std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new().set_title(title);
                let path = match action.wanted() {
                    Wanted::Folder => dialog.pick_folder(),
                    Wanted::ExistingFile => dialog.add_filter(name, &[ext]).pick_file(),
                    Wanted::NewFile => dialog
                        .add_filter(name, &[ext])
                        .set_file_name(default_name)
                        .save_file(),
                };
                let _ = tx.send(path);
            })
            .map_err(|e| format!("could not open a file dialog: {e}"))?;
        self.pending = Some(Pending::System {
            action,
            answer: rx,
            opened: Instant::now(),
        });
        Ok(())
    }

    fn open_in_window(&mut self, action: FileAction) {
        let start = std::env::current_dir().unwrap_or_default();
        let mut dialog = match action.wanted() {
            Wanted::Folder => egui_file::FileDialog::select_folder(),
            Wanted::ExistingFile => egui_file::FileDialog::open_file(),
            Wanted::NewFile => {
                egui_file::FileDialog::save_file().default_filename(action.filter().2)
            }
        }
        .initial_path(start)
        .title(&action.title());
        dialog.open();
        self.pending = Some(Pending::InWindow {
            action,
            dialog: Box::new(dialog),
        });
    }

    /// Show the in-window dialog if one is open, and report what the user chose or why
    /// nothing happened. Call once per frame.
    pub fn show(&mut self, ctx: &egui::Context) -> Vec<DialogOutcome> {
        let mut out: Vec<DialogOutcome> = self
            .messages
            .drain(..)
            .map(DialogOutcome::Message)
            .collect();
        let Some(pending) = self.pending.take() else {
            return out;
        };
        self.pending = match pending {
            Pending::System {
                action,
                answer,
                opened,
            } => match answer.try_recv() {
                Ok(Some(path)) => {
                    out.push(DialogOutcome::Chosen(action, path));
                    None
                }
                Err(crossbeam_channel::TryRecvError::Empty) => Some(Pending::System {
                    action,
                    answer,
                    opened,
                }),
                Ok(None) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    if opened.elapsed() < NO_DIALOG_WITHIN {
                        out.push(DialogOutcome::Message(
                            "the system's file dialog did not open (no desktop portal answered); using the dialog inside the window".into(),
                        ));
                        self.open_in_window(action);
                        return out;
                    }
                    out.push(DialogOutcome::Message(format!(
                        "{}: cancelled",
                        action.title()
                    )));
                    None
                }
            },
            Pending::InWindow { action, mut dialog } => {
                dialog.show(ctx);
                match dialog.state() {
                    egui_file::State::Selected => match dialog.path().map(Path::to_path_buf) {
                        Some(path) if action.wanted() == Wanted::NewFile && path.exists() => {
                            Some(Pending::ConfirmReplace { action, path })
                        }
                        Some(path) => {
                            out.push(DialogOutcome::Chosen(action, path));
                            None
                        }
                        None => None,
                    },
                    egui_file::State::Cancelled | egui_file::State::Closed => {
                        out.push(DialogOutcome::Message(format!(
                            "{}: cancelled",
                            action.title()
                        )));
                        None
                    }
                    egui_file::State::Open => Some(Pending::InWindow { action, dialog }),
                }
            }
            Pending::ConfirmReplace { action, path } => {
                confirm_replace_ui(ctx, action, path, &mut out)
            }
        };
        out
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

/// "Replace it?" for a save onto an existing file (the system dialogs ask this themselves).
fn confirm_replace_ui(
    ctx: &egui::Context,
    action: FileAction,
    path: PathBuf,
    out: &mut Vec<DialogOutcome>,
) -> Option<Pending> {
    let mut answer = None;
    egui::Window::new("Replace the file?")
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label(format!("{} exists. Replace it?", path.display()));
            ui.horizontal(|ui| {
                if ui.button("Replace").clicked() {
                    answer = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(false);
                }
            });
        });
    match answer {
        Some(true) => {
            out.push(DialogOutcome::Chosen(action, path));
            None
        }
        Some(false) => {
            out.push(DialogOutcome::Message(format!(
                "{}: cancelled",
                action.title()
            )));
            None
        }
        None => Some(Pending::ConfirmReplace { action, path }),
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
