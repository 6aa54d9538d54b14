//! The paper's Fig. 3, live: per run, the task weights (top, y in 0..1) above the task losses,
//! three curves each in the paper's colours, linked x axes, EMA smoothing with the raw curve
//! faint behind, strategy-switch markers, and hover read-outs of every task. Older steps are
//! summarised blocks (see `history`): drawn as their min/max envelope, read out as a range.

use crate::lab::PanelCtx;
use crate::ui::view::View;
use egui::{Color32, Id};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, PlotUi, Span, Text, VLine};

use super::colours::{RUN_COLOURS, TASK_COLOURS};
use crate::lab::actions::UiAction;
use crate::lab::history::{Block, Marker, Point, Quantity, RunHistory};
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
    /// Every plot drawn in the last frame, where and with what y range (the UI tests check
    /// that no two overlap).
    pub drawn_plots: Vec<DrawnPlot>,
    /// The value each run's "hold" control holds each task's weight at (set when a hold starts
    /// from the weight then shown, moved by dragging).
    hold_values: [[f64; TASKS]; 2],
}

/// One plot as drawn: its whole rectangle (axes and labels included) and its y axis.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnPlot {
    /// The weights or the losses; `None`: the gradients view.
    pub quantity: Option<Quantity>,
    pub rect: egui::Rect,
    pub y_range: (f64, f64),
    /// Where the empty plot's "Press Play" hint sits, if it has one.
    pub hint: Option<egui::Rect>,
}

impl Default for Fig3View {
    fn default() -> Self {
        Fig3View {
            follow_latest: true,
            reset_view: false,
            plain_background: false,
            drawn_plots: Vec::new(),
            hold_values: [[1.0 / TASKS as f64; TASKS]; 2],
        }
    }
}

/// The least height a plot gets; below it a small window scrolls the last plot off the
/// bottom rather than draw plots over each other.
const MIN_PLOT_HEIGHT: f32 = 90.0;

/// The height each of `plots` stacked plots gets from what is left of `ui`'s height, with
/// the item spacing between them: the column is shared, however many plots a run shows.
pub fn stacked_plot_height(ui: &egui::Ui, plots: usize, other_px: f32) -> f32 {
    let plots = plots.max(1) as f32;
    let gaps = ui.spacing().item_spacing.y * (plots - 1.0);
    ((ui.available_height() - gaps - other_px) / plots).max(MIN_PLOT_HEIGHT)
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
        self.drawn_plots.clear();
        ui.horizontal_wrapped(|ui| self.view_controls_ui(ui, settings, actions));
        ui.separator();
        match settings.layout {
            Layout::SideBySide => {
                ui.columns(2, |columns| {
                    for (slot, ui) in columns.iter_mut().enumerate() {
                        ui.push_id(slot, |ui| {
                            let width = ui.available_width();
                            self.run_header_ui(ui, settings, runs, slot, actions);
                            self.plots_ui(ui, settings, runs, &[slot], width);
                        });
                    }
                });
            }
            Layout::Overlay => {
                let width = ui.available_width();
                ui.columns(2, |columns| {
                    for (slot, ui) in columns.iter_mut().enumerate() {
                        ui.push_id(slot, |ui| {
                            self.run_header_ui(ui, settings, runs, slot, actions)
                        });
                    }
                });
                self.plots_ui(ui, settings, runs, &[0, 1], width);
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

    /// The plots of `slots`, stacked, each `width` wide (the column's own width: a header
    /// wider than its column must not widen them) and sharing the height left.
    fn plots_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &Settings,
        runs: &[RunSlot; 2],
        slots: &[usize],
        width: f32,
    ) {
        legend_ui(ui, slots.len() > 1);
        // The gradients view joins the weights and losses while the lens is on, or once a run
        // has what it saw (a reopened run, or the lens switched off later).
        let gradients = settings.gradients.lens.space.is_some()
            || slots.iter().any(|&s| !runs[s].history.lens.is_empty());
        let plots = Quantity::ALL.len() + usize::from(gradients);
        // The gradients view's legend sits between the plots: room for it on up to two lines.
        let legend = if gradients {
            2.0 * (ui.spacing().interact_size.y + ui.spacing().item_spacing.y)
        } else {
            0.0
        };
        let size = egui::vec2(width, stacked_plot_height(ui, plots, legend));
        let link = Id::unique("fig3_x_link");
        for quantity in Quantity::ALL {
            let hovered = self.plot_ui(ui, settings, runs, slots, quantity, size, link);
            if let Some(x) = hovered {
                hover_readout(ui, runs, x, settings.wall_time_axis);
            }
        }
        if gradients {
            super::gradients::legend_ui(ui, settings, runs);
            let plain = self.plain_background;
            let (rect, hovered) =
                super::gradients::plot_ui(ui, settings, runs, slots, size, link, plain);
            self.drawn_plots.push(DrawnPlot {
                quantity: None,
                rect,
                y_range: (-1.0, 1.0),
                hint: None,
            });
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
        size: egui::Vec2,
        link: Id,
    ) -> Option<f64> {
        let wall = settings.wall_time_axis;
        let reset_view = self.reset_view;
        let mut following = self.follow_latest;
        let empty = slots.iter().all(|&slot| runs[slot].history.is_empty());
        let implied = slots.iter().any(|&slot| runs[slot].weights_are_implied());
        let frame = plot_frame(quantity, slots, size, link, wall, empty, implied)
            .show_background(!self.plain_background);
        let scoped = ui.scope(|ui| {
            frame.show(ui, |plot_ui| {
                if reset_view {
                    plot_ui.set_auto_bounds([true, true]);
                }
                let mut highest = 0.0_f64;
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
                    let top = draw_series(plot_ui, &run.history, quantity, settings, style, names);
                    highest = highest.max(top);
                    if quantity == Quantity::Weights {
                        draw_holds(plot_ui, run, wall);
                    }
                    draw_markers(plot_ui, run, quantity, wall, RUN_COLOURS[k]);
                }
                if quantity == Quantity::Losses {
                    headroom(plot_ui, highest);
                }
                if !plot_ui.auto_bounds().x {
                    following = false;
                }
                plot_ui.pointer_coordinate().map(|p| p.x)
            })
        });
        let response = scoped.inner;
        let bounds = response.transform.bounds();
        let hint = if quantity == Quantity::Weights && empty {
            empty_hint(ui, response.response.rect, &runs[slots[0]])
        } else {
            None
        };
        self.drawn_plots.push(DrawnPlot {
            quantity: Some(quantity),
            rect: scoped.response.rect,
            y_range: (bounds.min()[1], bounds.max()[1]),
            hint,
        });
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

/// Room above the top of the weight and loss axes, as a fraction of their height.
const TOP_ROOM_FRACTION: f64 = 0.05;

/// Room above the highest loss drawn: the loss plot has no margin of its own in y (so its axis
/// starts at 0, never below: a loss is not negative), and this invisible line sets its top
/// (0..1 before there is any loss, with the same room, so that the "1" is labelled).
fn headroom(plot_ui: &mut PlotUi, highest: f64) {
    let scale = if highest > 0.0 { highest } else { 1.0 };
    let top = scale * (1.0 + TOP_ROOM_FRACTION);
    // At x = 0, where steps and seconds start: it widens no axis the curves do not start at.
    // Drawn with no width: egui_plot takes a transparent colour for "pick one", and the line
    // once showed in red.
    plot_ui.line(
        Line::new("", PlotPoints::from(vec![[0.0, 0.0], [0.0, top]]))
            .width(0.0)
            .allow_hover(false),
    );
}

/// What an empty plot says, over its middle: how to start, or what the run is waiting for.
/// Placed without moving the layout's cursor (`put` moved it to the plot's middle, so the
/// next plot started there, over this one). Returns where it sits.
fn empty_hint(ui: &mut egui::Ui, plot: egui::Rect, run: &RunSlot) -> Option<egui::Rect> {
    let text = match &run.status {
        RunStatus::Failed(_) => return None,
        _ if run.is_ready() => EMPTY_HINT,
        _ => "getting the run ready…",
    };
    let area = egui::Rect::from_center_size(plot.center(), egui::vec2(plot.width(), 40.0));
    let response = ui.place(area, egui::Label::new(egui::RichText::new(text).size(16.0)));
    Some(response.rect)
}

/// The empty plot with its axes, labels and links. Weights span 0..1; losses start at 0 (0..1
/// before the first step) and end a little above the highest drawn (see `headroom`).
fn plot_frame(
    quantity: Quantity,
    slots: &[usize],
    size: egui::Vec2,
    link: Id,
    wall: bool,
    empty: bool,
    implied: bool,
) -> Plot<'static> {
    let salt = (quantity == Quantity::Weights, slots.to_vec());
    let plot = Plot::new(salt)
        .width(size.x)
        .height(size.y)
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
    // Before the first step: steps from 0, not an axis centred on step 0. (Included, not
    // default bounds: those would stay in the plot's memory once the steps come.)
    let plot = if empty {
        plot.include_x(0.0).include_x(super::curve::EMPTY_STEPS)
    } else {
        plot
    };
    match quantity {
        // A little room above 1: egui_plot leaves out a tick label that sits on the plot's
        // top edge, so with bounds of exactly 0..1 the weight axis read only "0".
        Quantity::Weights => plot
            .include_y(1.0)
            .default_y_bounds(0.0, 1.0 + TOP_ROOM_FRACTION),
        Quantity::Losses => plot.set_margin_fraction(egui::vec2(0.05, 0.0)),
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
) -> f64 {
    let wall = settings.wall_time_axis;
    let mut highest = f64::NEG_INFINITY;
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
        // A Cell: the curve helper takes an `Fn`.
        let top = std::cell::Cell::new(highest);
        let points = |smooth| {
            let points = history.decimate(quantity, task.index(), smooth, range, columns, wall);
            top.set(points.iter().map(|p| p[1]).fold(top.get(), f64::max));
            PlotPoints::from(points)
        };
        let raw_too = settings.smoothing > 0.0;
        super::curve::raw_and_smoothed(plot_ui, name, colour, style, raw_too, points);
        highest = top.get();
    }
    highest
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

impl Fig3View {
    /// Title, strategy selector, fork, perturbation and hold controls, status of one run.
    fn run_header_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &Settings,
        runs: &[RunSlot; 2],
        slot: usize,
        actions: &mut Vec<UiAction>,
    ) {
        let run = &runs[slot];
        let other = &runs[1 - slot];
        // The run's name and its rule (once: the selector shows it) on one row that never breaks
        // (wrapping them let the name land under the selector on the first frames); its own
        // Play/Pause and Fork after them, on the next row when the column is narrow (one unbroken
        // row wider than the column pushed the plots under the other run's).
        ui.horizontal_wrapped(|ui| {
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
        });
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
        if settings.shows(Control::Hold) {
            ui.horizontal_wrapped(|ui| {
                hold_ui(ui, run, slot, &mut self.hold_values[slot], actions)
            });
        }
        script_ui(ui, settings, run, slot, actions);
        if let RunStatus::Failed(message) = &run.status {
            ui.colored_label(Color32::RED, format!("Run {} failed: {message}", run.name));
        }
        if let Some(w) = &run.warning {
            ui.colored_label(Color32::from_rgb(220, 120, 0), format!("warning: {w}"));
        }
    }
}

const HOLD_HOVER: &str = "Hold this task's weight at the value for as long as it is ticked (or drag the value: that holds it too): the rule decides the other two weights, which keep their ratio and share the rest, and takes over again when you untick. The weight plot shades the steps held.";

/// Per task: a tick that holds its weight and the value it is held at.
fn hold_ui(
    ui: &mut egui::Ui,
    run: &RunSlot,
    slot: usize,
    values: &mut [f64; TASKS],
    actions: &mut Vec<UiAction>,
) {
    ui.label("hold w:").on_hover_text(HOLD_HOVER);
    let latest = run.history.rows().last().map(|r| r.weights);
    for task in Task::ALL {
        let i = task.index();
        let held = run.holds[i].is_some();
        if !held && let Some(weights) = latest {
            // Not held: the value follows the weight, so a hold starts where the weight is.
            values[i] = f64::from(weights[i]);
        }
        let ready = run.is_ready();
        let mut ticked = held;
        let label = egui::RichText::new(task.key()).color(TASK_COLOURS[i]);
        let tick = ui
            .add_enabled(ready, egui::Checkbox::new(&mut ticked, label))
            .on_hover_text(HOLD_HOVER);
        let dragged = ui
            .add_enabled(
                ready,
                egui::DragValue::new(&mut values[i])
                    .range(0.0..=1.0)
                    .speed(0.005)
                    .fixed_decimals(2),
            )
            .on_hover_text(HOLD_HOVER);
        let value = if tick.changed() && !ticked {
            None
        } else {
            Some(values[i])
        };
        if tick.changed() || dragged.changed() {
            actions.push(UiAction::Hold { slot, task, value });
        }
    }
}

/// The run's scripted perturbations and holds (from a lab code or lesson), if any, and a way
/// to drop them for the next Reset.
fn script_ui(
    ui: &mut egui::Ui,
    settings: &Settings,
    run: &RunSlot,
    slot: usize,
    actions: &mut Vec<UiAction>,
) {
    let next = &settings.scripts[slot];
    if run.script.is_empty() && next.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        let shown = if run.script.is_empty() { next } else { &run.script };
        ui.label(egui::RichText::new(format!("script: {}", shown.summary())).weak())
            .on_hover_text("Perturbations and held weights by step, from the lab code or lesson this lab was opened with; the plots mark them as the run reaches them");
        if !next.is_empty()
            && ui
                .small_button("clear")
                .on_hover_text("Start the next Reset without them")
                .clicked()
        {
            actions.push(UiAction::ClearScript(slot));
        }
    });
}

/// The steps each weight was held: a band in the task's colour, the held value as a dashed
/// line, and a label.
fn draw_holds(plot_ui: &mut PlotUi, run: &RunSlot, wall: bool) {
    let history = &run.history;
    for hold in run.held_spans() {
        let colour = TASK_COLOURS[hold.task.index()];
        let x = |step: u64| history.marker_x(&Marker::new(step, String::new()), wall);
        let (x0, x1) = (x(hold.from_step), x(hold.to_step));
        plot_ui.span(
            Span::new(format!("{} {} held", run.name, hold.task.key()), x0..=x1)
                .fill(colour.gamma_multiply(0.12))
                .border_width(0.0),
        );
        plot_ui.line(
            Line::new(
                "",
                PlotPoints::from(vec![[x0, hold.value], [x1, hold.value]]),
            )
            .color(colour)
            .width(1.0)
            .style(LineStyle::dashed_dense())
            .allow_hover(false),
        );
        plot_ui.text(
            Text::new(
                "",
                egui_plot::PlotPoint::new(x0, hold.value),
                egui::RichText::new(format!("{} held {:.2}", hold.task.key(), hold.value))
                    .small()
                    .color(colour),
            )
            .anchor(egui::Align2::LEFT_BOTTOM),
        );
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
