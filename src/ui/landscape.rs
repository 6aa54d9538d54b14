//! The loss landscape in the Toy tab: contours of f1, f2 and their mean, the Pareto set, and
//! the chosen rules' paths from the five starts, drawn as they go; the rule's weights at any
//! point of a path on hover, with the two tasks' gradients and the rule's direction there.

use std::time::Instant;

use egui::{Color32, Id};
use egui_plot::{Arrows, Line, MarkerShape, Plot, PlotPoint, PlotPoints, PlotUi, Points};

use super::colours::TASK_COLOURS;
use crate::lab::PanelCtx;
use crate::lab::landscape::{
    Contours, LandscapeSettings, LandscapeView, RulePaths, X_RANGE, Y_RANGE,
};
use crate::lab::lessons::Control;
use crate::weighting::Strategy;
use crate::weighting::landscape::functions::gradients;
use crate::weighting::landscape::pareto::{pareto_distance, stationarity};
use crate::weighting::landscape::{PathPoint, STARTS, TaskLoss, Variant, refusal};

const INTRO: &str = "Two tasks share two parameters θ = (x, y) — the toy of the CAGrad, Nash-MTL and FAMO papers (CAGrad's code). Each rule picks the weights of the two tasks' gradients at every step, and Adam moves θ along the combination (lr 0.001, 100,000 steps, as the paper). The thick gold curve is the Pareto set: points where no task can improve without the other getting worse (where some convex combination of the two gradients vanishes).";

/// Colours of the rules' paths, in the order the rules were chosen.
const RULE_COLOURS: [Color32; 8] = [
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(23, 190, 207),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(188, 189, 34),
    Color32::from_rgb(31, 119, 180),
];

/// Contours of f1 and f2 in the tasks' colours (blue, orange), their mean in grey.
const CONTOUR_COLOURS: [Color32; 3] = [
    TASK_COLOURS[0],
    TASK_COLOURS[1],
    Color32::from_rgb(110, 110, 110),
];

/// Gold: it shows on the dark and the light theme, and no rule has it.
const PARETO_COLOUR: Color32 = Color32::from_rgb(235, 190, 30);

/// Arrows at a point are drawn this long (in θ units) for the longest of the three.
const ARROW_LENGTH: f64 = 1.6;

/// Where the paths show their gradients when "gradients" is ticked: these fractions of the
/// recorded points (the start, and three points along the way).
const GRADIENT_POINTS: [f64; 4] = [0.0, 0.01, 0.1, 0.5];

/// The landscape's own view state: the animation.
#[derive(Default)]
pub struct LandscapePanel {
    /// When the paths now shown started drawing themselves.
    animation_started: Option<Instant>,
    /// The rules whose paths the animation drew (a change replays it).
    animated: Vec<&'static str>,
}

impl LandscapePanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        ui.label(INTRO);
        let settings = &mut ctx.settings.toy.landscape;
        if ctx.settings.hidden.contains(&Control::LandscapeSettings) {
            // The lesson fixes the optimiser; only what is drawn can change.
        } else {
            settings_ui(ui, settings);
        }
        rules_ui(ui, settings);
        let replay = display_ui(ui, settings);
        let view = ctx.landscape.view(settings);
        if replay {
            self.animation_started = None;
        }
        self.status_ui(ui, &view);
        let progress = self.animation(ui.ctx(), &view, settings);
        plot_ui(ui, settings, &view, progress);
    }

    /// What the animation has drawn, from 0 to 1; it starts once every chosen rule's paths
    /// are in.
    fn animation(
        &mut self,
        egui_ctx: &egui::Context,
        view: &LandscapeView,
        settings: &LandscapeSettings,
    ) -> f64 {
        if view.computing.is_some() {
            egui_ctx.request_repaint_after(std::time::Duration::from_millis(100));
            return 0.0;
        }
        let shown: Vec<&'static str> = view.paths.iter().map(|p| p.rule.key()).collect();
        if shown != self.animated {
            self.animated = shown;
            self.animation_started = None;
        }
        let started = *self.animation_started.get_or_insert_with(Instant::now);
        if settings.animation_secs <= 0.0 {
            return 1.0;
        }
        let progress = started.elapsed().as_secs_f64() / settings.animation_secs;
        if progress < 1.0 {
            egui_ctx.request_repaint();
        }
        progress.min(1.0)
    }

    fn status_ui(&self, ui: &mut egui::Ui, view: &LandscapeView) {
        if let Some(e) = &view.error {
            ui.colored_label(Color32::RED, e);
            return;
        }
        let mut parts = Vec::new();
        if view.background.is_none() {
            parts.push("computing the contours and the Pareto set…".to_string());
        }
        if let Some((rule, waiting)) = view.computing {
            parts.push(format!(
                "computing {rule}'s paths ({waiting} more waiting)…"
            ));
        }
        let seconds: f64 = view.paths.iter().map(|p| p.seconds).sum();
        if parts.is_empty() && !view.paths.is_empty() {
            parts.push(format!(
                "{} rules × 5 starts computed in {seconds:.1} s of one core",
                view.paths.len()
            ));
        }
        for paths in &view.paths {
            for path in &paths.paths {
                match path {
                    Err(e) => parts.push(e.clone()),
                    Ok(outcome) => {
                        if let Some(stop) = &outcome.stopped {
                            parts.push(format!("{stop} (marked ×)"));
                        }
                    }
                }
            }
        }
        ui.label(egui::RichText::new(parts.join(" · ")).weak());
    }
}

/// The variant (one loss scaled) and the optimiser.
fn settings_ui(ui: &mut egui::Ui, settings: &mut LandscapeSettings) {
    let config = &mut settings.config;
    ui.horizontal_wrapped(|ui| {
        let mut scaled = matches!(config.variant, Variant::Scaled { .. });
        if ui
            .checkbox(&mut scaled, "scale one loss")
            .on_hover_text("FAMO's and Nash-MTL's variant: one task's loss (and gradient) times a factor. The Pareto set does not move; rules that follow raw gradients do.")
            .changed()
        {
            config.variant = if scaled {
                Variant::NASH_FAMO
            } else {
                Variant::Cagrad
            };
        }
        if let Variant::Scaled {
            ref mut task,
            ref mut factor,
        } = config.variant
        {
            egui::ComboBox::from_id_salt("landscape_scaled_task")
                .selected_text(match task {
                    TaskLoss::F1 => "f1",
                    TaskLoss::F2 => "f2",
                })
                .width(50.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(task, TaskLoss::F1, "f1");
                    ui.selectable_value(task, TaskLoss::F2, "f2");
                });
            ui.label("×");
            ui.add(egui::Slider::new(factor, 0.01..=10.0).logarithmic(true));
        }
        ui.separator();
        ui.label("steps");
        ui.add(
            egui::DragValue::new(&mut config.steps)
                .range(100..=1_000_000)
                .speed(1000),
        )
        .on_hover_text("Adam steps per path (the paper's 100,000)");
        ui.label("Adam lr");
        ui.add(
            egui::DragValue::new(&mut config.lr)
                .range(1e-5..=0.1)
                .speed(1e-4)
                .custom_formatter(|v, _| format!("{v:.0e}")),
        )
        .on_hover_text("Adam's learning rate on θ (the paper's 0.001)");
        ui.label("rule η");
        ui.add(
            egui::DragValue::new(&mut config.rule_lr)
                .range(1e-4..=100.0)
                .speed(0.01),
        )
        .on_hover_text("Step size of the rules' own parameters: proposed's and naive's logits, uncertainty's s (as in the losses toy). Loss rules see the losses + 21, the lower bound FAMO's toy sets, so that they are positive.");
        ui.label("CAGrad c");
        ui.add(egui::Slider::new(&mut config.cagrad_c, 0.0..=1.0));
    });
}

/// A tick per rule that can run here (greyed, saying why, for the others).
fn rules_ui(ui: &mut egui::Ui, settings: &mut LandscapeSettings) {
    ui.horizontal_wrapped(|ui| {
        ui.label("rules:");
        for rule in Strategy::all() {
            let chosen = settings.rules.iter().position(|r| *r == rule);
            match refusal(rule, &settings.config) {
                Some(why) => {
                    ui.add_enabled(false, egui::Checkbox::new(&mut false, rule.key()))
                        .on_disabled_hover_text(format!("cannot run here: {why}"));
                }
                None => {
                    let mut on = chosen.is_some();
                    let label = match chosen {
                        Some(k) => egui::RichText::new(rule.key())
                            .color(RULE_COLOURS[k % RULE_COLOURS.len()])
                            .strong(),
                        None => egui::RichText::new(rule.key()),
                    };
                    if ui
                        .checkbox(&mut on, label)
                        .on_hover_text(rule.description())
                        .changed()
                    {
                        if on {
                            settings.rules.push(rule);
                        } else {
                            settings.rules.retain(|r| *r != rule);
                        }
                    }
                }
            }
        }
    });
}

/// Which starts and contours are drawn, the gradients, the animation. True: replay it.
fn display_ui(ui: &mut egui::Ui, settings: &mut LandscapeSettings) -> bool {
    let mut replay = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("starts:");
        for (k, [x, y]) in STARTS.iter().enumerate() {
            ui.checkbox(&mut settings.starts[k], format!("({x}, {y})"));
        }
        ui.separator();
        ui.label("contours:");
        for (k, name) in ["f1", "f2", "mean"].iter().enumerate() {
            ui.checkbox(
                &mut settings.contours[k],
                egui::RichText::new(*name).color(CONTOUR_COLOURS[k]),
            );
        }
        ui.separator();
        ui.checkbox(&mut settings.gradients, "gradients")
            .on_hover_text("At the start and three points of each path: −∇f1 (blue), −∇f2 (orange) and the rule's step direction −d (the path's colour), scaled together so their lengths compare");
        if ui
            .button("Replay")
            .on_hover_text("Draw the paths again from their starts")
            .clicked()
        {
            replay = true;
        }
        ui.add(
            egui::Slider::new(&mut settings.animation_secs, 0.0..=30.0)
                .text("s")
                .max_decimals(0),
        )
        .on_hover_text("How long the paths take to draw themselves (0: at once)");
    });
    replay
}

/// The plot: contours, Pareto set, paths, and the hovered point's read-out.
fn plot_ui(ui: &mut egui::Ui, settings: &LandscapeSettings, view: &LandscapeView, progress: f64) {
    let side = ui.available_height().min(ui.available_width()).max(200.0);
    let variant = settings.config.variant;
    // Square, so that with x and y at the same scale the whole box (starts, front) shows: in
    // a wide window a full-width plot cut y to about ±5.
    let response = Plot::new("landscape")
        .width(side)
        .height(side)
        .data_aspect(1.0)
        .default_x_bounds(X_RANGE.0 - 0.5, X_RANGE.1 + 0.5)
        .default_y_bounds(Y_RANGE.0 - 0.5, Y_RANGE.1 + 0.5)
        .x_axis_label("x")
        .y_axis_label("y")
        .label_formatter(|_| None)
        .show(ui, |plot_ui| {
            if let Some(background) = &view.background {
                for (k, contours) in background.contours.iter().enumerate() {
                    if settings.contours[k] {
                        draw_contours(plot_ui, contours, CONTOUR_COLOURS[k]);
                    }
                }
                plot_ui.line(
                    Line::new("Pareto set", PlotPoints::from(background.pareto.clone()))
                        .color(PARETO_COLOUR)
                        .width(4.0)
                        .allow_hover(false),
                );
            }
            for (k, paths) in view.paths.iter().enumerate() {
                let colour = RULE_COLOURS[k % RULE_COLOURS.len()];
                draw_paths(plot_ui, paths, settings, colour, progress);
            }
            // Only while the pointer is over the plot: outside it egui_plot still gives a
            // coordinate, and the nearest point's arrows were drawn across the map.
            let pointer = plot_ui
                .response()
                .hovered()
                .then(|| plot_ui.pointer_coordinate())
                .flatten();
            let nearest = pointer.and_then(|p| nearest_point(plot_ui, view, settings, progress, p));
            if let Some((k, _, point)) = &nearest {
                let colour = RULE_COLOURS[k % RULE_COLOURS.len()];
                draw_gradients(plot_ui, point, variant, colour);
                plot_ui.points(
                    Points::new("", vec![point.theta])
                        .radius(5.0)
                        .color(colour)
                        .allow_hover(false),
                );
            }
            nearest
        });
    if let Some((k, start, point)) = response.inner
        && response.response.hovered()
    {
        let rule = view.paths[k].rule;
        hover_readout(ui, rule, STARTS[start], &point, variant);
    }
}

fn draw_contours(plot_ui: &mut PlotUi, contours: &Contours, colour: Color32) {
    for (level, lines) in contours {
        for line in lines {
            plot_ui.line(
                Line::new(format!("{level:.1}"), PlotPoints::from(line.clone()))
                    .color(colour.gamma_multiply(0.45))
                    .width(1.0)
                    .allow_hover(false),
            );
        }
    }
}

/// The recorded points the animation has reached: all once it is done.
fn shown(points: &[PathPoint], progress: f64) -> &[PathPoint] {
    let count = ((points.len() as f64) * progress).ceil() as usize;
    &points[..count.clamp(1.min(points.len()), points.len())]
}

/// One rule's paths: a line from each start, the start as a ring, the end (once reached) as
/// a dot; gradients at a few points when asked.
fn draw_paths(
    plot_ui: &mut PlotUi,
    paths: &RulePaths,
    settings: &LandscapeSettings,
    colour: Color32,
    progress: f64,
) {
    let variant = settings.config.variant;
    for (k, outcome) in paths.paths.iter().enumerate() {
        let (true, Ok(outcome)) = (settings.starts[k], outcome) else {
            continue;
        };
        let path = &outcome.path;
        let points = shown(&path.points, progress);
        let line = thinned(points.iter().map(|p| p.theta));
        let name = format!("{} from {:?}", paths.rule, STARTS[k]);
        plot_ui.line(
            Line::new(name.clone(), PlotPoints::from(line))
                .color(colour)
                .width(2.0)
                .allow_hover(false),
        );
        plot_ui.points(
            Points::new("", vec![STARTS[k]])
                .radius(4.0)
                .filled(false)
                .color(colour)
                .allow_hover(false),
        );
        if let Some(end) = points.last() {
            let stopped = outcome.stopped.is_some() && points.len() == path.points.len();
            let shape = if stopped {
                MarkerShape::Cross
            } else {
                MarkerShape::Circle
            };
            plot_ui.points(
                Points::new("", vec![end.theta])
                    .radius(if stopped { 6.0 } else { 3.5 })
                    .shape(shape)
                    .color(colour)
                    .allow_hover(false),
            );
        }
        if settings.gradients {
            for fraction in GRADIENT_POINTS {
                let index = ((path.points.len() - 1) as f64 * fraction) as usize;
                if let Some(point) = points.get(index) {
                    draw_gradients(plot_ui, point, variant, colour);
                }
            }
        }
    }
}

/// A path's points without those closer than `MIN_GAP` to the last one kept (the last point
/// always kept). Adam jitters back and forth on the Pareto set by less than a pixel, and the
/// line's mitred joins at those reversals drew long straight spikes across the plot.
fn thinned(points: impl Iterator<Item = [f64; 2]>) -> Vec<[f64; 2]> {
    const MIN_GAP: f64 = 0.02;
    let mut kept: Vec<[f64; 2]> = Vec::new();
    let mut last_seen = None;
    for p in points {
        last_seen = Some(p);
        if let Some(q) = kept.last()
            && (p[0] - q[0]).hypot(p[1] - q[1]) < MIN_GAP
        {
            continue;
        }
        kept.push(p);
    }
    if let Some(p) = last_seen
        && kept.last() != Some(&p)
    {
        kept.push(p);
    }
    kept
}

/// −∇f1, −∇f2 and the rule's step direction −d at a recorded point, scaled together.
fn draw_gradients(plot_ui: &mut PlotUi, point: &PathPoint, variant: Variant, colour: Color32) {
    let [g1, g2] = gradients(point.theta, variant);
    let lambda = point.coefficients.unwrap_or([0.0, 0.0]);
    let d = [0, 1].map(|k| lambda[0] * g1[k] + lambda[1] * g2[k]);
    let norm = |v: [f64; 2]| v[0].hypot(v[1]);
    let longest = norm(g1).max(norm(g2)).max(norm(d));
    if !(longest.is_finite() && longest > 0.0) {
        return;
    }
    let scale = ARROW_LENGTH / longest;
    let [x, y] = point.theta;
    let tip = |v: [f64; 2]| [x - scale * v[0], y - scale * v[1]];
    for (v, c) in [(g1, TASK_COLOURS[0]), (g2, TASK_COLOURS[1]), (d, colour)] {
        // An arrow too short to see (MGDA's d on the Pareto set is ~1e-6 of the gradients)
        // is left out: it would be all head and no shaft.
        if norm(v) * scale < ARROW_LENGTH * 0.01 {
            continue;
        }
        plot_ui.arrows(
            Arrows::new(
                "",
                PlotPoints::from(vec![[x, y]]),
                PlotPoints::from(vec![tip(v)]),
            )
            .color(c)
            .tip_length(8.0)
            .allow_hover(false),
        );
    }
}

/// The drawn point nearest the pointer, within a few pixels: (rule index, start, point).
fn nearest_point(
    plot_ui: &PlotUi,
    view: &LandscapeView,
    settings: &LandscapeSettings,
    progress: f64,
    pointer: PlotPoint,
) -> Option<(usize, usize, PathPoint)> {
    const REACH_PX: f32 = 10.0;
    let at = plot_ui.screen_from_plot(pointer);
    let mut best: Option<(f32, usize, usize, &PathPoint)> = None;
    for (k, paths) in view.paths.iter().enumerate() {
        for (start, outcome) in paths.paths.iter().enumerate() {
            let (true, Ok(outcome)) = (settings.starts[start], outcome) else {
                continue;
            };
            for point in shown(&outcome.path.points, progress) {
                let screen =
                    plot_ui.screen_from_plot(PlotPoint::new(point.theta[0], point.theta[1]));
                let distance = screen.distance(at);
                if distance < REACH_PX && best.is_none_or(|b| distance < b.0) {
                    best = Some((distance, k, start, point));
                }
            }
        }
    }
    best.map(|(_, k, start, point)| (k, start, point.clone()))
}

fn hover_readout(
    ui: &mut egui::Ui,
    rule: Strategy,
    start: [f64; 2],
    point: &PathPoint,
    variant: Variant,
) {
    let pos = ui.ctx().pointer_hover_pos().unwrap_or_default();
    egui::Area::new(Id::unique("landscape_hover"))
        .fixed_pos(pos + egui::vec2(16.0, 16.0))
        .order(egui::Order::Tooltip)
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.label(
                    egui::RichText::new(format!(
                        "{rule} from ({}, {}) · step {}",
                        start[0], start[1], point.step
                    ))
                    .strong(),
                );
                let [x, y] = point.theta;
                ui.label(format!("θ = ({x:.4}, {y:.4})"));
                ui.label(format!(
                    "f1 = {:.4}, f2 = {:.4}",
                    point.losses[0], point.losses[1]
                ));
                match point.weights {
                    Some([w1, w2]) => {
                        ui.horizontal(|ui| {
                            ui.label("weights:");
                            ui.colored_label(TASK_COLOURS[0], format!("w1 {w1:.3}"));
                            ui.colored_label(TASK_COLOURS[1], format!("w2 {w2:.3}"));
                        });
                    }
                    None => {
                        ui.label("the path's end: no step from here");
                    }
                }
                if let Some([l1, l2]) = point.coefficients {
                    ui.label(format!("λ = ({l1:.4}, {l2:.4}), d = λ1 ∇f1 + λ2 ∇f2"));
                }
                ui.label(format!(
                    "distance to the Pareto set {:.2e} · min ‖convex combination of ∇f1, ∇f2‖ {:.2e}",
                    pareto_distance(point.theta),
                    stationarity(point.theta, variant)
                ));
            });
        });
}

#[cfg(test)]
mod thinning_tests {
    use super::thinned;

    #[test]
    fn sub_pixel_jitter_is_dropped_and_the_end_kept() {
        // A path that arrives at (1, 0), then jitters by 1e-4 back and forth (Adam on the
        // Pareto set), ending at (1.0002, 0).
        let mut points = vec![[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]];
        for k in 0..20 {
            points.push([1.0 + if k % 2 == 0 { 1e-4 } else { -1e-4 }, 0.0]);
        }
        points.push([1.0002, 0.0]);
        let line = thinned(points.into_iter());
        assert_eq!(
            line,
            vec![[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0002, 0.0]]
        );
    }
}
