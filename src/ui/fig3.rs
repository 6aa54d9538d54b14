//! The paper's Fig. 3, live: per run, the task weights (top, y in 0..1) above the task losses,
//! three curves each in the paper's colours, linked x axes, EMA smoothing with the raw curve
//! faint behind, strategy-switch markers, and hover read-outs of every task. Older steps are
//! summarised blocks (see `history`): drawn as their min/max envelope, read out as a range.

use crate::lab::PanelCtx;
use crate::ui::view::View;
use egui::{Color32, Id};
use egui_plot::{LineStyle, Plot, PlotPoints, PlotUi, Text, VLine};

use super::colours::{RUN_COLOURS, TASK_COLOURS};
use crate::lab::actions::UiAction;
use crate::lab::history::{Block, Point, Quantity, RunHistory};
use crate::lab::lessons::Control;
use crate::lab::run::{RunSlot, RunStatus};
use crate::lab::settings::{Layout, Settings};
use crate::task::{TASKS, Task};
use crate::train::config::{Perturbation, TaskPerturbation};
use crate::train::metrics::StepMetrics;
use crate::weighting::{Strategy, StrategyConfig};

const SMOOTHING_HOVER: &str =
    "Exponential moving average (TensorBoard's debiased form); the raw curve stays faint behind";
const FOLLOW_HOVER: &str =
    "Zooming or panning stops the plots from following the newest step; this brings them back";
const RUN_PAUSE_HOVER: &str = "Pause this run only; the other keeps training and gets its cores";
const RUN_PLAY_HOVER: &str = "Train this run only (Play in the top bar trains both)";
const EMPTY_HINT: &str = "Press Play — or Space — to train";
const PERTURB_HOVER: &str = "shuffle-labels gives every image a random label (unlearnable); noise adds strong noise to the images this task sees";

/// The Lab tab's own view state.
pub struct Fig3View {
    /// The plots follow the newest step until the user zooms or pans.
    pub follow_latest: bool,
    /// Set for one frame to bring the plots back to following.
    reset_view: bool,
    /// Plots without their darker background: on a software renderer the four backgrounds
    /// are most of the pixels a frame shades while training (see `LabApp::new`).
    pub plain_background: bool,
}

impl Default for Fig3View {
    fn default() -> Self {
        Fig3View {
            follow_latest: true,
            reset_view: false,
            plain_background: false,
        }
    }
}

impl View for Fig3View {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        self.lab_ui(ui, ctx.settings, ctx.runs, ctx.actions);
    }
}

impl Fig3View {
    /// Bring the plots back to following the newest step.
    pub fn follow_newest(&mut self) {
        self.follow_latest = true;
        self.reset_view = true;
    }

    fn lab_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut Settings,
        runs: &[RunSlot; 2],
        actions: &mut Vec<UiAction>,
    ) {
        ui.horizontal_wrapped(|ui| self.view_controls_ui(ui, settings, actions));
        ui.separator();
        match settings.layout {
            Layout::SideBySide => {
                ui.columns(2, |columns| {
                    for (slot, ui) in columns.iter_mut().enumerate() {
                        ui.push_id(slot, |ui| {
                            run_header_ui(ui, settings, runs, slot, actions);
                            self.plots_ui(ui, settings, runs, &[slot]);
                        });
                    }
                });
            }
            Layout::Overlay => {
                ui.columns(2, |columns| {
                    for (slot, ui) in columns.iter_mut().enumerate() {
                        ui.push_id(slot, |ui| run_header_ui(ui, settings, runs, slot, actions));
                    }
                });
                self.plots_ui(ui, settings, runs, &[0, 1]);
            }
        }
        self.reset_view = false;
    }

    fn view_controls_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut Settings,
        actions: &mut Vec<UiAction>,
    ) {
        if settings.shows(Control::Layout) {
            ui.selectable_value(&mut settings.layout, Layout::SideBySide, "A | B")
                .on_hover_text("Each run in its own column");
            ui.selectable_value(&mut settings.layout, Layout::Overlay, "A over B")
                .on_hover_text("Both runs on one pair of plots: A solid, B dashed");
            ui.separator();
        }
        ui.label("smoothing");
        let mut smoothing = settings.smoothing;
        if ui
            .add(egui::Slider::new(&mut smoothing, 0.0..=0.99))
            .on_hover_text(SMOOTHING_HOVER)
            .changed()
        {
            actions.push(UiAction::SetSmoothing(smoothing));
        }
        ui.checkbox(&mut settings.wall_time_axis, "x = wall time")
            .on_hover_text("Plot against seconds of training instead of steps");
        if ui
            .add_enabled(!self.follow_latest, egui::Button::new("Follow newest"))
            .on_hover_text(FOLLOW_HOVER)
            .clicked()
        {
            self.follow_newest();
        }
        if settings.gradients.lens.space.is_some() {
            ui.separator();
            super::gradients::selector_ui(ui, settings);
            ui.separator();
        }
        if settings.shows(Control::Explain) {
            ui.checkbox(&mut settings.show_explain, "explain")
                .on_hover_text("Show the equations with the current numbers beside the plots");
        }
    }

    fn plots_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &Settings,
        runs: &[RunSlot; 2],
        slots: &[usize],
    ) {
        legend_ui(ui, slots.len() > 1);
        // The gradients view joins the weights and losses while the lens is on, or once a run
        // has what it saw (a reopened run, or the lens switched off later).
        let gradients = settings.gradients.lens.space.is_some()
            || slots.iter().any(|&s| !runs[s].history.lens.is_empty());
        let plots = if gradients { 3.0 } else { 2.0 };
        let controls = if gradients { 24.0 } else { 0.0 };
        let height = ((ui.available_height() - 8.0 - controls) / plots).max(100.0);
        let link = Id::unique("fig3_x_link");
        for quantity in Quantity::ALL {
            let hovered = self.plot_ui(ui, settings, runs, slots, quantity, height, link);
            if let Some(x) = hovered {
                hover_readout(ui, runs, x, settings.wall_time_axis);
            }
        }
        if gradients {
            super::gradients::legend_ui(ui, settings, runs);
            let plain = self.plain_background;
            let hovered = super::gradients::plot_ui(ui, settings, runs, slots, height, link, plain);
            if let Some(x) = hovered {
                super::gradients::hover_readout(ui, settings, runs, x);
            }
        }
    }

    /// Draw one plot; returns the x under the pointer while it hovers the plot.
    #[allow(clippy::too_many_arguments)]
    fn plot_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &Settings,
        runs: &[RunSlot; 2],
        slots: &[usize],
        quantity: Quantity,
        height: f32,
        link: Id,
    ) -> Option<f64> {
        let wall = settings.wall_time_axis;
        let reset_view = self.reset_view;
        let mut following = self.follow_latest;
        let implied = slots.iter().any(|&slot| runs[slot].weights_are_implied());
        let frame = plot_frame(quantity, slots, height, link, wall, implied)
            .show_background(!self.plain_background);
        let response = frame.show(ui, |plot_ui| {
            if reset_view {
                plot_ui.set_auto_bounds([true, true]);
            }
            for (k, &slot) in slots.iter().enumerate() {
                let run = &runs[slot];
                if run.history.is_empty() {
                    continue;
                }
                let style = if k == 0 {
                    LineStyle::Solid
                } else {
                    LineStyle::dashed_loose()
                };
                let names = (slots.len() > 1).then_some(run.name);
                draw_series(plot_ui, &run.history, quantity, settings, style, names);
                draw_markers(plot_ui, run, quantity, wall, RUN_COLOURS[k]);
            }
            if !plot_ui.auto_bounds().x {
                following = false;
            }
            plot_ui.pointer_coordinate().map(|p| p.x)
        });
        if quantity == Quantity::Weights && slots.iter().all(|&slot| runs[slot].history.is_empty())
        {
            empty_hint(ui, response.response.rect, &runs[slots[0]]);
        }
        if !following && self.follow_latest && !reset_view {
            self.follow_latest = false;
        }
        if response.response.hovered() {
            response.inner
        } else {
            None
        }
    }
}

/// What an empty plot says, over its middle: how to start, or what the run is waiting for.
fn empty_hint(ui: &mut egui::Ui, plot: egui::Rect, run: &RunSlot) {
    let text = match &run.status {
        RunStatus::Failed(_) => return,
        _ if run.is_ready() => EMPTY_HINT,
        _ => "getting the run ready…",
    };
    let area = egui::Rect::from_center_size(plot.center(), egui::vec2(plot.width(), 40.0));
    ui.put(area, egui::Label::new(egui::RichText::new(text).size(16.0)));
}

/// The empty plot with its axes, labels and links.
fn plot_frame(
    quantity: Quantity,
    slots: &[usize],
    height: f32,
    link: Id,
    wall: bool,
    implied: bool,
) -> Plot<'static> {
    let salt = (quantity == Quantity::Weights, slots.to_vec());
    let plot = Plot::new(salt)
        .height(height)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .x_axis_label(if wall { "wall time (s)" } else { "step" })
        .y_axis_label(match quantity {
            Quantity::Weights if implied => "implied λ (sum 1)",
            Quantity::Weights => "task weight w",
            Quantity::Losses => "task loss L",
        })
        .include_y(0.0)
        .label_formatter(|_| None)
        .show_x(false)
        .show_y(false);
    match quantity {
        Quantity::Weights => plot.include_y(1.0).default_y_bounds(0.0, 1.0),
        Quantity::Losses => plot,
    }
}

/// The three tasks' curves of one run: the raw curve faint, the smoothed one on top.
fn draw_series(
    plot_ui: &mut PlotUi,
    history: &RunHistory,
    quantity: Quantity,
    settings: &Settings,
    style: LineStyle,
    run_name: Option<&str>,
) {
    let wall = settings.wall_time_axis;
    let bounds = plot_ui.plot_bounds();
    let range = if plot_ui.auto_bounds().x {
        (0, history.len())
    } else {
        history.visible_range(bounds.min()[0], bounds.max()[0], wall)
    };
    let columns = plot_ui.response().rect.width().max(50.0) as usize;
    for task in Task::ALL {
        let colour = TASK_COLOURS[task.index()];
        let name = match run_name {
            Some(run) => format!("{run} {} ({})", task.key(), task.label()),
            None => format!("{} ({})", task.key(), task.label()),
        };
        let points = |smooth| {
            PlotPoints::from(history.decimate(quantity, task.index(), smooth, range, columns, wall))
        };
        let raw_too = settings.smoothing > 0.0;
        super::curve::raw_and_smoothed(plot_ui, name, colour, style, raw_too, points);
    }
}

/// A run's markers (rule switches, perturbations, forks) as labelled vertical lines.
fn draw_markers(
    plot_ui: &mut PlotUi,
    run: &RunSlot,
    quantity: Quantity,
    wall: bool,
    colour: Color32,
) {
    let history = &run.history;
    let top = match quantity {
        Quantity::Weights => 1.0,
        Quantity::Losses => plot_ui.plot_bounds().max()[1],
    };
    for marker in &history.markers {
        let x = history.marker_x(marker, wall);
        plot_ui.add(
            VLine::new(format!("{} {}", run.name, marker.label), x)
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

/// Title, strategy selector, fork and perturbation controls, status of one run.
fn run_header_ui(
    ui: &mut egui::Ui,
    settings: &Settings,
    runs: &[RunSlot; 2],
    slot: usize,
    actions: &mut Vec<UiAction>,
) {
    let run = &runs[slot];
    let other = &runs[1 - slot];
    // One row, not wrapped: the run's name, its rule (once: the selector shows it), its own
    // Play/Pause and Fork. Wrapping let the name land under the selector on the first frames.
    ui.horizontal(|ui| {
        ui.heading(format!("Run {}", run.name));
        if settings.shows(Control::Strategy) {
            let mut config = settings.strategies[slot].clone();
            strategy_selector_ui(ui, &mut config, slot);
            if config != settings.strategies[slot] {
                actions.push(UiAction::SetStrategy { slot, config });
            }
            // What the trainer reports it trains with, when it is not (yet) the request.
            let training = run.strategy_label();
            if !training.is_empty() && training != settings.strategy_for(slot).label() {
                ui.label(egui::RichText::new(format!("training: {training}")).weak())
                    .on_hover_text("The trainer applies a change at its next step");
            }
        } else {
            ui.label(egui::RichText::new(run.strategy_label()).strong());
        }
        let (label, hover) = if run.playing {
            ("Pause", RUN_PAUSE_HOVER)
        } else {
            ("Play", RUN_PLAY_HOVER)
        };
        if ui
            .add_enabled(run.is_ready(), egui::Button::new(format!("{label} {}", run.name)))
            .on_hover_text(hover)
            .clicked()
        {
            actions.push(UiAction::SetRunPlaying {
                slot,
                playing: !run.playing,
            });
        }
        let fork_hover = format!(
            "Copy run {} at its current state into slot {} (history too), to continue it with another weighting",
            run.name, other.name
        );
        if settings.shows(Control::Fork)
            && ui
                .add_enabled(
                    run.is_ready() && other.is_ready(),
                    egui::Button::new(format!("Fork to {}", other.name)),
                )
                .on_hover_text(fork_hover)
                .clicked()
        {
            actions.push(UiAction::Fork { from: slot });
        }
    });
    if settings.shows(Control::Perturb) {
        ui.horizontal_wrapped(|ui| perturb_ui(ui, run, slot, actions));
    }
    if let RunStatus::Failed(message) = &run.status {
        ui.colored_label(Color32::RED, format!("Run {} failed: {message}", run.name));
    }
    if let Some(w) = &run.warning {
        ui.colored_label(Color32::from_rgb(220, 120, 0), format!("warning: {w}"));
    }
}

fn perturb_ui(ui: &mut egui::Ui, run: &RunSlot, slot: usize, actions: &mut Vec<UiAction>) {
    ui.label("make harder:").on_hover_text(
        "From the next step, make one task harder, or restore it; marked on the plots",
    );
    for task in Task::ALL {
        let current = run.perturbations[task.index()];
        let mut chosen = current;
        egui::ComboBox::from_id_salt(("perturb", slot, task.index()))
            .selected_text(format!("{}: {}", task.key(), current.key()))
            .width(110.0)
            .show_ui(ui, |ui| {
                for p in [
                    Perturbation::None,
                    Perturbation::ShuffleLabels,
                    Perturbation::Noise,
                ] {
                    ui.selectable_value(&mut chosen, p, p.key());
                }
            })
            .response
            .on_hover_text(format!("{}: {PERTURB_HOVER}", task.label()));
        if chosen != current {
            actions.push(UiAction::Perturb {
                slot,
                change: TaskPerturbation {
                    task,
                    perturbation: chosen,
                },
            });
        }
    }
}

/// The strategy combo box and, for static, its three sliders.
pub fn strategy_selector_ui(ui: &mut egui::Ui, config: &mut StrategyConfig, salt: usize) {
    egui::ComboBox::from_id_salt(("strategy", salt))
        .selected_text(config.strategy.key())
        .show_ui(ui, |ui| {
            for s in Strategy::all() {
                ui.selectable_value(&mut config.strategy, s, s.key())
                    .on_hover_text(s.description());
            }
        })
        .response
        .on_hover_text(format!(
            "{}. Changing it applies at the next step and leaves a marker.",
            config.strategy.description()
        ));
    if config.strategy == Strategy::STATIC {
        for (i, task) in Task::ALL.iter().enumerate() {
            ui.add(
                egui::Slider::new(&mut config.settings.static_weights[i], 0.0..=1.0)
                    .text(task.key()),
            )
            .on_hover_text("Static weight (normalised to sum 1 when used)");
        }
    }
    if config.strategy == Strategy::DWA {
        ui.add(egui::Slider::new(&mut config.settings.dwa_window, 1..=200).text("window N"))
            .on_hover_text("DWA's window length in steps");
    }
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

fn hover_readout(ui: &mut egui::Ui, runs: &[RunSlot; 2], x: f64, wall: bool) {
    let pos = ui.ctx().pointer_hover_pos().unwrap_or_default();
    egui::Area::new(Id::unique("fig3_hover"))
        .fixed_pos(pos + egui::vec2(16.0, 16.0))
        .order(egui::Order::Tooltip)
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                for run in runs {
                    readout_ui(ui, run, x, wall);
                }
            });
        });
}

/// The run's point nearest to the pointer: a row's numbers, or a block's range.
fn readout_ui(ui: &mut egui::Ui, run: &RunSlot, x: f64, wall: bool) {
    let history = &run.history;
    let Some(index) = history.row_at(x, wall) else {
        return;
    };
    let smoothed = history.smoothed_at(index);
    match history.point(index) {
        Some(Point::Row(row)) => row_readout_ui(ui, run.name, row, smoothed),
        Some(Point::Block(block)) => block_readout_ui(ui, run.name, block, smoothed),
        None => {}
    }
}

type Smoothed = ([f32; TASKS], [f32; TASKS]);

fn row_readout_ui(ui: &mut egui::Ui, name: &str, row: &StepMetrics, (ws, ls): Smoothed) {
    ui.label(
        egui::RichText::new(format!(
            "run {name} · step {} · {:.1} s · {}",
            row.step, row.wall_secs, row.strategy
        ))
        .strong(),
    );
    egui::Grid::new(("hover_grid", name)).show(ui, |ui| {
        for h in ["task", "weight", "loss", "smoothed w / L"] {
            ui.label(h);
        }
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

/// An older stretch the history keeps only as a summary: its steps, then mean and range.
fn block_readout_ui(ui: &mut egui::Ui, name: &str, block: &Block, (ws, ls): Smoothed) {
    ui.label(
        egui::RichText::new(format!(
            "run {name} · steps {}..{} ({} summarised) · {:.1}–{:.1} s · {}",
            block.first_step,
            block.last_step,
            block.steps,
            block.first_wall,
            block.last_wall,
            block.strategy
        ))
        .strong(),
    );
    let mean_range = |q: Quantity, t: usize| {
        let s = block.summary(q, t, false);
        format!("{:.3} ({:.3}–{:.3})", s.mean, s.min, s.max)
    };
    egui::Grid::new(("hover_grid", name)).show(ui, |ui| {
        for h in [
            "task",
            "weight mean (min–max)",
            "loss mean (min–max)",
            "smoothed w / L",
        ] {
            ui.label(h);
        }
        ui.end_row();
        for t in 0..TASKS {
            ui.colored_label(TASK_COLOURS[t], Task::ALL[t].key());
            ui.label(mean_range(Quantity::Weights, t));
            ui.label(mean_range(Quantity::Losses, t));
            ui.label(format!("{:.3} / {:.3}", ws[t], ls[t]));
            ui.end_row();
        }
    });
}
