//! The paper's Fig. 3, live: per run, the task weights (top, y in 0..1) above the task losses,
//! three curves each in the paper's colours, linked x axes, EMA smoothing with the raw curve
//! faint behind, strategy-switch markers, and hover read-outs of every task.

use egui::{Color32, Id};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, Text, VLine};

use super::TASK_COLOURS;
use super::app::{LabApp, Layout};
use super::history::{RunHistory, Series};
use super::lessons::Control;
use super::run::RunStatus;
use crate::protocol::{Command, TASKS, Task};
use crate::train::config::{Perturbation, TaskPerturbation};
use crate::weighting::{Strategy, StrategyConfig};

/// Which of the two plots of a column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Weights,
    Losses,
}

pub fn fig3_ui(app: &mut LabApp, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        if app.shows(Control::Layout) {
            ui.selectable_value(&mut app.settings.layout, Layout::SideBySide, "A | B")
                .on_hover_text("Each run in its own column");
            ui.selectable_value(&mut app.settings.layout, Layout::Overlay, "A over B")
                .on_hover_text("Both runs on one pair of plots: A solid, B dashed");
            ui.separator();
        }
        ui.label("smoothing");
        if ui
            .add(egui::Slider::new(&mut app.settings.smoothing, 0.0..=0.99))
            .on_hover_text("Exponential moving average (TensorBoard's debiased form); the raw curve stays faint behind")
            .changed()
        {
            for run in &mut app.runs {
                run.history.set_smoothing(app.settings.smoothing);
            }
        }
        ui.checkbox(&mut app.settings.wall_time_axis, "x = wall time")
            .on_hover_text("Plot against seconds of training instead of steps");
        let follow = ui
            .add_enabled(!app.follow_latest, egui::Button::new("Follow newest"))
            .on_hover_text("Zooming or panning stops the plots from following the newest step; this brings them back");
        if follow.clicked() {
            app.follow_latest = true;
            app.reset_view = true;
        }
        if app.shows(Control::Explain) {
            ui.checkbox(&mut app.settings.show_explain, "explain")
                .on_hover_text("Show the equations with the current numbers beside the plots");
        }
    });
    ui.separator();
    match app.settings.layout {
        Layout::SideBySide => {
            ui.columns(2, |columns| {
                for (slot, ui) in columns.iter_mut().enumerate() {
                    ui.push_id(slot, |ui| {
                        run_header_ui(app, ui, slot);
                        plots_ui(app, ui, &[slot]);
                    });
                }
            });
        }
        Layout::Overlay => {
            ui.columns(2, |columns| {
                for (slot, ui) in columns.iter_mut().enumerate() {
                    ui.push_id(slot, |ui| run_header_ui(app, ui, slot));
                }
            });
            plots_ui(app, ui, &[0, 1]);
        }
    }
    app.reset_view = false;
}

/// Title, strategy selector, fork and perturbation controls, status of one run.
fn run_header_ui(app: &mut LabApp, ui: &mut egui::Ui, slot: usize) {
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Run {}", app.runs[slot].name));
        ui.label(egui::RichText::new(&app.runs[slot].strategy_label).strong());
        if app.shows(Control::Strategy) {
            let mut config = app.settings.strategies[slot].clone();
            let before = config.clone();
            strategy_selector_ui(ui, &mut config, slot);
            if config != before {
                app.settings.strategies[slot] = config;
                app.apply_strategy(slot);
            }
        }
        if app.shows(Control::Fork)
            && ui
                .add_enabled(app.runs[slot].is_ready() && app.runs[1 - slot].is_ready(), egui::Button::new(format!("Fork into {}", app.runs[1 - slot].name)))
                .on_hover_text(format!(
                    "Copy run {} at its current state into slot {} (history too), to continue it with another weighting",
                    app.runs[slot].name,
                    app.runs[1 - slot].name
                ))
                .clicked()
        {
            app.fork(slot);
        }
    });
    if app.shows(Control::Perturb) {
        ui.horizontal_wrapped(|ui| {
            ui.label("make harder:").on_hover_text("From the next step, make one task harder, or restore it; marked on the plots");
            for task in Task::ALL {
                let current = app.runs[slot].perturbations[task.index()];
                let mut chosen = current;
                egui::ComboBox::from_id_salt(("perturb", slot, task.index()))
                    .selected_text(format!("{}: {}", task.key(), current.key()))
                    .width(140.0)
                    .show_ui(ui, |ui| {
                        for p in [Perturbation::None, Perturbation::ShuffleLabels, Perturbation::Noise] {
                            ui.selectable_value(&mut chosen, p, p.key());
                        }
                    })
                    .response
                    .on_hover_text(format!("{}: shuffle-labels gives every image a random label (unlearnable); noise adds strong noise to the images this task sees", task.label()));
                if chosen != current {
                    app.runs[slot].send(Command::Perturb(TaskPerturbation { task, perturbation: chosen }));
                }
            }
        });
    }
    let run = &app.runs[slot];
    if let RunStatus::Failed(message) = &run.status {
        ui.colored_label(Color32::RED, format!("Run {} failed: {message}", run.name));
    }
    if let Some(w) = &run.warning {
        ui.colored_label(Color32::from_rgb(220, 120, 0), format!("warning: {w}"));
    }
}

/// The strategy combo box and, for static, its three sliders.
pub fn strategy_selector_ui(ui: &mut egui::Ui, config: &mut StrategyConfig, salt: usize) {
    egui::ComboBox::from_id_salt(("strategy", salt))
        .selected_text(config.strategy.key())
        .show_ui(ui, |ui| {
            for s in Strategy::ALL {
                ui.selectable_value(&mut config.strategy, s, s.key())
                    .on_hover_text(s.description());
            }
        })
        .response
        .on_hover_text(format!(
            "{}. Changing it applies at the next step and leaves a marker.",
            config.strategy.description()
        ));
    if config.strategy == Strategy::Static {
        for (i, task) in Task::ALL.iter().enumerate() {
            ui.add(egui::Slider::new(&mut config.static_weights[i], 0.0..=1.0).text(task.key()))
                .on_hover_text("Static weight (normalised to sum 1 when used)");
        }
    }
    if config.strategy == Strategy::Dwa {
        ui.add(egui::Slider::new(&mut config.dwa_window, 1..=200).text("window N"))
            .on_hover_text("DWA's window length in steps");
    }
}

fn x_of(history: &RunHistory, index: usize, wall: bool) -> f64 {
    let r = &history.rows[index];
    if wall { r.wall_secs } else { r.step as f64 }
}

/// Decimated points of a series over the visible x range.
fn series_points(
    history: &RunHistory,
    series: &Series,
    smooth: bool,
    range: (usize, usize),
    columns: usize,
    wall: bool,
) -> Vec<[f64; 2]> {
    let pyramid = if smooth {
        &series.smooth_pyramid
    } else {
        &series.raw_pyramid
    };
    pyramid
        .decimate(range.0, range.1, columns)
        .into_iter()
        .filter(|(i, _)| *i < history.rows.len())
        .map(|(i, y)| [x_of(history, i, wall), y as f64])
        .collect()
}

/// The tasks in words, in their colours (the plots carry no legend box that would hide curves).
fn legend_ui(ui: &mut egui::Ui, overlay: bool) {
    ui.horizontal_wrapped(|ui| {
        for task in Task::ALL {
            ui.colored_label(
                TASK_COLOURS[task.index()],
                format!("— {} ({})", task.key(), task.label()),
            );
        }
        if overlay {
            ui.label("· A solid, B dashed");
        }
    });
}

fn plots_ui(app: &mut LabApp, ui: &mut egui::Ui, slots: &[usize]) {
    legend_ui(ui, slots.len() > 1);
    let height = ((ui.available_height() - 8.0) / 2.0).max(120.0);
    let link = Id::unique("fig3_x_link");
    for quantity in [Quantity::Weights, Quantity::Losses] {
        let hovered = plot_ui(app, ui, slots, quantity, height, link);
        if let Some((slot, index)) = hovered {
            hover_readout(app, ui, slot, index);
        }
    }
}

/// Draw one plot; returns the hovered (slot, row index).
fn plot_ui(
    app: &mut LabApp,
    ui: &mut egui::Ui,
    slots: &[usize],
    quantity: Quantity,
    height: f32,
    link: Id,
) -> Option<(usize, usize)> {
    let wall = app.settings.wall_time_axis;
    let salt = (quantity == Quantity::Weights, slots.to_vec());
    let mut plot = Plot::new(salt)
        .height(height)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .x_axis_label(if wall { "wall time (s)" } else { "step" })
        .y_axis_label(match quantity {
            Quantity::Weights => "task weight w",
            Quantity::Losses => "task loss L",
        })
        .include_y(0.0)
        .label_formatter(|_| None)
        .show_x(false)
        .show_y(false);
    if quantity == Quantity::Weights {
        plot = plot.include_y(1.0).default_y_bounds(0.0, 1.0);
    }
    let reset_view = app.reset_view;
    let mut following = app.follow_latest;
    let response = plot.show(ui, |plot_ui| {
        if reset_view {
            plot_ui.set_auto_bounds([true, true]);
        }
        let auto_x = plot_ui.auto_bounds().x;
        let bounds = plot_ui.plot_bounds();
        let columns = plot_ui.response().rect.width().max(50.0) as usize;
        for (k, &slot) in slots.iter().enumerate() {
            let history = &app.runs[slot].history;
            if history.is_empty() {
                continue;
            }
            let range = if auto_x {
                (0, history.len())
            } else {
                history.visible_range(bounds.min()[0], bounds.max()[0], wall)
            };
            let style = if k == 0 {
                LineStyle::Solid
            } else {
                LineStyle::dashed_loose()
            };
            let series = match quantity {
                Quantity::Weights => &history.weights,
                Quantity::Losses => &history.losses,
            };
            for task in Task::ALL {
                let colour = TASK_COLOURS[task.index()];
                let name = if slots.len() > 1 {
                    format!("{} {} ({})", app.runs[slot].name, task.key(), task.label())
                } else {
                    format!("{} ({})", task.key(), task.label())
                };
                if app.settings.smoothing > 0.0 {
                    let raw =
                        series_points(history, &series[task.index()], false, range, columns, wall);
                    plot_ui.line(
                        Line::new(name.clone(), PlotPoints::from(raw))
                            .color(colour.gamma_multiply(0.25))
                            .width(1.0)
                            .style(style)
                            .allow_hover(false),
                    );
                }
                let smooth =
                    series_points(history, &series[task.index()], true, range, columns, wall);
                plot_ui.line(
                    Line::new(name, PlotPoints::from(smooth))
                        .color(colour)
                        .width(2.0)
                        .style(style),
                );
            }
            let top = match quantity {
                Quantity::Weights => 1.0,
                Quantity::Losses => bounds.max()[1],
            };
            for marker in &history.markers {
                let i = history.rows.partition_point(|r| r.step < marker.step);
                let x = if i < history.len() {
                    x_of(history, i, wall)
                } else {
                    marker.step as f64
                };
                let colour = if k == 0 {
                    Color32::from_rgb(160, 60, 200)
                } else {
                    Color32::from_rgb(60, 160, 120)
                };
                plot_ui.add(
                    VLine::new(format!("{} {}", app.runs[slot].name, marker.label), x)
                        .color(colour)
                        .style(LineStyle::dashed_dense())
                        .allow_hover(false),
                );
                plot_ui.text(
                    Text::new(
                        "",
                        egui_plot::PlotPoint::new(x, top),
                        egui::RichText::new(&marker.label).small().color(colour),
                    )
                    .anchor(egui::Align2::LEFT_TOP),
                );
            }
        }
        if !plot_ui.auto_bounds().x {
            following = false;
        }
        let pointer = plot_ui.pointer_coordinate()?;
        let slot = slots[0];
        let history = &app.runs[slot].history;
        let row = history.row_at(pointer.x, wall)?;
        let index = history.rows.partition_point(|r| r.step < row.step);
        Some((slot, index))
    });
    if !following && app.follow_latest && !reset_view {
        app.follow_latest = false;
    }
    if response.response.hovered() {
        response.inner
    } else {
        None
    }
}

fn hover_readout(app: &LabApp, ui: &mut egui::Ui, _slot: usize, index: usize) {
    let pos = ui.ctx().pointer_hover_pos().unwrap_or_default();
    egui::Area::new(Id::unique("fig3_hover"))
        .fixed_pos(pos + egui::vec2(16.0, 16.0))
        .order(egui::Order::Tooltip)
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                for run in &app.runs {
                    let Some(row) = run
                        .history
                        .rows
                        .get(index.min(run.history.len().saturating_sub(1)))
                    else {
                        continue;
                    };
                    let (ws, ls) = run.history.smoothed_at(index.min(run.history.len() - 1));
                    ui.label(
                        egui::RichText::new(format!(
                            "run {} · step {} · {:.1} s · {}",
                            run.name, row.step, row.wall_secs, row.strategy
                        ))
                        .strong(),
                    );
                    egui::Grid::new(("hover_grid", run.name)).show(ui, |ui| {
                        ui.label("task");
                        ui.label("weight");
                        ui.label("loss");
                        ui.label("smoothed w / L");
                        ui.end_row();
                        for t in 0..TASKS {
                            ui.colored_label(TASK_COLOURS[t], Task::ALL[t].key());
                            ui.label(format!("{:.3}", row.weights[t]));
                            ui.label(format!("{:.3}", row.losses[t]));
                            ui.label(format!("{:.3} / {:.3}", ws[t], ls[t]));
                            ui.end_row();
                        }
                    });
                }
            });
        });
}
