//! The window: panels only. Its state lives in `lab` (without egui); each panel here is a
//! [`View`] that draws from a [`PanelCtx`](crate::lab::PanelCtx) and pushes
//! [`UiAction`](crate::lab::actions::UiAction)s, which the lab applies once per frame after
//! every panel has drawn, so no panel calls back into the app.
//!
//! # What a panel may change in place, and what only through an action
//!
//! - **In place** (`ctx.settings`): view options (tab, layout, smoothing shown, x axis, the
//!   explain panel's run, the projector's search, the toy's sliders, which recomputes at
//!   once) and the values the next Reset starts from (seed, preset, device, dataset spec).
//! - **Only through an action**: anything a trainer must apply (the rule, its scale, the
//!   learning rates, whether w reaches the trunk, evaluation every N steps, perturbations,
//!   Play/Step/Reset, forks), anything that opens a dialog or a lesson, and Reset itself. The
//!   run's header shows what the trainer reports it applied, never the request; a refused
//!   change comes back as `Event::Rejected` with the value kept.
//!
//! The window owns no tensors: trainers live on their own threads (`session`).

pub mod app;
pub mod colours;
pub mod curve;
pub mod explain;
pub mod fig3;
pub mod files;
pub mod gradients;
pub mod landscape;
pub mod metrics;
pub mod projector;
pub mod status_bar;
pub mod sweep;
pub mod top_bar;
pub mod toy;
pub mod view;

pub use app::LabApp;
pub use colours::TASK_COLOURS;
pub use view::View;

use crate::lab::launch::Launch;

/// Open the window on the embedded synthetic data.
pub fn run_app(launch: Launch) -> anyhow::Result<()> {
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
