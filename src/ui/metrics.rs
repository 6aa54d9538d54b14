//! The metrics panel: evaluation curves over steps for both runs, their ROC curves, and a
//! results table in the layout of the paper's Table I (copy as Markdown or CSV).

use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::app::LabApp;
use super::run::EvalPoint;
use crate::eval::{METRIC_KEYS, metric_title};
use crate::protocol::Command;

const RUN_COLOURS: [egui::Color32; 2] = [
    egui::Color32::from_rgb(160, 60, 200),
    egui::Color32::from_rgb(60, 160, 120),
];

/// Rows of the results table: the live runs' latest evaluations, then the kept ones.
pub fn table_rows(app: &LabApp) -> Vec<(String, EvalPoint)> {
    let mut rows = Vec::new();
    for run in &app.runs {
        if let Some(p) = run.evals.last() {
            rows.push((
                format!("{} {} (step {})", run.name, run.strategy_label, p.step),
                p.clone(),
            ));
        }
    }
    for (name, p) in &app.kept_results {
        rows.push((format!("{name} (step {})", p.step), p.clone()));
    }
    rows
}

pub fn table_markdown(rows: &[(String, EvalPoint)]) -> String {
    let mut out = String::from("| run |");
    for key in METRIC_KEYS {
        out.push_str(&format!(" {} |", metric_title(key)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(METRIC_KEYS.len()));
    out.push('\n');
    for (name, p) in rows {
        out.push_str(&format!("| {name} |"));
        for key in METRIC_KEYS {
            out.push_str(&format!(" {} |", percent(p.summary.get(key).copied())));
        }
        out.push('\n');
    }
    out
}

pub fn table_csv(rows: &[(String, EvalPoint)]) -> String {
    let mut out = String::from("run,step");
    for key in METRIC_KEYS {
        out.push(',');
        out.push_str(key);
    }
    out.push('\n');
    for (name, p) in rows {
        out.push_str(&format!("\"{}\",{}", name.replace('"', "'"), p.step));
        for key in METRIC_KEYS {
            out.push_str(&format!(
                ",{:.6}",
                p.summary.get(key).copied().unwrap_or(f64::NAN)
            ));
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

pub fn metrics_ui(app: &mut LabApp, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        ui.label("evaluate every");
        let mut every = app.settings.eval_every;
        if ui
            .add(egui::DragValue::new(&mut every).range(0..=100_000).suffix(" steps"))
            .on_hover_text("Each run evaluates on its own thread every N steps (0 = only when asked); training of that run pauses for the embedding pass")
            .changed()
        {
            app.settings.eval_every = every;
            for run in &mut app.runs {
                run.send(Command::SetEvalEvery(every));
            }
        }
        if ui.button("Evaluate now").on_hover_text("Evaluate both runs at their current step").clicked() {
            for run in &mut app.runs {
                run.send(Command::Evaluate);
            }
        }
        let rows = table_rows(app);
        if ui.button("Copy as Markdown").clicked() {
            ui.ctx().copy_text(table_markdown(&rows));
            app.status_line = Some("results table copied as Markdown".into());
        }
        if ui.button("Copy as CSV").clicked() {
            ui.ctx().copy_text(table_csv(&rows));
            app.status_line = Some("results table copied as CSV".into());
        }
    });
    if let Some(report) = app.runs.iter().find_map(|r| r.last_report.as_ref()) {
        ui.label(format!(
            "Held-out evaluation ({}). Verification: 10 folds, threshold chosen on 9, applied to the 10th; VAL@FAR threshold from the training folds, VAL measured on the held-out fold; squared Euclidean distance between L2-normalised verification embeddings. Figures are from the last evaluation (no selection on the test set).",
            report.protocol
        ));
    }
    let rows = table_rows(app);
    egui::ScrollArea::horizontal().show(ui, |ui| {
        egui::Grid::new("results_table")
            .striped(true)
            .show(ui, |ui| {
                ui.label(egui::RichText::new("run").strong());
                for key in METRIC_KEYS {
                    ui.label(egui::RichText::new(metric_title(key)).strong());
                }
                ui.end_row();
                if rows.is_empty() {
                    ui.label("no evaluation yet");
                    ui.end_row();
                }
                for (name, p) in &rows {
                    ui.label(name);
                    for key in METRIC_KEYS {
                        ui.label(percent(p.summary.get(key).copied()));
                    }
                    ui.end_row();
                }
            });
    });
    ui.separator();
    let height = (ui.available_height() - 20.0).max(150.0);
    ui.columns(2, |cols| {
        Plot::new("metric_curves")
            .height(height)
            .legend(Legend::default())
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("step")
            .y_axis_label("metric (0–1)")
            .show(&mut cols[0], |plot_ui| {
                for (k, run) in app.runs.iter().enumerate() {
                    for (m, key) in ["verif_acc", "visual_id_top1", "cari_id_top1", "c2p_rank1"]
                        .iter()
                        .enumerate()
                    {
                        let points: Vec<[f64; 2]> = run
                            .evals
                            .iter()
                            .filter_map(|p| p.summary.get(*key).map(|v| [p.step as f64, *v]))
                            .collect();
                        let style = [
                            egui_plot::LineStyle::Solid,
                            egui_plot::LineStyle::dashed_loose(),
                            egui_plot::LineStyle::dotted_loose(),
                            egui_plot::LineStyle::dashed_dense(),
                        ][m];
                        plot_ui.line(
                            Line::new(
                                format!(
                                    "{} {} {}",
                                    run.name,
                                    run.strategy_label,
                                    metric_title(key)
                                ),
                                PlotPoints::from(points),
                            )
                            .color(RUN_COLOURS[k])
                            .style(style)
                            .width(2.0),
                        );
                    }
                }
            });
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
            .show(&mut cols[1], |plot_ui| {
                for (k, run) in app.runs.iter().enumerate() {
                    if let Some(report) = &run.last_report {
                        let points: Vec<[f64; 2]> = report
                            .verification
                            .roc
                            .iter()
                            .map(|p| [p.far, p.tar])
                            .collect();
                        plot_ui.line(
                            Line::new(
                                format!(
                                    "{} {} ROC (AUC {:.3}, step {})",
                                    run.name,
                                    run.strategy_label,
                                    report.verification.auc_mean,
                                    report.step
                                ),
                                PlotPoints::from(points),
                            )
                            .color(RUN_COLOURS[k])
                            .width(2.0),
                        );
                    }
                }
            });
    });
}
