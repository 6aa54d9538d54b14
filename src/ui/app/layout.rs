//! Where each panel goes in the window.

use super::{LabApp, Panels};
use crate::lab::lessons::Control;
use crate::lab::settings::Tab;
use crate::ui::colours::unfilled;
use crate::ui::view::View;

impl LabApp {
    pub(super) fn panels_ui(&mut self, ui: &mut egui::Ui) {
        let LabApp { lab, panels, .. } = self;
        let Panels {
            top_bar,
            status_bar,
            welcome,
            lesson,
            explain,
            fig3,
            metrics,
            projector,
            toy,
            sweep,
        } = panels;
        let ctx = &mut lab.panel_ctx();
        let bar = unfilled(egui::Frame::side_top_panel(ui.style()));
        let central =
            egui::CentralPanel::default().frame(unfilled(egui::Frame::central_panel(ui.style())));
        egui::Panel::top("top_bar")
            .frame(bar)
            .show(ui, |ui| top_bar.ui(ui, ctx));
        egui::Panel::bottom("status_bar")
            .frame(bar)
            .show(ui, |ui| status_bar.ui(ui, ctx));
        if !ctx.settings.welcome_seen && ctx.settings.lesson.is_none() {
            egui::Panel::top("welcome")
                .frame(bar)
                .show(ui, |ui| welcome.ui(ui, ctx));
        }
        if ctx.settings.lesson.is_some() || !ctx.settings.hidden.is_empty() {
            egui::Panel::top("lesson_text")
                .frame(bar)
                .show(ui, |ui| lesson.ui(ui, ctx));
        }
        let central_view: &mut dyn View = match ctx.settings.tab {
            Tab::Lab => {
                if ctx.settings.show_explain && ctx.settings.shows(Control::Explain) {
                    egui::Panel::right("explain")
                        .frame(bar)
                        .default_size(340.0)
                        .show(ui, |ui| explain.ui(ui, ctx));
                }
                fig3
            }
            Tab::Metrics => metrics,
            Tab::Projector => projector,
            Tab::Toy => toy,
            Tab::Sweep => sweep,
        };
        central.show(ui, |ui| central_view.ui(ui, ctx));
    }
}
