//! The metrics panel: evaluation curves over steps for both runs, their ROC curves, and a
//! results table in the layout of the paper's Table I (copy as Markdown or CSV).

use crate::lab::PanelCtx;
use crate::ui::view::View;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use std::collections::BTreeMap;

use super::colours::TASK_COLOURS;
use crate::eval::paired::{PairedDiff, cell, paired_diff};
use crate::eval::{METRIC_KEYS, metric_title, table_markdown};
use crate::lab::actions::UiAction;
use crate::lab::run::{EvalPoint, KeptRun, RunSlot, slot_name};

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

/// One row of the paired differences: run A's rule against run B's, over the seeds that ran
/// both, each compared at `step`.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedRow {
    /// "A proposed − B naive".
    pub label: String,
    pub step: u64,
    pub seeds: Vec<u64>,
    /// A − B per metric, in `METRIC_KEYS` order.
    pub diffs: Vec<PairedDiff>,
}

/// A and B of one seed, both evaluated.
struct SeedPair<'a> {
    seed: u64,
    strategies: [String; 2],
    evals: [&'a [EvalPoint]; 2],
}

/// The seeds where A and B both have evaluations: kept pairs (a later Reset on a seed replaces
/// an earlier one) and the live runs (newest of all).
fn seed_pairs<'a>(
    runs: &'a [RunSlot; 2],
    kept: &'a [KeptRun],
    live_seed: u64,
) -> Vec<SeedPair<'a>> {
    let mut by_generation: BTreeMap<u64, [Option<&'a KeptRun>; 2]> = BTreeMap::new();
    for run in kept {
        if let Some(side) = by_generation
            .entry(run.generation)
            .or_default()
            .get_mut(run.slot)
        {
            *side = Some(run);
        }
    }
    let mut by_seed: BTreeMap<u64, SeedPair<'a>> = BTreeMap::new();
    for pair in by_generation.into_values() {
        if let [Some(a), Some(b)] = pair
            && a.seed == b.seed
        {
            by_seed.insert(
                a.seed,
                SeedPair {
                    seed: a.seed,
                    strategies: [a.strategy.clone(), b.strategy.clone()],
                    evals: [&a.evals, &b.evals],
                },
            );
        }
    }
    if runs.iter().all(|r| !r.evals.is_empty()) {
        by_seed.insert(
            live_seed,
            SeedPair {
                seed: live_seed,
                strategies: [runs[0].strategy_label(), runs[1].strategy_label()],
                evals: [&runs[0].evals, &runs[1].evals],
            },
        );
    }
    by_seed.into_values().collect()
}

/// A − B by seed, one row per pair of rules, each seed compared at the last step that every
/// seed of the row evaluated on both runs (so no seed is ahead by more training).
pub fn paired_rows(runs: &[RunSlot; 2], kept: &[KeptRun], live_seed: u64) -> Vec<PairedRow> {
    let mut groups: BTreeMap<[String; 2], Vec<SeedPair>> = BTreeMap::new();
    for pair in seed_pairs(runs, kept, live_seed) {
        groups
            .entry(pair.strategies.clone())
            .or_default()
            .push(pair);
    }
    groups
        .into_iter()
        .filter_map(|(strategies, pairs)| paired_row(&strategies, &pairs))
        .collect()
}

fn paired_row(strategies: &[String; 2], pairs: &[SeedPair]) -> Option<PairedRow> {
    fn at(evals: &[EvalPoint], step: u64) -> Option<&EvalPoint> {
        evals.iter().rev().find(|p| p.step == step)
    }
    let last_common = |pair: &SeedPair| {
        pair.evals[0]
            .iter()
            .rev()
            .map(|p| p.step)
            .find(|&step| at(pair.evals[1], step).is_some())
    };
    let step = pairs.iter().filter_map(last_common).min()?;
    let compared: Vec<(u64, &EvalPoint, &EvalPoint)> = pairs
        .iter()
        .filter_map(|pair| {
            Some((
                pair.seed,
                at(pair.evals[0], step)?,
                at(pair.evals[1], step)?,
            ))
        })
        .collect();
    let diffs = METRIC_KEYS
        .iter()
        .map(|key| {
            let d: Vec<f64> = compared
                .iter()
                .filter_map(|(_, a, b)| Some(a.summary.get(*key)? - b.summary.get(*key)?))
                .filter(|d| d.is_finite())
                .collect();
            paired_diff(&d)
        })
        .collect();
    Some(PairedRow {
        label: format!(
            "{} {} − {} {}",
            slot_name(0),
            strategies[0],
            slot_name(1),
            strategies[1]
        ),
        step,
        seeds: compared.iter().map(|(seed, _, _)| *seed).collect(),
        diffs,
    })
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

    fn evals(points: &[(u64, f64)]) -> Vec<EvalPoint> {
        points
            .iter()
            .map(|&(step, cari)| EvalPoint {
                step,
                summary: BTreeMap::from([("cari_id_top1".to_string(), cari)]),
            })
            .collect()
    }

    fn kept(
        slot: usize,
        strategy: &str,
        seed: u64,
        generation: u64,
        points: &[(u64, f64)],
    ) -> KeptRun {
        KeptRun {
            slot,
            strategy: strategy.into(),
            seed,
            generation,
            evals: evals(points),
        }
    }

    #[test]
    fn kept_runs_pair_by_seed_at_the_last_step_every_seed_reached() {
        let runs = [RunSlot::new("A", 0.6), RunSlot::new("B", 0.6)];
        let kept = [
            // Seed 1, replaced below by a later Reset on seed 1.
            kept(0, "proposed", 1, 0, &[(100, 0.50), (200, 0.60)]),
            kept(1, "naive", 1, 0, &[(100, 0.40), (200, 0.50)]),
            // Seed 2 ran to step 300; compared at 200, the last step seed 1 reached.
            kept(
                0,
                "proposed",
                2,
                1,
                &[(100, 0.55), (200, 0.70), (300, 0.80)],
            ),
            kept(1, "naive", 2, 1, &[(100, 0.50), (200, 0.60), (300, 0.65)]),
            kept(0, "proposed", 1, 2, &[(100, 0.52), (200, 0.62)]),
            kept(1, "naive", 1, 2, &[(100, 0.42), (200, 0.47)]),
            // B never evaluated: no pair.
            kept(0, "proposed", 3, 3, &[(100, 0.9)]),
            // Other rules: a row of their own.
            kept(0, "naive", 4, 4, &[(50, 0.30)]),
            kept(1, "proposed", 4, 4, &[(50, 0.45)]),
        ];
        let rows = paired_rows(&runs, &kept, 9);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let row = rows
            .iter()
            .find(|r| r.label == "A proposed − B naive")
            .expect("the proposed − naive row");
        assert_eq!((row.step, row.seeds.clone()), (200, vec![1, 2]));
        let cari = METRIC_KEYS
            .iter()
            .position(|k| *k == "cari_id_top1")
            .expect("cari-id is a metric");
        // from scipy.stats import t; import statistics, math
        // d = [0.62 - 0.47, 0.70 - 0.60]; m = sum(d) / 2
        // h = t.ppf(0.975, 1) * statistics.stdev(d) / math.sqrt(2); print(m, m - h, m + h)
        // → 0.125 -0.19265511840436766 0.44265511840436766
        let d = row.diffs[cari];
        let (low, high) = d.interval.expect("two seeds give an interval");
        assert_eq!(d.n, 2);
        assert!((d.mean_diff - 0.125).abs() < 1e-12, "{d:?}");
        assert!((low + 0.19265511840436766).abs() < 1e-9, "{low}");
        assert!((high - 0.44265511840436766).abs() < 1e-9, "{high}");
        let other = rows
            .iter()
            .find(|r| r.label == "A naive − B proposed")
            .expect("the naive − proposed row");
        assert_eq!(other.diffs[cari].n, 1);
        assert!((other.diffs[cari].mean_diff + 0.15).abs() < 1e-12);
        assert_eq!(other.diffs[0].n, 0, "no verification figure, no difference");
        assert!(
            paired_markdown(&rows).contains("A proposed − B naive · step 200 · seeds 1,2"),
            "{}",
            paired_markdown(&rows)
        );
    }
}
