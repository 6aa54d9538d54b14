//! The failure inspector at the projector's side: the selected point's nearest neighbours in
//! each run, the worst false positives and negatives at the latest evaluation's threshold,
//! C2P/P2C misses and errors per identity.

use egui::Color32;
use std::sync::Arc;

use super::{ProjectorPanel, identity_colour, label};
use crate::data::Dataset;
use crate::eval::ProbeOutcome;
use crate::eval::metrics::Failure;
use crate::lab::failures::{errors_per_identity, failures_of};
use crate::lab::projector::{Highlight, ProjectorState};
use crate::lab::run::RunSlot;

impl ProjectorPanel {
    /// The k nearest neighbours of the selected point in each projected run's embedding space.
    pub(super) fn inspector_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &mut ProjectorState,
        runs: &[RunSlot; 2],
        dataset: &Arc<Dataset>,
        selected: usize,
    ) {
        let texture = self.thumbnail(ui.ctx(), dataset, selected);
        ui.horizontal(|ui| {
            ui.image((texture.id(), egui::vec2(64.0, 64.0)));
            ui.label(label(dataset, selected));
        });
        let lists: Vec<(String, Vec<(f32, usize)>)> = runs
            .iter()
            .zip(&state.projections)
            .filter_map(|(run, p)| {
                let p = p.as_ref()?;
                let title = format!("run {} nearest ({}):", run.name, p.source.label());
                Some((title, p.nearest(selected, 6)?))
            })
            .collect();
        for (title, near) in lists {
            ui.label(title);
            ui.horizontal_wrapped(|ui| {
                for (d, i) in near {
                    let t = self.thumbnail(ui.ctx(), dataset, i);
                    let same = dataset.images.samples[i].identity
                        == dataset.images.samples[selected].identity;
                    ui.vertical(|ui| {
                        ui.image((t.id(), egui::vec2(48.0, 48.0)))
                            .on_hover_text(label(dataset, i));
                        ui.colored_label(
                            if same {
                                Color32::from_rgb(60, 170, 60)
                            } else {
                                Color32::from_rgb(200, 70, 70)
                            },
                            format!("{d:.3}"),
                        );
                    });
                }
            });
        }
    }

    pub(super) fn failures_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &mut ProjectorState,
        runs: &[RunSlot; 2],
        dataset: &Arc<Dataset>,
    ) {
        ui.horizontal(|ui| {
            ui.strong("Failures of");
            ui.selectable_value(&mut state.failure_run, 0, "run A");
            ui.selectable_value(&mut state.failure_run, 1, "run B");
        });
        let slot = state.failure_run.min(1);
        let Some(report) = runs[slot].last_report.clone() else {
            ui.label("No evaluation yet (Metrics -> Evaluate now, or wait for the periodic one).");
            return;
        };
        let (threshold, fp, fneg) = failures_of(&report);
        ui.label(format!("step {} · threshold {:.3} (mean of the folds' best) · {} false positives · {} false negatives", report.step, threshold, fp.len(), fneg.len()));
        egui::ScrollArea::vertical()
            .id_salt("failures_scroll")
            .show(ui, |ui| {
                egui::CollapsingHeader::new(format!(
                    "False positives ({}): different people, closer than the threshold",
                    fp.len()
                ))
                .default_open(true)
                .show(ui, |ui| {
                    for f in fp.iter().take(30) {
                        self.card_ui(ui, state, dataset, slot, f, "FP");
                    }
                });
                egui::CollapsingHeader::new(format!(
                    "False negatives ({}): same person, farther than the threshold",
                    fneg.len()
                ))
                .default_open(true)
                .show(ui, |ui| {
                    for f in fneg.iter().take(30) {
                        self.card_ui(ui, state, dataset, slot, f, "FN");
                    }
                });
                for (title, outcomes) in [
                    (
                        "C2P misses (caricature probe -> photo gallery)",
                        &report.c2p,
                    ),
                    (
                        "P2C misses (photo probe -> caricature gallery)",
                        &report.p2c,
                    ),
                ] {
                    let misses: Vec<&ProbeOutcome> =
                        outcomes.iter().filter(|o| o.true_rank != Some(1)).collect();
                    egui::CollapsingHeader::new(format!(
                        "{title}: {} of {}",
                        misses.len(),
                        outcomes.len()
                    ))
                    .default_open(false)
                    .show(ui, |ui| {
                        for o in misses.iter().take(20) {
                            ui.horizontal(|ui| {
                                let t = self.thumbnail(ui.ctx(), dataset, o.probe);
                                ui.image((t.id(), egui::vec2(48.0, 48.0)))
                                    .on_hover_text(label(dataset, o.probe));
                                ui.label(match o.true_rank {
                                    Some(r) => format!("true rank {r} ->"),
                                    None => "not in gallery ->".into(),
                                });
                                for &(g, d) in o.top.iter().take(5) {
                                    let t = self.thumbnail(ui.ctx(), dataset, g);
                                    ui.image((t.id(), egui::vec2(40.0, 40.0)))
                                        .on_hover_text(format!("{} · {d:.3}", label(dataset, g)));
                                }
                            });
                        }
                    });
                }
                egui::CollapsingHeader::new("Errors per identity")
                    .default_open(false)
                    .show(ui, |ui| {
                        egui::Grid::new("errors_per_identity")
                            .striped(true)
                            .show(ui, |ui| {
                                for h in ["identity", "FP", "FN", "id misses"] {
                                    ui.strong(h);
                                }
                                ui.end_row();
                                for (id, a, b, c) in
                                    errors_per_identity(dataset, &report).into_iter().take(40)
                                {
                                    ui.colored_label(
                                        identity_colour(id),
                                        &dataset.images.identities[id],
                                    );
                                    ui.label(a.to_string());
                                    ui.label(b.to_string());
                                    ui.label(c.to_string());
                                    ui.end_row();
                                }
                            });
                    });
            });
    }

    fn card_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &mut ProjectorState,
        dataset: &Arc<Dataset>,
        slot: usize,
        f: &Failure,
        kind: &str,
    ) {
        let selected = state.highlight
            == Some(Highlight {
                run: slot,
                a: f.a,
                b: f.b,
            });
        let ta = self.thumbnail(ui.ctx(), dataset, f.a);
        let tb = self.thumbnail(ui.ctx(), dataset, f.b);
        let frame = egui::Frame::group(ui.style()).stroke(if selected {
            egui::Stroke::new(2.0, Color32::RED)
        } else {
            ui.visuals().widgets.noninteractive.bg_stroke
        });
        let response = frame
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.image((ta.id(), egui::vec2(48.0, 48.0)));
                    ui.image((tb.id(), egui::vec2(48.0, 48.0)));
                    ui.vertical(|ui| {
                        ui.label(format!(
                            "{kind} · d = {:.3} · margin {:.3}",
                            f.distance, f.margin
                        ));
                        ui.small(label(dataset, f.a));
                        ui.small(label(dataset, f.b));
                    });
                });
            })
            .response
            .interact(egui::Sense::click())
            .on_hover_text("Select: highlight both images in the projections and join them");
        if response.clicked() {
            state.highlight = Some(Highlight {
                run: slot,
                a: f.a,
                b: f.b,
            });
            state.selected = Some(f.a);
        }
    }
}
