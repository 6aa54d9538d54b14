//! The window: the paper's Fig. 3 live for two runs, evaluation, the projector, the toy model,
//! explanations and lessons. The window owns no tensors: it sends `session::Command`s and draws
//! the numbers that come back as `session::Event`s.
//!
//! Panels draw from the state they need and push [`actions::UiAction`]s; [`app::LabApp`] applies
//! them once per frame, after drawing, so no panel calls back into the app.

pub mod actions;
pub mod app;
pub mod colours;
pub mod dataset;
pub mod explain;
pub mod fig3;
pub mod files;
pub mod history;
pub mod launch;
pub mod lessons;
pub mod metrics;
pub mod projector;
pub mod run;
pub mod settings;
pub mod status_bar;
pub mod top_bar;
pub mod toy;

pub use app::LabApp;
pub use colours::TASK_COLOURS;
pub use run::slot_name;

/// Open the window on the embedded synthetic data.
pub fn run_app(launch: launch::Launch) -> anyhow::Result<()> {
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
        Box::new(|cc| Ok(Box::new(LabApp::new(cc, launch)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
