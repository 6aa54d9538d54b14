//! The metrics panel: evaluation curves over steps for both runs, their ROC curves, and a
//! results table in the layout of the paper's Table I (copy as Markdown or CSV).

use crate::lab::PanelCtx;
use crate::ui::view::View;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::colours::TASK_COLOURS;
use crate::eval::paired::cell;
use crate::eval::{METRIC_KEYS, metric_title, table_markdown};
use crate::lab::actions::UiAction;
use crate::lab::paired::{PairedRow, paired_rows};
use crate::lab::run::{EvalPoint, KeptRun, RunSlot};

const EVAL_EVERY_HOVER: &str = "Each run evaluates on its own thread every N steps (0 = only when asked); training of that run pauses for the embedding pass";
const PROTOCOL_NOTE: &str = "Verification thresholds (accuracy and VAL@FAR) are chosen on pairs other than the scored ones; VAL is measured on the scored pairs; squared Euclidean distance between L2-normalised verification embeddings. Figures are from the last evaluation (no selection on the test set).";
/// The metrics drawn as curves over steps, each in its own colour: the task's colour where the
/// metric belongs to a task (verification blue, visual-id orange, cari-id grey), distinct ones
/// for the cross-modal identifications. Runs are told apart by line style (A solid, B dashed).
const CURVES: [(&str, egui::Color32); 5] = [
    ("verif_acc", TASK_COLOURS[0]),
    ("visual_id_top1", TASK_COLOURS[1]),
    ("cari_id_top1", TASK_COLOURS[2]),
    ("c2p_rank1", egui::Color32::from_rgb(148, 103, 189)),
    ("p2c_rank1", egui::Color32::from_rgb(44, 160, 44)),
];

const PAIRED_HOVER: &str = "Runs that share a seed share their data, initial weights and batches, so A − B on the same seed asks only whether the rules differ. Each seed's A and B are compared at the same step (the last one every seed reached); the interval is a 95 % t interval on n − 1 seeds. More seeds: Next seed, or change the seed and Reset (results are kept).";

/// Rows of the results table: the live runs' latest evaluations, then the kept ones.
pub fn table_rows(runs: &[RunSlot; 2], kept: &[KeptRun]) -> Vec<(String, EvalPoint)> {
    let live = runs.iter().filter_map(|run| {
        let p = run.evals.last()?;
        Some((
            format!("{} {} (step {})", run.name, run.strategy_label(), p.step),
            p.clone(),
        ))
    });
    let old = kept.iter().filter_map(|run| {
        let p = run.evals.last()?;
        Some((format!("{} (step {})", run.label(), p.step), p.clone()))
    });
    live.chain(old).collect()
}

/// The paired rows as Markdown, in percentage points.
pub fn paired_markdown(rows: &[PairedRow]) -> String {
    let cells: Vec<(String, Vec<String>)> = rows
        .iter()
        .map(|row| (row_title(row), row.diffs.iter().map(cell).collect()))
        .collect();
    table_markdown("A − B, paired by seed (pp, 95 % t interval)", &cells)
}

fn row_title(row: &PairedRow) -> String {
    let seeds: Vec<String> = row.seeds.iter().map(u64::to_string).collect();
    format!(
        "{} · step {} · seeds {}",
        row.label,
        row.step,
        seeds.join(",")
    )
}

/// The table as Markdown, values in percent.
pub fn rows_markdown(rows: &[(String, EvalPoint)]) -> String {
    let cells: Vec<(String, Vec<String>)> = rows
        .iter()
        .map(|(name, p)| {
            let values = METRIC_KEYS
                .iter()
                .map(|key| percent(p.summary.get(*key).copied()))
                .collect();
            (name.clone(), values)
        })
        .collect();
    table_markdown("run", &cells)
}

/// The table as CSV, values as fractions.
pub fn rows_csv(rows: &[(String, EvalPoint)]) -> String {
    let mut out = String::from("run,step");
    for key in METRIC_KEYS {
        out.push(',');
        out.push_str(key);
    }
    out.push('\n');
    for (name, p) in rows {
        out.push_str(&format!("\"{}\",{}", name.replace('"', "'"), p.step));
        for key in METRIC_KEYS {
            let value = p.summary.get(key).copied().unwrap_or(f64::NAN);
            out.push_str(&format!(",{value:.6}"));
        }
        out.push('\n');
    }
    out
}

fn percent(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.1}", 100.0 * x),
        _ => "–".into(),
    }
}

/// The Metrics tab: Table I, the paired differences, the curves and the ROC.
#[derive(Default)]
pub struct MetricsPanel;

impl View for MetricsPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        metrics_ui(ui, ctx);
    }
}

fn metrics_ui(ui: &mut egui::Ui, ctx: &mut PanelCtx) {
    let (eval_every, runs, kept) = (ctx.settings.eval_every, ctx.runs, ctx.kept_results);
    let (live_seed, actions) = (ctx.live_seed, &mut *ctx.actions);
    let rows = table_rows(runs, kept);
    let paired = paired_rows(runs, kept, live_seed);
    ui.horizontal_wrapped(|ui| controls_ui(ui, eval_every, &rows, &paired, actions));
    if let Some(report) = runs.iter().find_map(|r| r.last_report.as_ref()) {
        ui.label(format!(
            "Held-out evaluation ({}). {PROTOCOL_NOTE}",
            report.protocol
        ));
        ui.label(format!("Evaluated: {}.", report.facts.sentence()));
    }
    egui::ScrollArea::horizontal().show(ui, |ui| {
        table_ui(ui, &rows);
        paired_ui(ui, &paired, actions);
    });
    ui.separator();
    let height = (ui.available_height() - 20.0).max(150.0);
    ui.columns(2, |cols| {
        curves_ui(&mut cols[0], runs, height);
        roc_ui(&mut cols[1], runs, height);
    });
}

fn controls_ui(
    ui: &mut egui::Ui,
    eval_every: u64,
    rows: &[(String, EvalPoint)],
    paired: &[PairedRow],
    actions: &mut Vec<UiAction>,
) {
    ui.label("evaluate every");
    let mut every = eval_every;
    if ui
        .add(
            egui::DragValue::new(&mut every)
                .range(0..=100_000)
                .suffix(" steps"),
        )
        .on_hover_text(EVAL_EVERY_HOVER)
        .changed()
    {
        actions.push(UiAction::SetEvalEvery(every));
    }
    if ui
        .button("Evaluate now")
        .on_hover_text("Evaluate both runs at their current step")
        .clicked()
    {
        actions.push(UiAction::EvaluateNow);
    }
    if ui.button("Copy as Markdown").clicked() {
        let mut text = rows_markdown(rows);
        if !paired.is_empty() {
            text.push('\n');
            text.push_str(&paired_markdown(paired));
        }
        ui.ctx().copy_text(text);
        actions.push(UiAction::Status("results table copied as Markdown".into()));
    }
    if ui.button("Copy as CSV").clicked() {
        ui.ctx().copy_text(rows_csv(rows));
        actions.push(UiAction::Status("results table copied as CSV".into()));
    }
}

/// A table's first row: its first column's title, then the metrics'.
fn header_row(ui: &mut egui::Ui, first: &str) {
    ui.label(egui::RichText::new(first).strong());
    for key in METRIC_KEYS {
        ui.label(egui::RichText::new(metric_title(key)).strong());
    }
    ui.end_row();
}

fn table_ui(ui: &mut egui::Ui, rows: &[(String, EvalPoint)]) {
    egui::Grid::new("results_table")
        .striped(true)
        .show(ui, |ui| {
            header_row(ui, "run");
            if rows.is_empty() {
                ui.label("no evaluation yet");
                ui.end_row();
            }
            for (name, p) in rows {
                ui.label(name);
                for key in METRIC_KEYS {
                    ui.label(percent(p.summary.get(key).copied()));
                }
                ui.end_row();
            }
        });
}

/// A − B by seed under Table I, with the button that adds a seed.
fn paired_ui(ui: &mut egui::Ui, rows: &[PairedRow], actions: &mut Vec<UiAction>) {
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new("A − B, paired by seed").strong())
            .on_hover_text(PAIRED_HOVER);
        ui.label("percentage points, 95 % t interval on n − 1 seeds");
        if ui
            .button("Next seed")
            .on_hover_text(
                "Keep these results and train both runs again from step 0 with the next seed",
            )
            .clicked()
        {
            actions.push(UiAction::NextSeed);
        }
    });
    if rows.is_empty() {
        ui.label("needs A and B evaluated on at least one seed");
        return;
    }
    egui::Grid::new("paired_table")
        .striped(true)
        .show(ui, |ui| {
            header_row(ui, "pair");
            for row in rows {
                ui.label(row_title(row));
                for d in &row.diffs {
                    ui.label(cell(d));
                }
                ui.end_row();
            }
        });
}

/// Each curve's metric key and colour (for tests and the legend's reader).
pub fn curve_colours() -> [(&'static str, egui::Color32); 5] {
    CURVES
}

/// The x range of the curves: from 0 to a little past the newest evaluation.
pub fn step_range(runs: &[RunSlot; 2]) -> (f64, f64) {
    let last_step = runs
        .iter()
        .filter_map(|r| r.evals.last().map(|p| p.step))
        .max()
        .unwrap_or(0);
    (0.0, last_step as f64 * 1.05 + 1.0)
}

/// Line style of run `slot`: A solid, B dashed (as in Fig. 3's overlay).
fn run_style(slot: usize) -> egui_plot::LineStyle {
    if slot == 0 {
        egui_plot::LineStyle::Solid
    } else {
        egui_plot::LineStyle::dashed_loose()
    }
}

fn curves_ui(ui: &mut egui::Ui, runs: &[RunSlot; 2], height: f32) {
    let (x0, x1) = step_range(runs);
    Plot::new("metric_curves")
        .height(height)
        .legend(Legend::default())
        // From the first evaluation on, the x axis runs from 0 to a little past the newest one.
        .include_x(x0)
        .include_x(x1)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("step")
        .y_axis_label("metric (0–1)")
        .show(ui, |plot_ui| {
            for (slot, run) in runs.iter().enumerate() {
                for (key, colour) in CURVES {
                    let points: Vec<[f64; 2]> = run
                        .evals
                        .iter()
                        .filter_map(|p| p.summary.get(key).map(|v| [p.step as f64, *v]))
                        .collect();
                    let name = format!(
                        "{} {} · {}",
                        run.name,
                        run.strategy_label(),
                        metric_title(key)
                    );
                    // Points too, so a single evaluation shows (a line needs two).
                    plot_ui.points(
                        egui_plot::Points::new(name.clone(), PlotPoints::from(points.clone()))
                            .color(colour)
                            .radius(3.0)
                            .shape(if slot == 0 {
                                egui_plot::MarkerShape::Circle
                            } else {
                                egui_plot::MarkerShape::Diamond
                            }),
                    );
                    plot_ui.line(
                        Line::new(name, PlotPoints::from(points))
                            .color(colour)
                            .style(run_style(slot))
                            .width(2.0),
                    );
                }
            }
        });
}

fn roc_ui(ui: &mut egui::Ui, runs: &[RunSlot; 2], height: f32) {
    Plot::new("roc")
        .height(height)
        .legend(Legend::default())
        .data_aspect(1.0)
        .include_x(0.0)
        .include_x(1.0)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("false accept rate")
        .y_axis_label("true accept rate")
        .show(ui, |plot_ui| {
            for (k, run) in runs.iter().enumerate() {
                let Some(report) = &run.last_report else {
                    continue;
                };
                let points: Vec<[f64; 2]> = report
                    .verification
                    .roc
                    .iter()
                    .map(|p| [p.far, p.tar])
                    .collect();
                let name = format!(
                    "{} {} ROC (AUC {:.3}, step {})",
                    run.name,
                    run.strategy_label(),
                    report.verification.auc_mean,
                    report.step
                );
                plot_ui.line(
                    Line::new(name, PlotPoints::from(points))
                        .color(TASK_COLOURS[0])
                        .style(run_style(k))
                        .width(2.0),
                );
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::paired::paired_diff;

    #[test]
    fn the_paired_markdown_names_the_rules_the_step_and_the_seeds() {
        let row = PairedRow {
            label: "A proposed − B naive".into(),
            step: 200,
            seeds: vec![1, 2],
            diffs: METRIC_KEYS
                .iter()
                .map(|_| paired_diff(&[0.15, 0.10]))
                .collect(),
        };
        let text = paired_markdown(&[row]);
        assert!(
            text.contains("| A proposed − B naive · step 200 · seeds 1,2 | +12.5 ["),
            "{text}"
        );
    }
}
