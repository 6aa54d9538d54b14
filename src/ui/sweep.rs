//! The Sweep tab: a `compare` folder, finished or still training, as bands over seeds. Table I
//! as mean ± sample sd with n, each rule paired against a baseline rule (by seed, 95 % t
//! interval), Δm against the single-task runs; each rule's mean curve with a band (95 % t
//! interval, ± sd or min–max) for a Table-I metric or for the weights above the losses (Fig. 3
//! over seeds); and every run, to open into A or B (it trains on from its checkpoint).

use egui_plot::{ColorConflictHandling, FilledArea, Legend, Line, Plot, PlotPoints, PlotUi};

use super::colours::{TASK_COLOURS, rule_colour};
use crate::eval::paired::cell;
use crate::eval::stats::BandKind;
use crate::eval::{METRIC_KEYS, metric_title};
use crate::lab::PanelCtx;
use crate::lab::actions::UiAction;
use crate::lab::files::FileAction;
use crate::lab::sweep::{Figure, SweepCurves, SweepRow, SweepState};
use crate::task::{TASKS, Task};
use crate::train::sweep::curves::{Curve, RuleCurves, SweepSnapshot};
use crate::ui::view::View;

const BAND_HOVER: &str = "The band around each rule's mean over its runs: the 95 % t interval of the mean (n − 1 degrees of freedom), ± one sample sd, or the lowest and highest run";
const BASELINE_HOVER: &str = "Each rule minus this one, paired by seed (runs that share a seed share their data, initial weights and batches), with a 95 % t interval on n − 1 seeds; over folds, paired by fold";
const DELTA_M_HOVER: &str = "Δm (LibMTL): the mean over metrics of the signed relative change against the single-task run of the metric's task, in %; over the metrics whose single-task run is in the sweep (k of them)";
const EMPTY_HINT: &str = "Open a folder written by `cari-mtl compare` (Files → Open sweep…, or `cari-mtl --open-sweep DIR`): finished or still training, its runs appear as they finish. For curves of the metrics over steps, run compare with --eval-every N.";
/// Fig. 3 small multiples drawn at most (each is two plots).
const MAX_SMALL_MULTIPLES: usize = 5;

#[derive(Default)]
pub struct SweepPanel;

impl View for SweepPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        sweep_ui(ui, ctx.sweep, ctx.actions);
    }
}

fn sweep_ui(ui: &mut egui::Ui, sweep: &mut SweepState, actions: &mut Vec<UiAction>) {
    let Some(snapshot) = sweep.snapshot.clone() else {
        empty_ui(ui, sweep, actions);
        return;
    };
    ui.horizontal_wrapped(|ui| header_ui(ui, sweep, &snapshot, actions));
    ui.horizontal_wrapped(|ui| options_ui(ui, sweep, &snapshot));
    ui.separator();
    let tables_height = (ui.available_height() * 0.42).max(140.0);
    egui::ScrollArea::both()
        .id_salt("sweep_tables")
        .max_height(tables_height)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            let baseline = sweep.baseline().unwrap_or_default();
            let rows = sweep.rows();
            table_ui(ui, rows, &snapshot);
            paired_ui(ui, rows, &baseline);
            runs_ui(ui, &snapshot, actions);
        });
    ui.separator();
    curves_ui(ui, sweep, &snapshot);
}

fn empty_ui(ui: &mut egui::Ui, sweep: &SweepState, actions: &mut Vec<UiAction>) {
    ui.heading("Sweep");
    if let Some(error) = &sweep.error {
        ui.colored_label(egui::Color32::from_rgb(200, 60, 60), error);
    } else if sweep.loading() {
        ui.horizontal(|ui| {
            ui.spinner();
            let dir = sweep.dir.as_ref().map(|d| d.display().to_string());
            ui.label(format!("reading {} …", dir.unwrap_or_default()));
        });
        return;
    }
    ui.label(EMPTY_HINT);
    if ui.button("Open sweep…").clicked() {
        actions.push(UiAction::OpenFile(FileAction::OpenSweep));
    }
}

fn header_ui(
    ui: &mut egui::Ui,
    sweep: &SweepState,
    snapshot: &SweepSnapshot,
    actions: &mut Vec<UiAction>,
) {
    let (finished, running, failed, missing) = snapshot.counts;
    let shape = snapshot.sweep.as_ref().map_or(String::new(), |s| {
        let folds = if s.folds.is_empty() {
            String::new()
        } else {
            format!(" × {} folds", s.folds.len())
        };
        format!(
            "{} rules × {} seeds{folds} × {} steps · ",
            s.strategies.len(),
            s.seeds,
            s.steps
        )
    });
    ui.label(egui::RichText::new(snapshot.dir.display().to_string()).strong());
    ui.label(format!(
        "{shape}{finished} finished, {running} running, {failed} failed, {missing} missing"
    ));
    if let Some(secs) = sweep.open_secs {
        ui.label(format!("· read in {secs:.2} s"));
    }
    if let Some(error) = &sweep.error {
        ui.colored_label(egui::Color32::from_rgb(200, 60, 60), error);
    }
    if ui.button("Open sweep…").clicked() {
        actions.push(UiAction::OpenFile(FileAction::OpenSweep));
    }
    if ui.button("Close").clicked() {
        actions.push(UiAction::CloseSweep);
    }
}

fn options_ui(ui: &mut egui::Ui, sweep: &mut SweepState, snapshot: &SweepSnapshot) {
    ui.label("band").on_hover_text(BAND_HOVER);
    for kind in BandKind::ALL {
        ui.selectable_value(&mut sweep.band, kind, kind.label())
            .on_hover_text(BAND_HOVER);
    }
    ui.separator();
    ui.label("baseline").on_hover_text(BASELINE_HOVER);
    let current = sweep.baseline().unwrap_or_default();
    egui::ComboBox::from_id_salt("sweep_baseline")
        .selected_text(&current)
        .show_ui(ui, |ui| {
            for rule in &snapshot.collected.strategies {
                if ui.selectable_label(*rule == current, rule).clicked() {
                    sweep.baseline = Some(rule.clone());
                }
            }
        });
    ui.separator();
    ui.label("curves");
    egui::ComboBox::from_id_salt("sweep_curves")
        .selected_text(curves_title(sweep.curves))
        .show_ui(ui, |ui| {
            let choices = std::iter::once(SweepCurves::WeightsAndLosses)
                .chain((0..METRIC_KEYS.len()).map(SweepCurves::Metric));
            for choice in choices {
                ui.selectable_value(&mut sweep.curves, choice, curves_title(choice));
            }
        });
    ui.separator();
    ui.label("rules");
    for (i, rule) in snapshot.collected.strategies.iter().enumerate() {
        let mut shown = !sweep.hidden.contains(rule);
        let text = egui::RichText::new(rule).color(rule_colour(i));
        if ui.checkbox(&mut shown, text).changed() {
            if shown {
                sweep.hidden.remove(rule);
            } else {
                sweep.hidden.insert(rule.clone());
            }
        }
    }
}

fn curves_title(curves: SweepCurves) -> &'static str {
    match curves {
        SweepCurves::WeightsAndLosses => "weights and losses (Fig. 3 over seeds)",
        SweepCurves::Metric(k) => METRIC_KEYS.get(k).map_or("?", |key| metric_title(key)),
    }
}

/// "41.7 ± 3.3" in percent; "41.7" alone for one run.
fn figure_cell(f: &Figure) -> String {
    match (f.n, f.mean.is_finite(), f.sd.is_finite()) {
        (0, _, _) | (_, false, _) => "–".into(),
        (_, true, false) => format!("{:.1}", 100.0 * f.mean),
        _ => format!("{:.1} ± {:.1}", 100.0 * f.mean, 100.0 * f.sd),
    }
}

/// The first row of a table: its first column's title, n, then the metrics'.
fn header_row(ui: &mut egui::Ui, first: &str, last: Option<&str>) {
    ui.label(egui::RichText::new(first).strong());
    ui.label(egui::RichText::new("n").strong());
    for key in METRIC_KEYS {
        ui.label(egui::RichText::new(metric_title(key)).strong());
    }
    if let Some(last) = last {
        ui.label(egui::RichText::new(last).strong())
            .on_hover_text(DELTA_M_HOVER);
    }
    ui.end_row();
}

fn table_ui(ui: &mut egui::Ui, rows: &[SweepRow], snapshot: &SweepSnapshot) {
    ui.label(
        egui::RichText::new(format!(
            "Table I: mean ± sample sd (n − 1) in percent over {}, finished runs",
            snapshot.collected.over()
        ))
        .strong(),
    );
    egui::Grid::new("sweep_table").striped(true).show(ui, |ui| {
        header_row(ui, "rule", Some("Δm"));
        for (i, row) in rows.iter().enumerate() {
            ui.colored_label(rule_colour(i), &row.rule);
            let n = row.figures.iter().map(|f| f.n).max().unwrap_or(0);
            ui.label(n.to_string());
            for figure in &row.figures {
                let text = figure_cell(figure);
                if figure.n == n {
                    ui.label(text);
                } else {
                    ui.label(format!("{text} (n = {})", figure.n));
                }
            }
            match row.delta_m {
                Some((dm, k)) => ui.label(format!("{dm:+.1} % (k = {k})")),
                None => ui.label("–"),
            }
            .on_hover_text(DELTA_M_HOVER);
            ui.end_row();
        }
    });
}

fn paired_ui(ui: &mut egui::Ui, rows: &[SweepRow], baseline: &str) {
    ui.add_space(6.0);
    ui.label(
        egui::RichText::new(format!(
            "Each rule − {baseline}, paired by seed: percentage points, 95 % t interval on n − 1"
        ))
        .strong(),
    )
    .on_hover_text(BASELINE_HOVER);
    egui::Grid::new("sweep_paired")
        .striped(true)
        .show(ui, |ui| {
            header_row(ui, "difference", None);
            for (i, row) in rows.iter().enumerate() {
                let Some(diffs) = &row.against_baseline else {
                    continue;
                };
                ui.colored_label(rule_colour(i), format!("{} − {baseline}", row.rule));
                ui.label(diffs.iter().map(|d| d.n).max().unwrap_or(0).to_string());
                for d in diffs {
                    ui.label(cell(d));
                }
                ui.end_row();
            }
        });
}

/// Every run, each with buttons that open it into A or B.
fn runs_ui(ui: &mut egui::Ui, snapshot: &SweepSnapshot, actions: &mut Vec<UiAction>) {
    ui.add_space(6.0);
    egui::CollapsingHeader::new(format!(
        "Runs ({}): open one into A or B, where it trains on from its checkpoint",
        snapshot.runs.len()
    ))
    .id_salt("sweep_runs")
    .show(ui, |ui| {
        egui::Grid::new("sweep_run_list")
            .striped(true)
            .show(ui, |ui| {
                for run in &snapshot.runs {
                    ui.label(&run.label);
                    ui.label(run.state.label()).on_hover_text(match &run.state {
                        crate::train::sweep::watch::RunState::Failed(reason) => reason.as_str(),
                        _ => "",
                    });
                    ui.label(format!("step {}", run.last_step));
                    for slot in 0..2 {
                        let name = crate::lab::run::slot_name(slot);
                        let enabled = run.state != crate::train::sweep::watch::RunState::Missing;
                        if ui
                            .add_enabled(enabled, egui::Button::new(format!("into {name}")))
                            .on_hover_text(format!("Open {} into run {name}", run.folder.display()))
                            .clicked()
                        {
                            actions.push(UiAction::OpenSweepRun {
                                slot,
                                dir: run.folder.clone(),
                            });
                        }
                    }
                    ui.end_row();
                }
            });
    });
}

fn curves_ui(ui: &mut egui::Ui, sweep: &SweepState, snapshot: &SweepSnapshot) {
    let curves = snapshot.curves(sweep.band);
    let shown: Vec<(usize, &RuleCurves)> = curves
        .iter()
        .enumerate()
        .filter(|(_, c)| !sweep.hidden.contains(&c.rule))
        .collect();
    let height = (ui.available_height() - 10.0).max(160.0);
    match sweep.curves {
        SweepCurves::Metric(k) => metric_plot_ui(ui, &shown, k, height),
        SweepCurves::WeightsAndLosses => small_multiples_ui(ui, &shown, height),
    }
}

/// A mean curve, its band under it in the same colour, faint.
fn draw_banded(plot_ui: &mut PlotUi, name: &str, curve: &Curve, colour: egui::Color32) {
    if curve.band_x.len() > 1 {
        plot_ui.add(
            FilledArea::new(name, &curve.band_x, &curve.low, &curve.high)
                .fill_color(colour.gamma_multiply(0.25))
                .allow_hover(false),
        );
    }
    let points: Vec<[f64; 2]> = curve
        .x
        .iter()
        .zip(&curve.mean)
        .map(|(&x, &y)| [x, y])
        .collect();
    if points.len() == 1 {
        plot_ui.points(
            egui_plot::Points::new(name, PlotPoints::from(points))
                .color(colour)
                .radius(3.0),
        );
        return;
    }
    plot_ui.line(
        Line::new(name, PlotPoints::from(points))
            .color(colour)
            .width(2.0),
    );
}

fn metric_plot_ui(ui: &mut egui::Ui, shown: &[(usize, &RuleCurves)], k: usize, height: f32) {
    let title = METRIC_KEYS.get(k).map_or("?", |key| metric_title(key));
    if shown
        .iter()
        .all(|(_, c)| c.metrics.get(k).is_none_or(|m| m.x.len() < 2))
    {
        ui.label(format!(
            "{title}: only the final evaluation is in this sweep; for curves over steps, run compare with --eval-every N"
        ));
    }
    Plot::new("sweep_metric")
        .height(height)
        // A rule's band and mean share its name: the legend takes the mean's colour (the band
        // is drawn first) and keeps the sweep's order of rules.
        .legend(
            Legend::default()
                .color_conflict_handling(ColorConflictHandling::PickLast)
                .follow_insertion_order(true),
        )
        // From 0, not to 1: the rules' differences are a few points, which a 0–1 axis hides.
        .include_y(0.0)
        .x_axis_label("step")
        .y_axis_label(format!("{title} (0–1)"))
        .show(ui, |plot_ui| {
            for &(i, rule) in shown {
                if let Some(curve) = rule.metrics.get(k) {
                    draw_banded(plot_ui, &rule.rule, curve, rule_colour(i));
                }
            }
        });
}

/// Fig. 3 over seeds: per rule, its weights above its losses, each task's mean and band.
fn small_multiples_ui(ui: &mut egui::Ui, shown: &[(usize, &RuleCurves)], height: f32) {
    let drawn = &shown[..shown.len().min(MAX_SMALL_MULTIPLES)];
    if drawn.is_empty() {
        ui.label("no rule shown: tick one above");
        return;
    }
    ui.horizontal(|ui| {
        for task in Task::ALL {
            ui.colored_label(
                TASK_COLOURS[task.index()],
                format!("— {} ({})", task.key(), task.label()),
            );
        }
        if shown.len() > drawn.len() {
            ui.label(format!(
                "· showing the first {} of {} rules; untick rules above to choose",
                drawn.len(),
                shown.len()
            ));
        }
    });
    let link = egui::Id::unique("sweep_fig3_link");
    let plot_height = ((height - 50.0) / 2.0).max(80.0);
    ui.columns(drawn.len(), |columns| {
        for (column, &(i, rule)) in columns.iter_mut().zip(drawn) {
            column.colored_label(rule_colour(i), &rule.rule);
            for (kind, offset) in [("weights", 0), ("losses", TASKS)] {
                let plot = Plot::new(("sweep_fig3", i, kind))
                    .height(plot_height)
                    .link_axis(link, [true, false])
                    .include_y(0.0)
                    .x_axis_label("step")
                    .y_axis_label(if offset == 0 { "w" } else { "L" })
                    .show_x(false)
                    .show_y(false);
                let plot = if offset == 0 {
                    plot.include_y(1.0)
                } else {
                    plot
                };
                plot.show(column, |plot_ui| {
                    for task in Task::ALL {
                        let t = task.index();
                        if let Some(curve) = rule.series.get(offset + t) {
                            let name = format!("{} {}", task.key(), kind);
                            draw_banded(plot_ui, &name, curve, TASK_COLOURS[t]);
                        }
                    }
                });
            }
        }
    });
}
