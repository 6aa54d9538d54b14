//! The one shape of a panel.

use crate::lab::PanelCtx;

/// A panel: it draws itself from the lab's state and pushes actions (egui_demo_lib's `View`).
/// Its own fields hold only what the panel alone needs between frames (zoom, textures).
pub trait View {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx);
}
