//! The top bar: tabs, lessons, Play/Step/Reset, the run's settings, and each run's progress.

use crate::lab::PanelCtx;
use crate::lab::actions::UiAction;
use crate::lab::dataset::DatasetState;
use crate::lab::lessons::{Control, Lesson};
use crate::lab::run::{RunSlot, RunStatus};
use crate::lab::settings::{Settings, Tab};
use crate::model::Preset;
use crate::train::lens::GradSpace;
use crate::train::recipe::Recipe;
use crate::ui::view::View;

const LAB_HOVER: &str = "Fig. 3 live: weights above losses for runs A and B";
const METRICS_HOVER: &str = "Evaluation as in the paper's Tables I–IV";
const EMBEDDINGS_HOVER: &str = "t-SNE of the embeddings of runs A and B, and the failure inspector";
const TOY_HOVER: &str = "The weighting rules on a toy model: no network, instant";
const SWEEP_HOVER: &str = "A compare folder (Files → Open sweep…): every rule's runs as bands over seeds, Table I with n, paired differences against a baseline rule, Δm";
const PLAY_HOVER: &str = "Train both runs continuously (Space)";
const STEP_HOVER: &str = "One training step for each run (S)";
const RESET_HOVER: &str = "Start both runs again from step 0 with the settings shown (R)";
const SEED_HOVER: &str = "Seed of the data, the initial parameters and the batch order; both runs share it. Applies on Reset.";
const PRESET_HOVER: &str = "Network size: tiny (32×32, CPU) or paper (the authors' Inception-ResNet cut at 160×160, meant for CUDA). Applies on Reset.";
const DEVICE_HOVER_CUDA: &str =
    "Where training runs: auto picks CUDA:0 when a GPU answers. Applies on Reset.";
const DEVICE_HOVER_CPU: &str = "Where training runs. This build has no CUDA; build with --features cuda for a GPU. Applies on Reset.";
const LR_HOVER: &str = "The network's learning rate (RMSProp). Applies at the next step.";
const PSI_LR_HOVER: &str = "Ψ's own learning rate under proposed. Below about half the network's rate the gradient reaching the trunk through w pushes the weights into naive's order. Applies at the next step.";
const SCALE_HOVER: &str = "Weight-logit scale s: Ψ's logits are L2-normalised and multiplied by s, which bounds every weight (s = 0.5: 0.21..0.48; 1: 0.13..0.63; 2: 0.04..0.85). Off: each rule's default from the authors' code (proposed 1, naive 0.5).";
const RATE_HOVER: &str =
    "Steps per second is smoothed over recent steps; time trained excludes pauses.";

/// The bar at the top: tabs, Play/Step/Reset, the run's settings, the Files menu.
#[derive(Default)]
pub struct TopBar;

impl View for TopBar {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        top_bar_ui(ui, ctx);
    }
}

fn top_bar_ui(ui: &mut egui::Ui, ctx: &mut PanelCtx) {
    let (settings, runs, dataset) = (&mut *ctx.settings, ctx.runs, ctx.dataset);
    let (elapsed_secs, actions) = (ctx.elapsed_secs, &mut *ctx.actions);
    ui.horizontal_wrapped(|ui| {
        tabs_ui(ui, settings, actions);
        ui.separator();
        transport_ui(ui, runs, actions);
        ui.separator();
        run_settings_ui(ui, settings, runs, actions);
    });
    ui.horizontal_wrapped(|ui| progress_ui(ui, runs, elapsed_secs, dataset));
}

fn tabs_ui(ui: &mut egui::Ui, settings: &mut Settings, actions: &mut Vec<UiAction>) {
    for (tab, title, hover) in [
        (Tab::Lab, "Lab", LAB_HOVER),
        (Tab::Metrics, "Metrics", METRICS_HOVER),
        (Tab::Projector, "Embeddings", EMBEDDINGS_HOVER),
        (Tab::Toy, "Toy", TOY_HOVER),
        (Tab::Sweep, "Sweep", SWEEP_HOVER),
    ] {
        ui.selectable_value(&mut settings.tab, tab, title)
            .on_hover_text(hover);
    }
    lessons_menu_ui(ui, actions);
}

fn transport_ui(ui: &mut egui::Ui, runs: &[RunSlot; 2], actions: &mut Vec<UiAction>) {
    let ready = runs.iter().any(|r| r.is_ready());
    let play_label = if runs.iter().any(|r| r.playing) {
        "Pause"
    } else {
        "Play"
    };
    for (label, hover, enabled, action) in [
        (play_label, PLAY_HOVER, ready, UiAction::TogglePlay),
        ("Step", STEP_HOVER, ready, UiAction::StepOnce),
        ("Reset", RESET_HOVER, true, UiAction::Reset),
    ] {
        if ui
            .add_enabled(enabled, egui::Button::new(label))
            .on_hover_text(hover)
            .clicked()
        {
            actions.push(action);
        }
    }
}

fn run_settings_ui(
    ui: &mut egui::Ui,
    settings: &mut Settings,
    runs: &[RunSlot; 2],
    actions: &mut Vec<UiAction>,
) {
    // Each label stays on the row of its value when a narrow window wraps the bar.
    if settings.shows(Control::Seed) {
        room_for(ui, 90.0);
        ui.horizontal(|ui| {
            ui.label("seed");
            ui.add(egui::DragValue::new(&mut settings.seed).range(0..=u32::MAX as u64))
                .on_hover_text(SEED_HOVER);
        });
    }
    if settings.shows(Control::Preset) {
        room_for(ui, 110.0);
        egui::ComboBox::from_id_salt("preset")
            .selected_text(settings.preset.key())
            .show_ui(ui, |ui| {
                for p in Preset::ALL {
                    ui.selectable_value(&mut settings.preset, p, p.key());
                }
            })
            .response
            .on_hover_text(PRESET_HOVER);
    }
    if settings.shows(Control::Preset) {
        room_for(ui, 110.0);
        recipe_ui(ui, settings, actions);
    }
    if settings.shows(Control::Device) {
        room_for(ui, 110.0);
        device_ui(ui, settings, runs);
    }
    if settings.shows(Control::Rates) {
        rates_ui(ui, settings, actions);
    }
    if settings.shows(Control::Scale) {
        scale_ui(ui, settings, actions);
    }
    if settings.shows(Control::Gradients) {
        gradients_ui(ui, settings, actions);
    }
}

fn device_ui(ui: &mut egui::Ui, settings: &mut Settings, runs: &[RunSlot; 2]) {
    let mut devices = vec!["auto".to_string(), "cpu".to_string()];
    if cfg!(feature = "cuda") {
        devices.push("cuda:0".into());
    }
    let shown = match runs[0].info.as_ref() {
        Some(info) => format!("{} ({})", settings.device, info.device),
        None => settings.device.clone(),
    };
    egui::ComboBox::from_id_salt("device")
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for d in devices {
                ui.selectable_value(&mut settings.device, d.clone(), d);
            }
        })
        .response
        .on_hover_text(if cfg!(feature = "cuda") {
            DEVICE_HOVER_CUDA
        } else {
            DEVICE_HOVER_CPU
        });
}

/// Start a new row of the wrapping bar unless `width_px` fit in this one: a group that starts
/// at the edge would be cut, since a row wraps only between widgets.
fn room_for(ui: &mut egui::Ui, width_px: f32) {
    if ui.available_size_before_wrap().x < width_px {
        ui.end_row();
    }
}

fn recipe_ui(ui: &mut egui::Ui, settings: &Settings, actions: &mut Vec<UiAction>) {
    egui::ComboBox::from_id_salt("recipe")
        .selected_text(settings.recipe.key())
        .show_ui(ui, |ui| {
            for recipe in Recipe::ALL {
                if ui
                    .selectable_label(settings.recipe == recipe, recipe.key())
                    .on_hover_text(recipe.description())
                    .clicked()
                    && settings.recipe != recipe
                {
                    actions.push(UiAction::SetRecipe(recipe));
                }
            }
        })
        .response
        .on_hover_text(format!(
            "{RECIPE_HOVER}\n\nNow: {}",
            settings.recipe.description()
        ));
}

const RECIPE_HOVER: &str = "Recipe: the optimiser, learning rates and their drop, Ψ's rate, s, centre loss and clipping both runs start from. Choosing one restarts both runs; lr, Ψ lr and s can still be changed after.";

fn rates_ui(ui: &mut egui::Ui, settings: &Settings, actions: &mut Vec<UiAction>) {
    let mut rates = settings.rates;
    let exponent = |v: f64, _: std::ops::RangeInclusive<usize>| format!("{v:.0e}");
    room_for(ui, 90.0);
    ui.horizontal(|ui| {
        ui.label("lr");
        ui.add(
            egui::DragValue::new(&mut rates.lr)
                .range(1e-6..=1.0)
                .speed(1e-5)
                .custom_formatter(exponent),
        )
        .on_hover_text(LR_HOVER);
    });
    room_for(ui, 100.0);
    ui.horizontal(|ui| {
        ui.label("Ψ lr");
        ui.add(
            egui::DragValue::new(&mut rates.psi_lr)
                .range(1e-6..=1.0)
                .speed(1e-4)
                .custom_formatter(exponent),
        )
        .on_hover_text(PSI_LR_HOVER);
    });
    if rates != settings.rates {
        actions.push(UiAction::SetRates(rates));
    }
    let mut reach = settings.weights_reach_trunk;
    room_for(ui, 150.0);
    if ui
        .checkbox(&mut reach, "w reaches trunk")
        .on_hover_text(REACH_HOVER)
        .changed()
    {
        actions.push(UiAction::SetWeightsReachTrunk(reach));
    }
}

const LENS_HOVER: &str = "The gradient lens: each task's own gradient on the shared part, their cosines (below 0 the tasks pull the shared layers apart) and whom the update serves, shown under each run's weights and losses. Applies from the next step.";
const GRAD_SPACE_HOVER: &str = "Where the rules that combine gradients (MGDA, PCGrad, CAGrad, …) take them. Applies from the next step.";

/// The lens (space, every N steps) and the gradient rules' space; changes are actions.
fn gradients_ui(ui: &mut egui::Ui, settings: &Settings, actions: &mut Vec<UiAction>) {
    let mut wanted = settings.gradients;
    room_for(ui, 200.0);
    ui.horizontal(|ui| {
        ui.label("lens");
        egui::ComboBox::from_id_salt("lens_space")
            .selected_text(wanted.lens.space.map_or("off", GradSpace::key))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut wanted.lens.space, None, "off");
                for space in GradSpace::ALL {
                    ui.selectable_value(&mut wanted.lens.space, Some(space), space.key())
                        .on_hover_text(space.description());
                }
            })
            .response
            .on_hover_text(LENS_HOVER);
        if wanted.lens.space.is_some() {
            ui.label("every");
            ui.add(egui::DragValue::new(&mut wanted.lens.every).range(1..=1000))
                .on_hover_text(
                    "The lens looks on every N-th step (each look costs backward passes)",
                );
        }
    });
    room_for(ui, 150.0);
    ui.horizontal(|ui| {
        ui.label("rules' gradients");
        egui::ComboBox::from_id_salt("grad_space")
            .selected_text(wanted.grad_space.key())
            .show_ui(ui, |ui| {
                for space in GradSpace::ALL {
                    ui.selectable_value(&mut wanted.grad_space, space, space.key())
                        .on_hover_text(space.description());
                }
            })
            .response
            .on_hover_text(GRAD_SPACE_HOVER);
    });
    if wanted != settings.gradients {
        actions.push(UiAction::SetGradients(wanted));
    }
}

const REACH_HOVER: &str = "Ticked (the authors' code): the network's loss Σ w_i·L_i also trains the trunk through w, so the trunk can steer Ψ toward the easy tasks. Unticked: w is a constant for the network (the paper's eq. 11). Applies from the next step.";

fn scale_ui(ui: &mut egui::Ui, settings: &Settings, actions: &mut Vec<UiAction>) {
    let mut scale = settings.scale;
    let mut overridden = scale.is_some();
    if ui
        .checkbox(&mut overridden, "s")
        .on_hover_text(SCALE_HOVER)
        .changed()
    {
        scale = overridden.then_some(1.0);
    }
    if let Some(s) = &mut scale {
        ui.add(egui::Slider::new(s, 0.1..=5.0).logarithmic(true));
    }
    if scale != settings.scale {
        actions.push(UiAction::SetScale(scale));
    }
}

fn progress_ui(ui: &mut egui::Ui, runs: &[RunSlot; 2], elapsed_secs: f64, dataset: &DatasetState) {
    for run in runs {
        let status = match &run.status {
            RunStatus::Waiting => "waiting for data".to_string(),
            RunStatus::Building => "building the model…".to_string(),
            RunStatus::Paused(reason) => format!("paused ({reason})"),
            RunStatus::Playing => "training".to_string(),
            RunStatus::Failed(_) => "FAILED".to_string(),
        };
        ui.label(format!(
            "{}: step {} · {:.1} steps/s · {:.0} s trained · {}",
            run.name, run.step, run.steps_per_sec, run.wall_secs, status
        ))
        .on_hover_text(RATE_HOVER);
        ui.separator();
    }
    ui.label(format!("elapsed {elapsed_secs:.0} s"))
        .on_hover_text("Wall time since Play was first pressed");
    if let Some(progress) = dataset.loading() {
        let text = match progress.files_decoded() {
            Some((done, total)) => format!("{done} / {total} files"),
            None => "generating faces…".to_string(),
        };
        ui.add(
            egui::ProgressBar::new(progress.fraction_done())
                .desired_width(160.0)
                .text(text),
        );
    }
}

fn lessons_menu_ui(ui: &mut egui::Ui, actions: &mut Vec<UiAction>) {
    ui.menu_button("Lessons", |ui| {
        for lesson in Lesson::ALL {
            if ui
                .button(lesson.title())
                .on_hover_text(lesson.text())
                .clicked()
            {
                actions.push(UiAction::OpenLesson(lesson));
            }
        }
    })
    .response
    .on_hover_text(
        "Short guided presets: each sets the parameters and hides what it does not need",
    );
}

const WELCOME: &str = "New here? Press Play (or Space) to train run A (proposed) and run B (naive) side by side, or start with Lessons: the first one shows the idea on a toy model in a minute.";

/// The first-start hint: where to begin, once.
/// The first-start hint pointing at the lessons.
#[derive(Default)]
pub struct Welcome;

impl View for Welcome {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        welcome_ui(ui, ctx.actions);
    }
}

fn welcome_ui(ui: &mut egui::Ui, actions: &mut Vec<UiAction>) {
    // The buttons first: after a text that wraps, a narrow window left them off the bar.
    ui.horizontal_wrapped(|ui| {
        if ui.button(Lesson::TwoTasksToy.title()).clicked() {
            actions.push(UiAction::OpenLesson(Lesson::TwoTasksToy));
        }
        if ui
            .button("Dismiss")
            .on_hover_text("Do not show this hint again")
            .clicked()
        {
            actions.push(UiAction::DismissWelcome);
        }
        ui.label(egui::RichText::new(WELCOME).strong());
    });
}

/// The open lesson's title and text, under the top bar.
/// The open lesson's title and text.
#[derive(Default)]
pub struct LessonBanner;

impl View for LessonBanner {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        match ctx.settings.lesson {
            Some(lesson) => lesson_banner_ui(ui, lesson, ctx.actions),
            None => hidden_banner_ui(ui, ctx.actions),
        }
    }
}

/// A lab code hid some controls without a lesson: say so, and offer them back.
fn hidden_banner_ui(ui: &mut egui::Ui, actions: &mut Vec<UiAction>) {
    ui.horizontal_wrapped(|ui| {
        ui.label("The lab code that opened this lab hides some controls.");
        if ui.button("Show all controls").clicked() {
            actions.push(UiAction::LeaveLesson);
        }
    });
}

fn lesson_banner_ui(ui: &mut egui::Ui, lesson: Lesson, actions: &mut Vec<UiAction>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(lesson.title()).strong());
        ui.label(lesson.text());
        if ui
            .button("Leave lesson")
            .on_hover_text("Show every control again")
            .clicked()
        {
            actions.push(UiAction::LeaveLesson);
        }
    });
}
