//! The gradients view under each run's Fig. 3: what the gradient lens saw on the steps it
//! looked — the tasks' pairwise cosines (below 0 they pull the shared layers apart), each
//! task's share of the update, and the alignments cos(d, g_i) (whom the update serves) — with
//! the same x axis (linked), smoothing and hover read-outs as the weights and losses.

use egui::{Color32, Id};
use egui_plot::{HLine, LineStyle, Plot, PlotPoints};

use super::colours::{PAIR_COLOURS, TASK_COLOURS};
use crate::lab::history::lens::{LensHistory, LensPoint, LensQuantity};
use crate::lab::run::RunSlot;
use crate::lab::settings::Settings;
use crate::task::{TASKS, Task};
use crate::train::lens::{GradSpace, PAIRS};

/// The name of curve `curve` of `quantity`.
pub fn curve_name(quantity: LensQuantity, curve: usize) -> String {
    match quantity {
        LensQuantity::Cosines => {
            let (a, b) = PAIRS[curve];
            format!("{}·{}", Task::ALL[a].key(), Task::ALL[b].key())
        }
        _ => Task::ALL[curve].key().to_string(),
    }
}

fn curve_colour(quantity: LensQuantity, curve: usize) -> Color32 {
    match quantity {
        LensQuantity::Cosines => PAIR_COLOURS[curve],
        _ => TASK_COLOURS[curve],
    }
}

/// The lens's space for a run: what its trainer reports, else what the settings ask.
fn space_of(run: &RunSlot, settings: &Settings) -> Option<GradSpace> {
    run.applied
        .as_ref()
        .map_or(settings.gradients.lens.space, |a| a.gradients.lens.space)
}

/// Which of the lens's quantities the gradients view shows (a view option).
pub fn selector_ui(ui: &mut egui::Ui, settings: &mut Settings) {
    ui.label("gradients:");
    for q in LensQuantity::ALL {
        ui.selectable_value(&mut settings.lens_view, q, q.label())
            .on_hover_text(quantity_hover(q));
    }
}

/// The legend, in the pair's or task's colours; in the `z` space the visual·cari pair is
/// marked as 0 by construction.
pub fn legend_ui(ui: &mut egui::Ui, settings: &Settings, runs: &[RunSlot; 2]) {
    ui.horizontal_wrapped(|ui| {
        ui.label(settings.lens_view.label());
        let quantity = settings.lens_view;
        let in_z = runs
            .iter()
            .any(|r| space_of(r, settings) == Some(GradSpace::Z));
        for (curve, pair) in PAIRS.iter().enumerate() {
            let mut text = curve_name(quantity, curve);
            if quantity == LensQuantity::Cosines && in_z && *pair == (1, 2) {
                text.push_str(" (0 by construction in z: disjoint images)");
            }
            ui.colored_label(curve_colour(quantity, curve), format!("— {text}"));
        }
    });
}

fn quantity_hover(q: LensQuantity) -> &'static str {
    match q {
        LensQuantity::Cosines => {
            "cos(g_i, g_j) of the tasks' own gradients on the shared part: below 0 the two tasks pull the shared layers apart"
        }
        LensQuantity::Shares => {
            "each task's share of the update: w_i⟨g_i, d⟩/‖d‖², summing to 1 when the update is Σ w_i g_i; a negative share works against it"
        }
        LensQuantity::Alignments => {
            "cos(d, g_i): how well the update d serves each task; the highest is the task the update follows"
        }
    }
}

/// One run's (or both runs') gradients plot, `size` large; returns its whole rectangle (axes
/// included) and the x under the pointer while hovered.
pub fn plot_ui(
    ui: &mut egui::Ui,
    settings: &Settings,
    runs: &[RunSlot; 2],
    slots: &[usize],
    size: egui::Vec2,
    link: Id,
    plain_background: bool,
) -> (egui::Rect, Option<f64>) {
    let quantity = settings.lens_view;
    let wall = settings.wall_time_axis;
    let plot = Plot::new(("gradients", slots.to_vec()))
        .width(size.x)
        .height(size.y)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .x_axis_label(if wall { "wall time (s)" } else { "step" })
        .y_axis_label(quantity.label())
        .include_y(-1.0)
        .include_y(1.0)
        .label_formatter(|_| None)
        .show_x(false)
        .show_y(false)
        .show_background(!plain_background);
    // Before the first step, the same x axis as the empty weights and losses above.
    let plot = if slots.iter().all(|&s| runs[s].history.is_empty()) {
        plot.include_x(0.0).include_x(super::curve::EMPTY_STEPS)
    } else {
        plot
    };
    let scoped = ui.scope(|ui| {
        plot.show(ui, |plot_ui| {
            plot_ui.hline(HLine::new("0", 0.0).color(Color32::GRAY).width(0.5));
            let columns = plot_ui.response().rect.width().max(50.0) as usize;
            for (k, &slot) in slots.iter().enumerate() {
                let lens = &runs[slot].history.lens;
                let style = if k == 0 {
                    LineStyle::Solid
                } else {
                    LineStyle::dashed_loose()
                };
                for curve in 0..TASKS {
                    let name = curve_name(quantity, curve);
                    let colour = curve_colour(quantity, curve);
                    let points = |smooth| {
                        PlotPoints::from(decimate(lens, quantity, curve, smooth, columns, wall))
                    };
                    let raw_too = settings.smoothing > 0.0;
                    super::curve::raw_and_smoothed(plot_ui, name, colour, style, raw_too, points);
                }
            }
            plot_ui.pointer_coordinate().map(|p| p.x)
        })
    });
    let response = scoped.inner;
    if slots.iter().all(|&s| runs[s].history.lens.is_empty()) {
        let text = if slots
            .iter()
            .all(|&s| space_of(&runs[s], settings).is_none())
        {
            "the gradient lens is off (top bar: lens)"
        } else {
            "the lens looks at the tasks' gradients once the run trains"
        };
        let rect = response.response.rect;
        let area = egui::Rect::from_center_size(rect.center(), egui::vec2(rect.width(), 30.0));
        ui.put(area, egui::Label::new(egui::RichText::new(text).weak()));
    }
    let hovered = response
        .response
        .hovered()
        .then_some(response.inner)
        .flatten();
    (scoped.response.rect, hovered)
}

/// About two points per column: every k-th look (the curves are already smooth).
fn decimate(
    lens: &LensHistory,
    quantity: LensQuantity,
    curve: usize,
    smooth: bool,
    columns: usize,
    wall: bool,
) -> Vec<[f64; 2]> {
    let points = lens.points();
    let stride = (points.len() / (2 * columns).max(1)).max(1);
    let x = |p: &LensPoint| if wall { p.wall_secs } else { p.step as f64 };
    let mut out: Vec<[f64; 2]> = points
        .iter()
        .step_by(stride)
        .map(|p| [x(p), f64::from(p.value(quantity, curve, smooth))])
        .collect();
    // The newest look always shows.
    if let Some(last) = points.last()
        && out.last().is_none_or(|p| p[0] != x(last))
    {
        out.push([x(last), f64::from(last.value(quantity, curve, smooth))]);
    }
    out
}

/// The hover read-out: each run's smoothed values at the look nearest to x.
pub fn hover_readout(ui: &mut egui::Ui, settings: &Settings, runs: &[RunSlot; 2], x: f64) {
    let quantity = settings.lens_view;
    for run in runs {
        let Some(p) = run.history.lens.nearest(x, settings.wall_time_axis) else {
            continue;
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("{} step {}:", run.name, p.step));
            for curve in 0..TASKS {
                ui.colored_label(
                    curve_colour(quantity, curve),
                    format!(
                        "{} {:+.2}",
                        curve_name(quantity, curve),
                        p.value(quantity, curve, settings.smoothing > 0.0)
                    ),
                );
            }
        });
    }
}
