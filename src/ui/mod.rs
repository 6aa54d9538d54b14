//! The window: the paper's Fig. 3 live for two runs, evaluation, the toy model, explanations
//! and lessons. The UI owns no tensors: it sends `protocol::Command`s and draws the numbers
//! that come back as `protocol::Event`s.

pub mod app;
pub mod explain;
pub mod fig3;
pub mod files;
pub mod history;
pub mod lessons;
pub mod metrics;
pub mod projector;
pub mod run;
pub mod toy;

pub use app::LabApp;

use egui::Color32;

/// Fig. 3's colours: verif blue, visual orange, cari grey.
pub const TASK_COLOURS: [Color32; 3] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(127, 127, 127),
];

/// Open the window on the embedded synthetic data.
pub fn run_app() -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("cari-mtl — dynamic multi-task learning lab")
            .with_inner_size([1500.0, 950.0])
            .with_min_inner_size([900.0, 600.0]),
        ..Default::default()
    };
    eframe::run_native(
        "cari-mtl",
        options,
        Box::new(|cc| Ok(Box::new(LabApp::new(cc)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
