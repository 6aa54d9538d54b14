//! The toy panel: the weighting rules on a model with no network, recomputed instantly on every
//! change. Two rules side by side, weights above losses, as in the lab view.

use crate::lab::PanelCtx;
use crate::ui::view::View;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::landscape::LandscapePanel;
use crate::lab::lessons::Control;
use crate::lab::toy::{ToyState, ToyView};
use crate::weighting::Strategy;
use crate::weighting::toy::ToyConfig;

const TOY_COLOURS: [egui::Color32; 3] = super::colours::TASK_COLOURS;

/// Every rule of the registry; those the toy cannot run are shown greyed, saying why.
fn rule_combo(ui: &mut egui::Ui, rule: &mut Strategy, salt: &str) {
    egui::ComboBox::from_id_salt(salt)
        .selected_text(rule.key())
        .show_ui(ui, |ui| {
            for r in Strategy::all() {
                match r.toy_refusal() {
                    None => {
                        ui.selectable_value(rule, r, r.key())
                            .on_hover_text(r.description());
                    }
                    Some(why) => {
                        ui.add_enabled(false, egui::Button::new(r.key()))
                            .on_disabled_hover_text(format!("the toy cannot run it: {why}"));
                    }
                }
            }
        });
}

const TOY_INTRO: &str = "Each task i has a loss that falls toward its floor L*_i at a speed set by its learnability κ_i and by the weight it gets: L(t+1) = L* + (L(t) − L*)·(1 − κ·w(t)). The rules set w from the losses. Nothing here trains a network: it is instant.";

/// The Toy tab: two rules side by side on the model without a network, or the loss
/// landscape.
#[derive(Default)]
pub struct ToyPanel {
    landscape: LandscapePanel,
}

impl View for ToyPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        if ctx.settings.shows(Control::ToyView) {
            ui.horizontal(|ui| {
                let view = &mut ctx.settings.toy.view;
                ui.selectable_value(view, ToyView::Losses, "Losses toy")
                    .on_hover_text("Two rules side by side on tasks that have losses only");
                ui.selectable_value(view, ToyView::Landscape, "Loss landscape")
                    .on_hover_text("Two tasks sharing two parameters: contours, the Pareto set and every rule's path from five starts");
            });
            ui.separator();
        }
        match ctx.settings.toy.view {
            ToyView::Losses => toy_ui(ui, &mut ctx.settings.toy),
            ToyView::Landscape => self.landscape.ui(ui, ctx),
        }
    }
}

fn toy_ui(ui: &mut egui::Ui, panel: &mut ToyState) {
    ui.label(TOY_INTRO);
    settings_ui(ui, panel);
    tasks_ui(ui, panel);
    rules_ui(ui, panel);
    plots_ui(ui, panel);
}

/// Number of tasks, step size, steps and the bounded form.
fn settings_ui(ui: &mut egui::Ui, panel: &mut ToyState) {
    ui.horizontal_wrapped(|ui| {
        let mut tasks = panel.config.tasks();
        ui.label("tasks");
        if ui.add(egui::Slider::new(&mut tasks, 2..=3)).on_hover_text("T = 2 or 3 tasks").changed() {
            let d = ToyConfig::default();
            panel.config.start_losses = d.start_losses[..tasks].to_vec();
            panel.config.floors = d.floors[..tasks].to_vec();
            panel.config.rates = d.rates[..tasks].to_vec();
        }
        ui.label("η");
        ui.add(egui::Slider::new(&mut panel.config.lr, 0.01..=10.0).logarithmic(true)).on_hover_text("Step size of the logits a (and uncertainty's s)");
        ui.label("steps");
        ui.add(egui::Slider::new(&mut panel.config.steps, 10..=5000).logarithmic(true));
        let mut bounded = panel.config.scale.is_some();
        if ui.checkbox(&mut bounded, "bounded w = softmax(s·a/|a|)").on_hover_text("The authors' code normalises the logits and multiplies by s, which bounds every weight").changed() {
            panel.config.scale = if bounded { Some(1.0) } else { None };
        }
        if let Some(s) = &mut panel.config.scale {
            ui.add(egui::Slider::new(s, 0.1..=5.0).text("s"));
        }
    });
}

/// Start loss, floor and learnability of each task.
fn tasks_ui(ui: &mut egui::Ui, panel: &mut ToyState) {
    egui::Grid::new("toy_tasks").show(ui, |ui| {
        ui.label("task");
        ui.label("start loss L(0)");
        ui.label("floor L*");
        ui.label("learnability κ");
        ui.end_row();
        for i in 0..panel.config.tasks() {
            ui.colored_label(TOY_COLOURS[i % 3], format!("task {}", i + 1));
            ui.add(egui::Slider::new(
                &mut panel.config.start_losses[i],
                0.05..=5.0,
            ));
            let max_floor = panel.config.start_losses[i] * 0.99;
            ui.add(egui::Slider::new(
                &mut panel.config.floors[i],
                0.0..=max_floor,
            ));
            ui.add(egui::Slider::new(&mut panel.config.rates[i], 0.01..=1.0));
            ui.end_row();
        }
    });
}

/// The left and right rules, and the static weights when a side uses them.
fn rules_ui(ui: &mut egui::Ui, panel: &mut ToyState) {
    ui.horizontal(|ui| {
        ui.label("left:");
        rule_combo(ui, &mut panel.config.rule, "toy_left");
        ui.label("right:");
        rule_combo(ui, &mut panel.right_rule, "toy_right");
    });
    if panel.config.rule == Strategy::STATIC || panel.right_rule == Strategy::STATIC {
        panel
            .config
            .static_weights
            .resize(panel.config.tasks(), 1.0);
        ui.horizontal(|ui| {
            ui.label("static weights");
            for w in panel.config.static_weights.iter_mut() {
                ui.add(egui::Slider::new(w, 0.0..=1.0));
            }
        });
    }
}

/// Weights above losses for the two rules, side by side.
fn plots_ui(ui: &mut egui::Ui, panel: &mut ToyState) {
    let names = [panel.config.rule.key(), panel.right_rule.key()];
    let tasks = panel.config.tasks();
    let rows = match panel.rows() {
        Ok(r) => r.clone(),
        Err(e) => {
            ui.colored_label(egui::Color32::RED, e.as_str());
            return;
        }
    };
    let height = ((ui.available_height() - 40.0) / 2.0).max(100.0);
    ui.columns(2, |cols| {
        for (k, ui) in cols.iter_mut().enumerate() {
            let run = &rows[k];
            let last = run.last();
            ui.heading(names[k]);
            if let Some(last) = last {
                let text: Vec<String> = (0..tasks)
                    .map(|i| format!("L{} {:.3}", i + 1, last.losses[i]))
                    .collect();
                ui.label(format!("final: {}", text.join(" · ")));
            }
            for (title, weights) in [("weights", true), ("losses", false)] {
                Plot::new(("toy", k, title))
                    .height(height)
                    .legend(Legend::default())
                    .include_y(0.0)
                    .x_axis_label("step")
                    .y_axis_label(title)
                    .link_axis(egui::Id::unique("toy_link"), [true, false])
                    .show(ui, |plot_ui| {
                        for i in 0..tasks {
                            let points: Vec<[f64; 2]> = run
                                .iter()
                                .map(|r| {
                                    [
                                        r.step as f64,
                                        if weights { r.weights[i] } else { r.losses[i] },
                                    ]
                                })
                                .collect();
                            plot_ui.line(
                                Line::new(format!("task {}", i + 1), PlotPoints::from(points))
                                    .color(TOY_COLOURS[i % 3])
                                    .width(2.0),
                            );
                        }
                    });
            }
        }
    });
}
