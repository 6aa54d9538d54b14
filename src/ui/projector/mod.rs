//! The embedding projector tab (t-SNE of a run's embeddings, animated as it optimises, run A
//! beside run B) and, at its side, the failure inspector. Its state (jobs, selection) is
//! `lab::projector`; this panel keeps only the image textures it has uploaded.

use egui::{Color32, TextureHandle};
use egui_plot::{Line, MarkerShape, Plot, PlotPoints, Points};
use std::collections::HashMap;
use std::sync::Arc;

use std::collections::BTreeMap;

use crate::data::{Dataset, Modality};
use crate::eval::EmbeddingSource;
use crate::lab::PanelCtx;
use crate::lab::actions::UiAction;
use crate::lab::projector::{Highlight, Projection, ProjectorSettings, ProjectorState, Subset};
use crate::lab::run::RunSlot;
use crate::ui::view::View;

mod inspector;

impl View for ProjectorPanel {
    /// The tab: controls, the two projections, and the inspector and failures at the side.
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        let Some(dataset) = ctx.dataset.ready().cloned() else {
            ui.label("Waiting for the dataset…");
            return;
        };
        let (settings, runs) = (&mut ctx.settings.projector, ctx.runs);
        ui.horizontal_wrapped(|ui| controls_ui(ui, settings, runs, &dataset, ctx.actions));
        // Only while the tab is shown: nothing is embedded for a tab nobody looks at.
        if ctx.projector.due(settings, runs) {
            ctx.actions.push(UiAction::Project);
        }
        let height = ui.available_height();
        egui::Panel::right("projector_side")
            .frame(super::colours::unfilled(egui::Frame::side_top_panel(
                ui.style(),
            )))
            .default_size(380.0)
            .show(ui, |ui| {
                self.side_ui(ui, ctx.projector, settings, runs, &dataset)
            });
        ui.columns(2, |cols| {
            for (slot, ui) in cols.iter_mut().enumerate() {
                let state = &mut *ctx.projector;
                self.projection_ui(ui, state, settings, runs, &dataset, (slot, height - 40.0));
            }
        });
    }
}

/// The projector tab's own state: the thumbnails it has uploaded to the GPU.
#[derive(Default)]
pub struct ProjectorPanel {
    thumbnails: HashMap<usize, TextureHandle>,
}

impl ProjectorPanel {
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

fn label(dataset: &Dataset, index: usize) -> String {
    let s = &dataset.images.samples[index];
    format!(
        "{} · {}",
        dataset.images.identities[s.identity],
        s.modality.as_str()
    )
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

impl ProjectorPanel {
    fn projection_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &mut ProjectorState,
        settings: &ProjectorSettings,
        runs: &[RunSlot; 2],
        dataset: &Arc<Dataset>,
        (slot, height): (usize, f32),
    ) {
        let Some(p) = &state.projections[slot] else {
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
        let (highlight, selected) = (state.highlight, state.selected);
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
                state.selected = Some(index);
            }
        }
    }

    fn side_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &mut ProjectorState,
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
        if let Some(sel) = state.selected {
            ui.separator();
            ui.strong("Selected");
            self.inspector_ui(ui, state, runs, dataset, sel);
        }
        ui.separator();
        self.failures_ui(ui, state, runs, dataset);
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
