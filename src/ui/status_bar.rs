//! The status bar: the dataset, the model's size, the last message, and the Files menu.

use crate::data::{Dataset, LoadReport};
use crate::lab::PanelCtx;
use crate::lab::actions::UiAction;
use crate::lab::dataset::DatasetState;
use crate::lab::files::FileAction;
use crate::lab::run::slot_name;
use crate::ui::view::View;

const EMBEDDING_HOVER: &str = "The embedding used for verification, C2P/P2C and t-SNE is the verification branch's embedding, L2-normalised. Parameters count what the optimisers train (Ψ included), not batch norm's running statistics.";

/// The bar at the bottom: the dataset (and its load), the runs' facts, the status line.
#[derive(Default)]
pub struct StatusBar {
    /// The Paste lab code window, while it is open.
    paste: Option<PasteDialog>,
}

/// The text pasted so far and why it was refused, if it was.
#[derive(Default)]
struct PasteDialog {
    text: String,
    refusal: Option<String>,
}

impl View for StatusBar {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        if status_bar_ui(ui, ctx) {
            self.paste = Some(PasteDialog::default());
        }
        if let Some(dialog) = &mut self.paste
            && !paste_ui(ui.ctx(), dialog, ctx)
        {
            self.paste = None;
        }
    }
}

const PASTE_HOVER: &str = "A lab code (Files > Copy lab code in a window, or cari-mtl --lab) opens the same lab here: tab, rules, seed, preset, recipe, rates, scale, perturbations and holds, toy and landscape, lesson. This machine's dataset and device stay.";

/// The Paste lab code window; false once it is closed. A code is read and checked here, and
/// only a usable one goes to the lab.
fn paste_ui(egui_ctx: &egui::Context, dialog: &mut PasteDialog, ctx: &mut PanelCtx) -> bool {
    let mut open = true;
    let mut done = false;
    egui::Window::new("Paste lab code")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(480.0)
        .show(egui_ctx, |ui| {
            ui.label(PASTE_HOVER);
            ui.add(
                egui::TextEdit::multiline(&mut dialog.text)
                    .hint_text("CARI1.…")
                    .desired_rows(4)
                    .desired_width(f32::INFINITY),
            );
            if let Some(why) = &dialog.refusal {
                ui.colored_label(egui::Color32::RED, why);
            }
            ui.horizontal(|ui| {
                if ui.button("Open").clicked() {
                    let decoded = crate::lab::code::LabState::decode(&dialog.text)
                        .and_then(|s| s.clone().applied_to(ctx.settings).map(|_| s));
                    match decoded {
                        Ok(state) => {
                            ctx.actions.push(UiAction::OpenLabCode(Box::new(state)));
                            done = true;
                        }
                        Err(e) => dialog.refusal = Some(e.to_string()),
                    }
                }
                if ui.button("Cancel").clicked() {
                    done = true;
                }
            });
        });
    open && !done
}

/// Draws the bar; true when Paste lab code was chosen.
fn status_bar_ui(ui: &mut egui::Ui, ctx: &mut PanelCtx) -> bool {
    let mut paste = false;
    let (dataset, runs, status_line, actions) =
        (ctx.dataset, ctx.runs, ctx.status_line, &mut *ctx.actions);
    ui.horizontal_wrapped(|ui| {
        dataset_ui(ui, dataset, actions);
        if let Some(info) = &runs[0].info {
            ui.separator();
            // The authors' code has no bottleneck: its embedding is the pooled block8 output.
            let embedding_kind = if info.preset == "paper" {
                "pooled, no bottleneck"
            } else {
                "bottleneck"
            };
            ui.label(format!(
                "{} · {} parameters · {} classes · embedding {}-d ({embedding_kind}) · Z {}-d",
                info.preset, info.parameters, info.classes, info.embedding_dim, info.z_dim
            ))
            .on_hover_text(EMBEDDING_HOVER);
        }
        if let Some(line) = status_line {
            ui.separator();
            ui.label(line.as_str());
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            paste = files_menu_ui(ui, actions);
        });
    });
    paste
}

/// What the runs train on: its size, fold and skipped files; while loading, how far and a
/// Cancel.
fn dataset_ui(ui: &mut egui::Ui, dataset: &DatasetState, actions: &mut Vec<UiAction>) {
    match dataset {
        DatasetState::Ready(d) => {
            ui.label(format!(
                "{}: {} images, {} identities",
                d.name,
                d.images.len(),
                d.images.identities.len()
            ));
            fold_ui(ui, d, actions);
            load_report_ui(ui, &d.report);
        }
        DatasetState::Loading { progress, .. } => {
            ui.spinner();
            match progress.files_decoded() {
                Some((done, total)) => ui.label(format!("loading: {done} / {total} files decoded")),
                None => ui.label("making the dataset…"),
            };
            if ui
                .button("Cancel")
                .on_hover_text("Stop loading and go back to the dataset before")
                .clicked()
            {
                actions.push(UiAction::CancelLoad);
            }
        }
        DatasetState::Failed(m) => {
            ui.colored_label(egui::Color32::RED, format!("dataset: {m}"));
        }
    }
}

/// The published fold trained and evaluated on, and a choice of the others.
fn fold_ui(ui: &mut egui::Ui, dataset: &Dataset, actions: &mut Vec<UiAction>) {
    let Some(count) = dataset.published_folds.filter(|&n| n > 1) else {
        return;
    };
    let current = dataset.facts.fold.unwrap_or(1);
    egui::ComboBox::from_id_salt("fold")
        .selected_text(format!("fold {current} of {count}"))
        .show_ui(ui, |ui| {
            for fold in 1..=count {
                if ui
                    .selectable_label(fold == current, format!("fold {fold}"))
                    .clicked()
                    && fold != current
                {
                    actions.push(UiAction::SetFold(Some(fold)));
                }
            }
        })
        .response
        .on_hover_text(FOLD_HOVER);
}

const FOLD_HOVER: &str = "The published fold both runs train and are evaluated on (the dataset's own protocol). Choosing another restarts both runs on it.";

/// How many files the load skipped or could not use, with each one's reason on click.
fn load_report_ui(ui: &mut egui::Ui, report: &LoadReport) {
    let problems = report.skipped_images.len() + report.protocol_problems.len();
    if problems == 0 && report.excluded_identities.is_empty() {
        return;
    }
    let label = format!(
        "{} skipped · {} problems",
        report.skipped_images.len(),
        report.protocol_problems.len()
    );
    ui.menu_button(label, |ui| {
        egui::ScrollArea::vertical()
            .max_height(320.0)
            .show(ui, |ui| {
                for (path, reason) in &report.skipped_images {
                    ui.label(format!("{path}: {reason}"));
                }
                for problem in &report.protocol_problems {
                    ui.label(problem);
                }
                for (name, reason) in &report.excluded_identities {
                    ui.label(format!("{name}: {reason}"));
                }
            });
    })
    .response
    .on_hover_text("What the load skipped or could not use, and why");
}

/// The Files menu: every file entry opens a dialog for a path, then the app carries it out;
/// the last two copy the lab's code or open one. True when Paste lab code was chosen.
fn files_menu_ui(ui: &mut egui::Ui, actions: &mut Vec<UiAction>) -> bool {
    let mut paste = false;
    ui.menu_button("Files", |ui| {
        for group in menu_entries() {
            for (label, action) in group {
                if ui.button(label).clicked() {
                    actions.push(UiAction::OpenFile(action));
                }
            }
            ui.separator();
        }
        if ui
            .button("Copy lab code")
            .on_hover_text("The whole lab as one short text code, on the clipboard: paste it in another window, or run cari-mtl --lab CODE")
            .clicked()
        {
            actions.push(UiAction::CopyLabCode);
        }
        if ui
            .button("Paste lab code…")
            .on_hover_text(PASTE_HOVER)
            .clicked()
        {
            paste = true;
        }
    })
    .response
    .on_hover_text(FILES_HOVER);
    paste
}

const FILES_HOVER: &str = "Open a dataset, a finished run (or drop its folder on the window) or a compare sweep; export metrics, save the plots, checkpoints and settings; copy or paste a lab code";

/// The menu's entries, in groups.
fn menu_entries() -> Vec<Vec<(String, FileAction)>> {
    let per_run = |label: &str, action: fn(usize) -> FileAction| -> Vec<(String, FileAction)> {
        (0..2)
            .map(|slot| (label.replace("{}", slot_name(slot)), action(slot)))
            .collect()
    };
    let mut opening = vec![("Open dataset…".to_string(), FileAction::OpenDataset)];
    opening.extend(per_run("Open run into {}…", FileAction::OpenRun));
    opening.push(("Open sweep…".to_string(), FileAction::OpenSweep));
    let mut exports = per_run("Export run {} metrics (CSV)…", FileAction::ExportCsv);
    exports.extend(per_run(
        "Export run {} failure sheet (PNG)…",
        FileAction::ExportFailureSheet,
    ));
    exports.push(("Save the window as PNG…".into(), FileAction::SavePlotsPng));
    let mut checkpoints = per_run("Save run {} checkpoint…", FileAction::SaveCheckpoint);
    checkpoints.extend(per_run(
        "Load checkpoint into run {}…",
        FileAction::LoadCheckpoint,
    ));
    let settings = vec![
        (
            "Save settings / lesson (JSON)…".to_string(),
            FileAction::SaveConfig,
        ),
        (
            "Open settings / lesson (JSON)…".to_string(),
            FileAction::LoadConfig,
        ),
    ];
    vec![opening, exports, checkpoints, settings]
}
