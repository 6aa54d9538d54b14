//! The status bar: the dataset, the model's size, the last message, and the Files menu.

use super::actions::UiAction;
use super::dataset::DatasetState;
use super::files::FileAction;
use super::run::RunSlot;

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
                ui.label("generating the synthetic faces…");
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
        let mut entry = |ui: &mut egui::Ui, label: String, action: FileAction| {
            if ui.button(label).clicked() {
                actions.push(UiAction::OpenFile(action));
            }
        };
        for slot in 0..2 {
            let name = super::run::slot_name(slot);
            entry(
                ui,
                format!("Export run {name} metrics (CSV)…"),
                FileAction::ExportCsv(slot),
            );
        }
        entry(
            ui,
            "Save the window as PNG…".into(),
            FileAction::SavePlotsPng,
        );
        ui.separator();
        for slot in 0..2 {
            let name = super::run::slot_name(slot);
            entry(
                ui,
                format!("Save run {name} checkpoint…"),
                FileAction::SaveCheckpoint(slot),
            );
            entry(
                ui,
                format!("Load checkpoint into run {name}…"),
                FileAction::LoadCheckpoint(slot),
            );
        }
        for slot in 0..2 {
            let name = super::run::slot_name(slot);
            entry(
                ui,
                format!("Export run {name} failure sheet (PNG)…"),
                FileAction::ExportFailureSheet(slot),
            );
        }
        ui.separator();
        entry(
            ui,
            "Save settings / lesson (JSON)…".into(),
            FileAction::SaveConfig,
        );
        entry(
            ui,
            "Open settings / lesson (JSON)…".into(),
            FileAction::LoadConfig,
        );
    })
    .response
    .on_hover_text("Export metrics, save the plots, checkpoints and settings");
}
