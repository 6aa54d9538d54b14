//! The status bar: the dataset, the model's size, the last message, and the Files menu.

use super::actions::UiAction;
use super::dataset::DatasetState;
use super::files::FileAction;
use super::run::RunSlot;
use super::run::slot_name;

const EMBEDDING_HOVER: &str = "The embedding used for verification, C2P/P2C and t-SNE is the verification branch's embedding, L2-normalised. Parameters count what the optimisers train (Ψ included), not batch norm's running statistics.";

pub fn ui(
    ui: &mut egui::Ui,
    dataset: &DatasetState,
    runs: &[RunSlot; 2],
    status_line: &Option<String>,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal_wrapped(|ui| {
        match dataset {
            DatasetState::Ready(d) => {
                ui.label(format!(
                    "{}: {} images, {} identities",
                    d.name,
                    d.images.len(),
                    d.images.identities.len()
                ));
            }
            DatasetState::Loading { .. } => {
                ui.spinner();
                ui.label("making the dataset…");
            }
            DatasetState::Failed(m) => {
                ui.colored_label(egui::Color32::RED, format!("dataset: {m}"));
            }
        }
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
            files_menu_ui(ui, actions);
        });
    });
}

/// The Files menu: every entry opens a dialog for a path, then the app carries it out.
fn files_menu_ui(ui: &mut egui::Ui, actions: &mut Vec<UiAction>) {
    ui.menu_button("Files", |ui| {
        for group in menu_entries() {
            for (label, action) in group {
                if ui.button(label).clicked() {
                    actions.push(UiAction::OpenFile(action));
                }
            }
            ui.separator();
        }
    })
    .response
    .on_hover_text(FILES_HOVER);
}

const FILES_HOVER: &str = "Open a dataset or a finished run (or drop its folder on the window); export metrics, save the plots, checkpoints and settings";

/// The menu's entries, in groups.
fn menu_entries() -> Vec<Vec<(String, FileAction)>> {
    let per_run = |label: &str, action: fn(usize) -> FileAction| -> Vec<(String, FileAction)> {
        (0..2)
            .map(|slot| (label.replace("{}", slot_name(slot)), action(slot)))
            .collect()
    };
    let mut opening = vec![("Open dataset…".to_string(), FileAction::OpenDataset)];
    opening.extend(per_run("Open run into {}…", FileAction::OpenRun));
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
