//! The embedding projector (t-SNE of a run's embeddings, animated as it optimises, run A beside
//! run B) and the failure inspector (false positives and negatives at the latest evaluation's
//! threshold, C2P/P2C misses, errors per identity).

use egui::{Color32, TextureHandle};
use egui_plot::{Line, MarkerShape, Plot, PlotPoints, Points};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::actions::UiAction;
use super::dataset::DatasetState;
use super::run::RunSlot;
use crate::data::{Dataset, Modality};
use crate::embed::tsne::TsneConfig;
use crate::embed::{TsneJob, TsneUpdate};
use crate::eval::metrics::{Failure, mine_failures, squared_distance};
use crate::eval::{EmbeddingRequest, EmbeddingSource, EvalReport, ProbeOutcome};
use crate::session::Waker;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subset {
    /// Every image of the held-out identities.
    HeldOut,
    /// Images of the first K training identities.
    FirstTraining(usize),
    /// One held-out identity and the identities it is most confused with.
    Confusions(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectorSettings {
    pub source: EmbeddingSource,
    pub subset: Subset,
    pub tsne: TsneConfig,
    /// The search text of the identity legend.
    pub search: String,
    /// Project again every `follow_every` steps while the runs train.
    pub follow_training: bool,
    pub follow_every: u64,
}

/// Iterations of a projection that starts from the previous layout (no early exaggeration:
/// the clusters are already formed, they only move).
const FOLLOW_ITERATIONS: usize = 250;

impl Default for ProjectorSettings {
    fn default() -> Self {
        ProjectorSettings {
            source: EmbeddingSource::Verif,
            subset: Subset::HeldOut,
            tsne: TsneConfig {
                perplexity: 20.0,
                iterations: 500,
                ..TsneConfig::default()
            },
            search: String::new(),
            follow_training: true,
            follow_every: 100,
        }
    }
}

/// One run's projection.
pub struct Projection {
    pub step: u64,
    pub source: EmbeddingSource,
    pub samples: Vec<usize>,
    pub dim: usize,
    pub values: Vec<f32>,
    pub positions: Vec<f32>,
    pub iteration: usize,
    pub iterations: usize,
    pub job: Option<TsneJob>,
    pub error: Option<String>,
}

impl Projection {
    /// Start t-SNE on a run's embeddings, from `previous`'s layout when it projected the same
    /// samples (the points then move from where they were).
    fn start(
        e: crate::eval::Embeddings,
        mut config: TsneConfig,
        previous: Option<&Projection>,
        wake: Waker,
    ) -> Projection {
        let init = previous
            .filter(|p| p.samples == e.samples && p.positions.len() == 2 * e.samples.len())
            .map(|p| p.positions.clone());
        if init.is_some() {
            config.exaggeration_iterations = 0;
            config.iterations = config.iterations.min(FOLLOW_ITERATIONS);
        }
        let (job, error) = match crate::embed::start(
            e.values.clone(),
            e.dim,
            config.clone(),
            init.clone(),
            wake,
        ) {
            Ok(j) => (Some(j), None),
            Err(err) => (None, Some(format!("could not start t-SNE: {err}"))),
        };
        Projection {
            step: e.step,
            source: e.source,
            samples: e.samples,
            dim: e.dim,
            values: e.values,
            positions: init.unwrap_or_default(),
            iteration: 0,
            iterations: config.iterations,
            job,
            error,
        }
    }

    /// The 2-D position of the `k`-th projected sample.
    fn point(&self, k: usize) -> [f64; 2] {
        [
            self.positions[2 * k] as f64,
            self.positions[2 * k + 1] as f64,
        ]
    }

    /// The 2-D position of sample `sample`, if it is projected.
    fn position_of(&self, sample: usize) -> Option<[f64; 2]> {
        let k = self.samples.iter().position(|&i| i == sample)?;
        Some(self.point(k))
    }

    /// The `k` samples nearest to `sample` in the embedding space, with squared distances;
    /// None when `sample` is not projected.
    fn nearest(&self, sample: usize, k: usize) -> Option<Vec<(f32, usize)>> {
        let row_of = |j: usize| &self.values[j * self.dim..(j + 1) * self.dim];
        let at = self.samples.iter().position(|&i| i == sample)?;
        let mut near: Vec<(f32, usize)> = self
            .samples
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != at)
            .map(|(j, &i)| (squared_distance(row_of(at), row_of(j)), i))
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        near.truncate(k);
        Some(near)
    }

    /// Take the frames t-SNE has sent.
    fn take_frames(&mut self) {
        let updates: Vec<TsneUpdate> = self
            .job
            .as_ref()
            .map(|j| j.updates.try_iter().collect())
            .unwrap_or_default();
        for u in updates {
            match u {
                TsneUpdate::Frame(f) => {
                    self.iteration = f.iteration;
                    self.positions = f.positions;
                }
                TsneUpdate::Done(f) => {
                    self.iteration = f.iteration;
                    self.positions = f.positions;
                    self.job = None;
                }
                TsneUpdate::Error(e) => {
                    self.error = Some(e);
                    self.job = None;
                }
            }
        }
    }
}

/// A failure card the user selected: the two images to highlight and join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Highlight {
    pub run: usize,
    pub a: usize,
    pub b: usize,
}

#[derive(Default)]
pub struct ProjectorState {
    pub projections: [Option<Projection>; 2],
    /// The selected point (sample index) for the inspector.
    pub selected: Option<usize>,
    pub highlight: Option<Highlight>,
    /// The run the failure inspector reads.
    pub failure_run: usize,
    /// The step the last projection was asked for, and which runs have answered.
    target: Option<u64>,
    arrived: [bool; 2],
    thumbnails: HashMap<usize, TextureHandle>,
}

/// A readable colour per identity: golden-ratio hues at two lightness levels.
pub fn identity_colour(identity: usize) -> Color32 {
    let hue = (identity as f32 * 0.618_034).fract();
    let value = if identity.is_multiple_of(2) {
        0.85
    } else {
        0.65
    };
    egui::ecolor::Hsva::new(hue, 0.8, value, 1.0).into()
}

/// The sample indices of a subset.
pub fn subset_samples(
    dataset: &Dataset,
    subset: Subset,
    report: Option<&EvalReport>,
) -> Vec<usize> {
    let samples = &dataset.images.samples;
    match subset {
        Subset::HeldOut => dataset.splits.open.clone(),
        Subset::FirstTraining(k) => {
            let ids: Vec<usize> = dataset
                .splits
                .train_identities
                .iter()
                .take(k.max(1))
                .copied()
                .collect();
            (0..samples.len())
                .filter(|&i| ids.contains(&samples[i].identity))
                .collect()
        }
        Subset::Confusions(identity) => {
            let mut ids = vec![identity];
            if let Some(r) = report {
                for o in r
                    .c2p
                    .iter()
                    .chain(r.p2c.iter())
                    .filter(|o| o.true_identity == identity)
                {
                    for &(g, _) in &o.top {
                        let id = samples[g].identity;
                        if !ids.contains(&id) && ids.len() < 6 {
                            ids.push(id);
                        }
                    }
                }
            }
            dataset
                .splits
                .open
                .iter()
                .copied()
                .filter(|&i| ids.contains(&samples[i].identity))
                .collect()
        }
    }
}

impl ProjectorState {
    /// Take new embeddings from the runs and new t-SNE frames; never blocks.
    pub fn poll(&mut self, runs: &mut [RunSlot; 2], tsne: &TsneConfig, waker: Option<Waker>) {
        for (slot, run) in runs.iter_mut().enumerate() {
            if let Some(e) = run.embeddings.take() {
                let wake: Waker = waker.clone().unwrap_or_else(|| Arc::new(|| {}));
                let previous = self.projections[slot].as_ref();
                let projection = Projection::start(*e, tsne.clone(), previous, wake);
                self.projections[slot] = Some(projection);
                self.arrived[slot] = true;
            }
            if let Some(p) = &mut self.projections[slot] {
                p.take_frames();
            }
        }
    }

    /// Whether to project now without being asked: the first time the tab is shown on runs
    /// that have trained, then every `follow_every` steps while following training, once the
    /// previous projection has arrived and settled.
    pub fn due(&self, settings: &ProjectorSettings, runs: &[RunSlot; 2]) -> bool {
        let newest = runs.iter().map(|r| r.step).min().unwrap_or(0);
        if newest == 0 || !runs.iter().all(|r| r.is_ready()) || self.in_flight() {
            return false;
        }
        match self.target {
            None => true,
            Some(last) => {
                settings.follow_training
                    && newest >= last + settings.follow_every.max(1)
                    && self.projections.iter().flatten().all(|p| p.job.is_none())
            }
        }
    }

    /// Whether embeddings were asked for and have not all arrived.
    fn in_flight(&self) -> bool {
        self.target.is_some() && !self.arrived.iter().all(|&a| a)
    }

    /// What to ask each run for: steps to catch up (so both embed at the same step) and the
    /// request. The current projections stay on screen until the new ones arrive.
    pub fn requests(
        &mut self,
        dataset: &Dataset,
        settings: &ProjectorSettings,
        runs: &[RunSlot; 2],
        playing: bool,
    ) -> [(u64, EmbeddingRequest); 2] {
        let report = runs.iter().find_map(|r| r.last_report.clone());
        let samples = subset_samples(dataset, settings.subset, report.as_deref());
        // While playing, a few steps of margin cover rows the window has not received yet.
        let newest = runs.iter().map(|r| r.step).max().unwrap_or(0);
        let target = if playing { newest + 5 } else { newest };
        let request = EmbeddingRequest {
            source: settings.source,
            samples,
            at_step: Some(target),
        };
        self.target = Some(target);
        self.arrived = [false; 2];
        std::array::from_fn(|slot| {
            let behind = target.saturating_sub(runs[slot].step);
            let catch_up = if playing { 0 } else { behind };
            (catch_up, request.clone())
        })
    }

    fn thumbnail(&mut self, ctx: &egui::Context, dataset: &Dataset, index: usize) -> TextureHandle {
        self.thumbnails
            .entry(index)
            .or_insert_with(|| {
                let s = dataset.images.image_size;
                let image = egui::ColorImage::from_rgb([s, s], dataset.images.image(index));
                ctx.load_texture(
                    format!("thumb-{index}"),
                    image,
                    egui::TextureOptions::LINEAR,
                )
            })
            .clone()
    }
}

fn label(dataset: &Dataset, index: usize) -> String {
    let s = &dataset.images.samples[index];
    format!(
        "{} · {}",
        dataset.images.identities[s.identity],
        s.modality.as_str()
    )
}

impl ProjectorState {
    /// The tab: controls, the two projections, and the inspector and failures at the side.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut ProjectorSettings,
        runs: &[RunSlot; 2],
        dataset: &DatasetState,
        actions: &mut Vec<UiAction>,
    ) {
        let Some(dataset) = dataset.ready().cloned() else {
            ui.label("Waiting for the dataset…");
            return;
        };
        ui.horizontal_wrapped(|ui| controls_ui(ui, settings, runs, &dataset, actions));
        // Only while the tab is shown: nothing is embedded for a tab nobody looks at.
        if self.due(settings, runs) {
            actions.push(UiAction::Project);
        }
        let height = ui.available_height();
        egui::Panel::right("projector_side")
            .frame(super::colours::unfilled(egui::Frame::side_top_panel(
                ui.style(),
            )))
            .default_size(380.0)
            .show(ui, |ui| self.side_ui(ui, settings, runs, &dataset));
        ui.columns(2, |cols| {
            for (slot, ui) in cols.iter_mut().enumerate() {
                self.projection_ui(ui, settings, runs, &dataset, slot, height - 40.0);
            }
        });
    }
}

const SOURCE_HOVER: &str = "Which representation to project: the verification embedding (used for verification and C2P/P2C), a branch's, or the trunk's Z";

/// Source, subset and t-SNE settings, and the button that projects.
fn controls_ui(
    ui: &mut egui::Ui,
    settings: &mut ProjectorSettings,
    runs: &[RunSlot; 2],
    dataset: &Dataset,
    actions: &mut Vec<UiAction>,
) {
    {
        egui::ComboBox::from_id_salt("projector_source")
            .selected_text(settings.source.label())
            .show_ui(ui, |ui| {
                for s in EmbeddingSource::ALL {
                    ui.selectable_value(&mut settings.source, s, s.label());
                }
            })
            .response
            .on_hover_text(SOURCE_HOVER);
        let open_ids = dataset.splits.open_identities.clone();
        let subset_text = match settings.subset {
            Subset::HeldOut => "held-out identities".to_string(),
            Subset::FirstTraining(k) => format!("first {k} training identities"),
            Subset::Confusions(id) => format!(
                "{} and its confusions",
                dataset
                    .images
                    .identities
                    .get(id)
                    .map_or("?", |s| s.as_str())
            ),
        };
        egui::ComboBox::from_id_salt("projector_subset")
            .selected_text(subset_text)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut settings.subset, Subset::HeldOut, "held-out identities");
                ui.selectable_value(
                    &mut settings.subset,
                    Subset::FirstTraining(10),
                    "first 10 training identities",
                );
                for &id in open_ids.iter().take(20) {
                    ui.selectable_value(
                        &mut settings.subset,
                        Subset::Confusions(id),
                        format!("{} + confusions", dataset.images.identities[id]),
                    );
                }
            });
        ui.label("perplexity");
        ui.add(egui::DragValue::new(&mut settings.tsne.perplexity).range(2.0..=100.0));
        ui.label("iterations");
        ui.add(egui::DragValue::new(&mut settings.tsne.iterations).range(50..=5000));
        ui.label("exaggeration");
        ui.add(egui::DragValue::new(&mut settings.tsne.early_exaggeration).range(1.0..=50.0));
        let mut lr_auto = settings.tsne.learning_rate.is_none();
        if ui
            .checkbox(&mut lr_auto, "auto lr")
            .on_hover_text("Learning rate N/12 during early exaggeration, then N (openTSNE's rule)")
            .changed()
        {
            settings.tsne.learning_rate = if lr_auto { None } else { Some(200.0) };
        }
        if let Some(lr) = &mut settings.tsne.learning_rate {
            ui.add(egui::DragValue::new(lr).range(1.0..=100_000.0));
        }
        ui.checkbox(&mut settings.follow_training, "follow training")
            .on_hover_text(FOLLOW_HOVER);
        if settings.follow_training {
            ui.label("every");
            ui.add(
                egui::DragValue::new(&mut settings.follow_every)
                    .range(10..=100_000)
                    .suffix(" steps"),
            );
        }
        let ready = runs.iter().all(|r| r.is_ready());
        if ui
            .add_enabled(ready, egui::Button::new("Project runs A and B"))
            .on_hover_text(
                "Embed the subset with both runs at their current step now, then run t-SNE on each",
            )
            .clicked()
        {
            actions.push(UiAction::Project);
        }
    }
}

const FOLLOW_HOVER: &str = "Project again every N steps while the runs train, starting t-SNE from the previous layout so the points move rather than jump";

impl ProjectorState {
    fn projection_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &ProjectorSettings,
        runs: &[RunSlot; 2],
        dataset: &Arc<Dataset>,
        slot: usize,
        height: f32,
    ) {
        let Some(p) = &self.projections[slot] else {
            let text = if runs[slot].step == 0 {
                "the projection starts by itself once the runs have trained: press Play (or Space)"
            } else {
                "embedding the held-out images…"
            };
            ui.label(format!("Run {}: {text}", runs[slot].name));
            return;
        };
        projection_header_ui(ui, &runs[slot], p);
        if let Some(e) = &p.error {
            ui.colored_label(Color32::RED, e);
            return;
        }
        if p.positions.len() < 2 * p.samples.len() {
            ui.spinner();
            return;
        }
        let search = settings.search.to_lowercase();
        let (highlight, selected) = (self.highlight, self.selected);
        let response = Plot::new(("projection", slot))
            .height(height.max(200.0))
            .width(ui.available_width())
            .data_aspect(1.0)
            .show_axes(false)
            .show_grid(false)
            .show_x(false)
            .show_y(false)
            .show(ui, |plot_ui| {
                draw_identities(plot_ui, p, dataset, &search);
                draw_marks(plot_ui, p, highlight, selected);
                sample_under_pointer(plot_ui, p)
            });
        if let Some(index) = response.inner {
            let texture = self.thumbnail(ui.ctx(), dataset, index);
            let text = label(dataset, index);
            response.response.clone().on_hover_ui_at_pointer(|ui| {
                ui.image((texture.id(), egui::vec2(96.0, 96.0)));
                ui.label(text);
            });
            if response.response.clicked() {
                self.selected = Some(index);
            }
        }
    }

    fn side_ui(
        &mut self,
        ui: &mut egui::Ui,
        settings: &mut ProjectorSettings,
        runs: &[RunSlot; 2],
        dataset: &Arc<Dataset>,
    ) {
        ui.horizontal(|ui| {
            ui.label("find");
            ui.add(
                egui::TextEdit::singleline(&mut settings.search)
                    .hint_text("find an identity")
                    .desired_width(160.0),
            );
            ui.label("circle: photo, triangle: caricature");
        });
        if let Some(sel) = self.selected {
            ui.separator();
            ui.strong("Selected");
            self.inspector_ui(ui, runs, dataset, sel);
        }
        ui.separator();
        self.failures_ui(ui, runs, dataset);
    }

    /// The k nearest neighbours of the selected point in each projected run's embedding space.
    fn inspector_ui(
        &mut self,
        ui: &mut egui::Ui,
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
            .zip(&self.projections)
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

    fn failures_ui(&mut self, ui: &mut egui::Ui, runs: &[RunSlot; 2], dataset: &Arc<Dataset>) {
        ui.horizontal(|ui| {
            ui.strong("Failures of");
            ui.selectable_value(&mut self.failure_run, 0, "run A");
            ui.selectable_value(&mut self.failure_run, 1, "run B");
        });
        let slot = self.failure_run.min(1);
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
                        self.card_ui(ui, dataset, slot, f, "FP");
                    }
                });
                egui::CollapsingHeader::new(format!(
                    "False negatives ({}): same person, farther than the threshold",
                    fneg.len()
                ))
                .default_open(true)
                .show(ui, |ui| {
                    for f in fneg.iter().take(30) {
                        self.card_ui(ui, dataset, slot, f, "FN");
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
        dataset: &Arc<Dataset>,
        slot: usize,
        f: &Failure,
        kind: &str,
    ) {
        let selected = self.highlight
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
            self.highlight = Some(Highlight {
                run: slot,
                a: f.a,
                b: f.b,
            });
            self.selected = Some(f.a);
        }
    }
}

/// Run, rule, step and source of a projection, t-SNE's progress and its pause button.
fn projection_header_ui(ui: &mut egui::Ui, run: &RunSlot, p: &Projection) {
    // A wrapping label: in a narrow column (a 1024-px window) a long header must not widen the
    // column over its neighbour and the side panel.
    let title = format!(
        "Run {} · {} · step {} · {}",
        run.name,
        run.strategy_label(),
        p.step,
        p.source.label()
    );
    ui.add(egui::Label::new(egui::RichText::new(title).strong()).wrap());
    ui.horizontal(|ui| {
        ui.label(format!("t-SNE {}/{}", p.iteration, p.iterations));
        if let Some(job) = &p.job {
            let paused = job.is_paused();
            if ui.button(if paused { "Resume" } else { "Pause" }).clicked() {
                job.set_paused(!paused);
            }
        }
    });
}

/// One colour per identity, circles for photos and triangles for caricatures; identities that
/// do not match the search are faded.
fn draw_identities(
    plot_ui: &mut egui_plot::PlotUi,
    p: &Projection,
    dataset: &Dataset,
    search: &str,
) {
    let samples = &dataset.images.samples;
    let mut groups: BTreeMap<(usize, bool), Vec<[f64; 2]>> = BTreeMap::new();
    for (k, &i) in p.samples.iter().enumerate() {
        let s = &samples[i];
        groups
            .entry((s.identity, s.modality == Modality::Caricature))
            .or_default()
            .push(p.point(k));
    }
    for ((identity, cari), points) in groups {
        let name = &dataset.images.identities[identity];
        let matches = search.is_empty() || name.to_lowercase().contains(search);
        let colour = identity_colour(identity);
        let shape = if cari {
            MarkerShape::Up
        } else {
            MarkerShape::Circle
        };
        plot_ui.points(
            Points::new(name.clone(), PlotPoints::from(points))
                .color(if matches {
                    colour
                } else {
                    colour.gamma_multiply(0.15)
                })
                .radius(if cari { 4.0 } else { 3.5 })
                .shape(shape)
                .filled(true),
        );
    }
}

/// The selected failure pair joined by a red line, and the selected point ringed.
fn draw_marks(
    plot_ui: &mut egui_plot::PlotUi,
    p: &Projection,
    highlight: Option<Highlight>,
    selected: Option<usize>,
) {
    if let Some(h) = highlight
        && let (Some(a), Some(b)) = (p.position_of(h.a), p.position_of(h.b))
    {
        plot_ui.line(
            Line::new("failure pair", PlotPoints::from(vec![a, b]))
                .color(Color32::RED)
                .width(2.5),
        );
        plot_ui.points(
            Points::new("failure pair ends", PlotPoints::from(vec![a, b]))
                .color(Color32::RED)
                .radius(8.0)
                .filled(false)
                .shape(MarkerShape::Circle),
        );
    }
    if let Some(sel) = selected.and_then(|s| p.position_of(s)) {
        plot_ui.points(
            Points::new("selected", PlotPoints::from(vec![sel]))
                .color(Color32::WHITE)
                .radius(9.0)
                .filled(false),
        );
    }
}

/// The sample under the pointer (within 10 screen pixels), if any.
fn sample_under_pointer(plot_ui: &egui_plot::PlotUi, p: &Projection) -> Option<usize> {
    let screen = plot_ui.screen_from_plot(plot_ui.pointer_coordinate()?);
    let mut best: Option<(f32, usize)> = None;
    for (k, &i) in p.samples.iter().enumerate() {
        let [x, y] = p.point(k);
        let d = plot_ui
            .screen_from_plot(egui_plot::PlotPoint::new(x, y))
            .distance(screen);
        if d < 10.0 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, i));
        }
    }
    best.map(|(_, i)| i)
}

/// False positives and false negatives at the threshold of a report, worst first.
pub fn failures_of(report: &EvalReport) -> (f32, Vec<Failure>, Vec<Failure>) {
    let threshold = report.verification.mean_threshold;
    let (fp, fneg) = mine_failures(&report.pairs, threshold);
    (threshold, fp, fneg)
}

/// Errors per identity: (identity, false positives, false negatives, C2P/P2C rank-1 misses).
pub fn errors_per_identity(
    dataset: &Dataset,
    report: &EvalReport,
) -> Vec<(usize, usize, usize, usize)> {
    let (_, fp, fneg) = failures_of(report);
    let mut table: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
    let id = |i: usize| dataset.images.samples[i].identity;
    for f in &fp {
        table.entry(id(f.a)).or_default().0 += 1;
    }
    for f in &fneg {
        table.entry(id(f.a)).or_default().1 += 1;
    }
    for o in report.c2p.iter().chain(report.p2c.iter()) {
        if o.true_rank != Some(1) {
            table.entry(o.true_identity).or_default().2 += 1;
        }
    }
    let mut rows: Vec<(usize, usize, usize, usize)> = table
        .into_iter()
        .map(|(i, (a, b, c))| (i, a, b, c))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 + r.2 + r.3));
    rows
}

/// A PNG sheet of the worst failures: one row per pair (false positives red, negatives blue).
pub fn failure_sheet(dataset: &Dataset, report: &EvalReport, rows: usize) -> image::RgbImage {
    let (_, fp, fneg) = failures_of(report);
    let s = dataset.images.image_size as u32;
    let scale = (96 / s).max(1);
    let cell = s * scale;
    let pad = 4u32;
    let pairs: Vec<(&Failure, [u8; 3])> = fp
        .iter()
        .take(rows)
        .map(|f| (f, [220, 40, 40]))
        .chain(fneg.iter().take(rows).map(|f| (f, [40, 90, 220])))
        .collect();
    let height = (pairs.len().max(1) as u32) * (cell + 2 * pad);
    let width = 2 * cell + 3 * pad;
    let mut sheet = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for (row, (f, colour)) in pairs.iter().enumerate() {
        let y0 = row as u32 * (cell + 2 * pad);
        for x in 0..width {
            for y in y0..y0 + cell + 2 * pad {
                if x < pad || x >= width - pad || y < y0 + pad || y >= y0 + cell + pad {
                    sheet.put_pixel(x, y, image::Rgb(*colour));
                }
            }
        }
        for (k, index) in [f.a, f.b].into_iter().enumerate() {
            let img = dataset.images.image(index);
            let x0 = pad + k as u32 * (cell + pad);
            for y in 0..cell {
                for x in 0..cell {
                    let p = (((y / scale) * s + x / scale) * 3) as usize;
                    sheet.put_pixel(
                        x0 + x,
                        y0 + pad + y,
                        image::Rgb([img[p], img[p + 1], img[p + 2]]),
                    );
                }
            }
        }
    }
    sheet
}
