//! Window tests on the real app state with egui_kittest (no display needed). Trainers run on
//! their real background threads; each wait is bounded so a hang fails instead of blocking.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the failure report

use cari_mtl::data::synthetic::SyntheticConfig;
use cari_mtl::lab::lessons::Lesson;
use cari_mtl::lab::run::RunStatus;
use cari_mtl::lab::settings::{Layout, Settings};
use cari_mtl::session::PauseReason;
use cari_mtl::ui::LabApp;
use cari_mtl::weighting::{Strategy, StrategyConfig};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};

#[path = "../src/data/real/test_util.rs"]
#[allow(dead_code)]
mod test_util;

#[path = "support/sweep_fixture.rs"]
mod sweep_fixture;

fn small_settings() -> Settings {
    Settings {
        synthetic: SyntheticConfig {
            train_identities: 12,
            open_identities: 6,
            photos_per_identity: 6,
            caricatures_per_identity: 6,
            test_per_modality: 2,
            ..SyntheticConfig::default()
        },
        eval_every: 0,
        welcome_seen: true,
        ..Settings::default()
    }
}

fn harness(settings: Settings) -> Harness<'static, LabApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(
            |ui, app: &mut LabApp| app.frame_ui(ui),
            LabApp::with_settings(settings),
        );
    h.step();
    h
}

/// Step frames until `done` holds; panics after a generous bound (a hang is a failure).
fn wait_for(h: &mut Harness<'static, LabApp>, what: &str, done: impl Fn(&LabApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

fn both_ready(app: &LabApp) -> bool {
    app.lab.runs.iter().all(|r| r.is_ready())
}

/// Click Step and wait until both runs are at step 1.
fn click_step_once(h: &mut Harness<'static, LabApp>) {
    h.get_by_label("Step").click();
    wait_for(h, "one step", |app| {
        app.lab.runs.iter().all(|r| r.step == 1)
    });
}

/// Both runs one step in and evaluated once, the Metrics tab shown.
fn metrics_tab_after_one_evaluation() -> Harness<'static, LabApp> {
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    click_step_once(&mut h);
    evaluate_both_once(&mut h);
    h.state_mut().lab.settings.tab = cari_mtl::lab::settings::Tab::Metrics;
    h.step();
    h.step();
    h
}

/// Evaluate both runs now and wait for their first evaluation.
fn evaluate_both_once(h: &mut Harness<'static, LabApp>) {
    h.state_mut()
        .lab
        .push(cari_mtl::lab::actions::UiAction::EvaluateNow);
    wait_for(h, "one evaluation each", |app| {
        app.lab.runs.iter().all(|r| r.evals.len() == 1)
    });
}

#[test]
fn play_advances_both_runs() {
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    h.get_by_label("Play").click();
    h.step();
    assert!(h.state().lab.playing());
    wait_for(&mut h, "steps in both runs", |app| {
        app.lab.runs.iter().all(|r| r.step >= 3)
    });
    for run in &h.state().lab.runs {
        assert_eq!(run.status, RunStatus::Playing);
        assert_eq!(run.history.len() as u64, run.step);
    }
    h.get_by_label("Pause").click();
    h.step();
    assert!(!h.state().lab.playing());
}

#[test]
fn step_advances_exactly_one_step() {
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    h.get_by_label("Step").click();
    wait_for(&mut h, "one step each", |app| {
        app.lab
            .runs
            .iter()
            .all(|r| r.step == 1 && r.status == RunStatus::Paused(PauseReason::Stepped))
    });
    // Nothing more arrives afterwards.
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    for run in &h.state().lab.runs {
        assert_eq!(run.step, 1);
        assert_eq!(run.history.len(), 1);
    }
}

#[test]
fn switching_strategy_mid_run_marks_the_plot_and_reaches_the_trainer() {
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    h.get_by_label("Play").click();
    wait_for(&mut h, "a few steps", |app| app.lab.runs[0].step >= 3);
    {
        let app = h.state_mut();
        app.lab
            .set_strategy(0, StrategyConfig::new(Strategy::NAIVE));
    }
    wait_for(&mut h, "rows from the new strategy", |app| {
        app.lab.runs[0]
            .history
            .rows()
            .last()
            .is_some_and(|r| r.strategy == "naive")
    });
    let app = h.state();
    let marker = app.lab.runs[0]
        .history
        .markers
        .iter()
        .find(|m| m.label == "-> naive")
        .expect("a marker for the switch");
    let first_naive = app.lab.runs[0]
        .history
        .rows()
        .iter()
        .find(|r| r.strategy == "naive")
        .unwrap();
    assert_eq!(
        marker.step, first_naive.step,
        "the marker sits at the first step that used the new rule"
    );
    assert!(
        app.lab.runs[0]
            .history
            .rows()
            .iter()
            .take_while(|r| r.step < marker.step)
            .all(|r| r.strategy == "proposed")
    );
    // Run B is untouched.
    assert!(app.lab.runs[1].history.markers.is_empty());
    assert!(
        app.lab.runs[1]
            .history
            .rows()
            .iter()
            .all(|r| r.strategy == "naive")
    );
}

#[test]
fn overlay_toggle_switches_layout() {
    let mut h = harness(small_settings());
    assert_eq!(h.state().lab.settings.layout, Layout::SideBySide);
    h.get_by_label("A over B").click();
    h.step();
    assert_eq!(h.state().lab.settings.layout, Layout::Overlay);
    h.get_by_label("A | B").click();
    h.step();
    assert_eq!(h.state().lab.settings.layout, Layout::SideBySide);
}

#[test]
fn export_writes_csv_with_the_train_header() {
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    h.get_by_label("Play").click();
    wait_for(&mut h, "a few steps", |app| app.lab.runs[0].step >= 4);
    h.get_by_label("Pause").click();
    h.step();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    let rows = h.state().lab.runs[0].history.len();
    let message = h
        .state_mut()
        .lab
        .perform_file_action(cari_mtl::lab::files::FileAction::ExportCsv(0), &path)
        .unwrap();
    assert!(message.contains(&format!("{rows} rows")));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,wall_s,strategy,w_verif,w_visual,w_cari,loss_verif,loss_visual,loss_cari,lr,grad_norm_verif,grad_norm_visual,grad_norm_cari,grad_cos_verif_visual,grad_cos_verif_cari,grad_cos_visual_cari,grad_align_verif,grad_align_visual,grad_align_cari"
    );
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), rows);
    assert!(body[0].starts_with("1,"));
    assert_eq!(
        body[0].split(',').count(),
        19,
        "ten step columns, nine lens columns"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        names.len(),
        1,
        "no temporary file is left beside the export"
    );
}

#[test]
fn opening_a_lesson_sets_its_parameters_and_hides_controls() {
    let mut h = harness(small_settings());
    assert!(h.query_by_label("seed").is_some());
    h.get_by_label("Lessons").click();
    h.step();
    h.step();
    h.get_by_label(Lesson::HardestChanges.title()).click();
    h.step();
    h.step();
    let app = h.state();
    assert_eq!(app.lab.settings.lesson, Some(Lesson::HardestChanges));
    assert_eq!(app.lab.settings.strategies[0].strategy, Strategy::PROPOSED);
    assert_eq!(app.lab.settings.strategies[1].strategy, Strategy::NAIVE);
    assert!(
        h.query_by_label("seed").is_none(),
        "the lesson hides the seed"
    );
    assert!(
        h.query_by_label("lr").is_none(),
        "the lesson hides the learning rates"
    );
    assert_eq!(
        h.query_all_by_label_contains("make harder").count(),
        2,
        "the lesson shows each run's perturbation controls"
    );
    h.get_by_label("Leave lesson").click();
    h.step();
    h.step();
    assert_eq!(h.state().lab.settings.lesson, None);
    assert!(h.query_by_label("seed").is_some());
}

#[test]
fn selecting_a_failure_card_highlights_both_points() {
    use cari_mtl::lab::settings::Tab;
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    click_step_once(&mut h);
    h.state_mut().lab.runs[0].send(cari_mtl::session::Command::Evaluate);
    wait_for(&mut h, "an evaluation", |app| {
        app.lab.runs[0].last_report.is_some()
    });
    h.state_mut().lab.settings.tab = Tab::Projector;
    h.step();
    h.get_by_label("Project runs A and B").click();
    wait_for(&mut h, "both projections", |app| {
        app.lab
            .projector
            .projections
            .iter()
            .all(|p| p.as_ref().is_some_and(|p| !p.positions.is_empty()))
    });
    h.step();
    let report = h.state().lab.runs[0].last_report.clone().unwrap();
    let (_, fp, fneg) = cari_mtl::lab::failures::failures_of(&report);
    let first = fp
        .first()
        .or(fneg.first())
        .cloned()
        .expect("an untrained model makes mistakes");
    let kind = if fp.is_empty() { "FN" } else { "FP" };
    let card_text = format!(
        "{kind} · d = {:.3} · margin {:.3}",
        first.distance, first.margin
    );
    h.get_all_by_label(&card_text)
        .next()
        .expect("the worst failure's card")
        .click();
    h.step();
    let app = h.state();
    let highlight = app.lab.projector.highlight.expect("a highlighted pair");
    assert_eq!((highlight.a, highlight.b), (first.a, first.b));
    assert_eq!(app.lab.projector.selected, Some(first.a));
    // Runs A and B are projected at the same step.
    let steps: Vec<u64> = app
        .lab
        .projector
        .projections
        .iter()
        .map(|p| p.as_ref().unwrap().step)
        .collect();
    assert_eq!(steps[0], steps[1]);
    // Both images are points of the projection, so the line can join them.
    let p = app.lab.projector.projections[0].as_ref().unwrap();
    assert!(p.samples.contains(&first.a) && p.samples.contains(&first.b));
}

#[test]
fn a_rule_the_trainer_refuses_is_not_shown_as_training() {
    // Before the typed events, the combo box kept showing a rule the trainer had rejected
    // (all static weights at 0) while training went on with the old one.
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    let mut refused = StrategyConfig::new(Strategy::STATIC);
    refused.settings.static_weights = [0.0; 3];
    h.state_mut().lab.set_strategy(0, refused);
    assert_eq!(
        h.state().lab.settings.strategies[0].strategy,
        Strategy::STATIC
    );
    wait_for(&mut h, "the trainer's answer", |app| {
        app.lab.runs[0].warning.is_some()
    });
    let app = h.state();
    assert_eq!(
        app.lab.settings.strategies[0].strategy,
        Strategy::PROPOSED,
        "the selector shows the rule that trains"
    );
    assert!(
        app.lab.runs[0]
            .warning
            .as_deref()
            .unwrap()
            .contains("static weights"),
        "{:?}",
        app.lab.runs[0].warning
    );
    h.get_by_label("Step").click();
    wait_for(&mut h, "one step", |app| app.lab.runs[0].step == 1);
    assert_eq!(h.state().lab.runs[0].history.rows()[0].strategy, "proposed");
}

#[test]
fn old_steps_are_summarised_yet_drawn_hovered_and_exported() {
    use cari_mtl::lab::actions::UiAction;
    use cari_mtl::lab::dataset::DatasetState;
    use cari_mtl::train::metrics::StepMetrics;
    // No trainers: the history is filled by hand, past the full-resolution window.
    let mut app = LabApp::with_settings(small_settings());
    app.lab.dataset = DatasetState::Failed("test: no dataset".into());
    let steps = 200_000u64;
    for run in &mut app.lab.runs {
        for step in 1..=steps {
            run.history.push(StepMetrics {
                step,
                wall_secs: step as f64 * 0.05,
                strategy: "proposed".into(),
                weights: [0.2, 0.3, 0.5],
                losses: [1.0 + (step % 10) as f32, 2.0, 3.0],
                lr: 1e-3,
                coalesced_steps: 1,
                lens: None,
            });
        }
        run.step = steps;
    }
    assert!(app.lab.runs[0].history.summarised_len() > 0);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut LabApp| app.frame_ui(ui), app);
    h.step();
    // Near the left of run A's plots lie the oldest steps: the read-out shows a block.
    h.hover_at(egui::pos2(150.0, 300.0));
    h.step();
    h.step();
    assert!(
        h.query_all_by_label_contains("summarised)").count() > 0,
        "a block's read-out"
    );
    h.state_mut().lab.apply(UiAction::SetSmoothing(0.9));
    h.state_mut().lab.settings.wall_time_axis = true;
    h.step();
    h.step();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    let message = h
        .state_mut()
        .lab
        .perform_file_action(cari_mtl::lab::files::FileAction::ExportCsv(0), &path)
        .unwrap();
    let history = &h.state().lab.runs[0].history;
    let summarised = history.summarised_len();
    assert!(
        message.contains(&format!("of which {summarised} summarised rows")),
        "{message}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), history.len() + 1);
}

#[test]
fn a_hidden_window_keeps_draining_its_trainers() {
    // eframe calls only `logic` while the window is minimised: events must still be taken
    // (before, the outbox grew and evaluations were dropped while nothing was drawn).
    let mut app = LabApp::with_settings(Settings {
        eval_every: 2,
        ..small_settings()
    });
    let ctx = egui::Context::default();
    let start = Instant::now();
    let logic_until = |app: &mut LabApp, what: &str, done: &dyn Fn(&LabApp) -> bool| {
        while !done(app) {
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "timed out: {what}"
            );
            app.logic(&ctx);
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    logic_until(&mut app, "both runs ready", &both_ready);
    app.lab.set_playing(true);
    logic_until(&mut app, "six steps and evaluations", &|app| {
        app.lab
            .runs
            .iter()
            .all(|r| r.step >= 6 && r.evals.len() >= 3)
    });
    app.lab.set_playing(false);
}

fn harness_sized(settings: Settings, width: f32, height: f32) -> Harness<'static, LabApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(width, height))
        .build_ui_state(
            |ui, app: &mut LabApp| app.frame_ui(ui),
            LabApp::with_settings(settings),
        );
    h.step();
    h
}

#[test]
fn each_run_header_names_its_rule_once_and_nothing_overlaps_at_1024_px() {
    for (width, height) in [(1024.0, 700.0), (1600.0, 1000.0)] {
        let mut h = harness_sized(small_settings(), width, height);
        // From the very first frames, while the runs are still being built.
        for _ in 0..3 {
            for (run, rule) in [("Run A", "proposed"), ("Run B", "naive")] {
                let name = h.get_by_label(run).rect();
                let selectors: Vec<egui::Rect> =
                    h.query_all_by_value(rule).map(|n| n.rect()).collect();
                assert_eq!(
                    selectors.len(),
                    1,
                    "{run}: one rule selector, at {width} px"
                );
                assert_eq!(
                    h.query_all_by_label(rule).count(),
                    0,
                    "{run}: no second label repeating the rule"
                );
                assert!(
                    !name.intersects(selectors[0]),
                    "{run}'s name overlaps its rule at {width} px: {name:?} {:?}",
                    selectors[0]
                );
            }
            h.step();
        }
        wait_for(&mut h, "both runs ready", both_ready);
        // The two run headers and the explain panel side by side, not on top of each other.
        let a = h.get_by_label("Run A").rect();
        let b = h.get_by_label("Run B").rect();
        let explain = h.get_by_label("Explain").rect();
        assert!(
            a.right() <= b.left() && b.right() <= explain.left(),
            "{a:?} {b:?} {explain:?}"
        );
    }
}

#[test]
fn an_empty_plot_says_how_to_start_and_a_first_start_points_at_the_lessons() {
    let mut h = harness(Settings {
        welcome_seen: false,
        ..small_settings()
    });
    wait_for(&mut h, "both runs ready", both_ready);
    assert_eq!(
        h.query_all_by_label("Press Play — or Space — to train")
            .count(),
        2,
        "one hint per run's weight plot"
    );
    assert!(h.query_by_label_contains("New here?").is_some());
    h.get_by_label(Lesson::TwoTasksToy.title()).click();
    h.step();
    h.step();
    assert!(h.state().lab.settings.welcome_seen);
    assert!(h.query_by_label_contains("New here?").is_none());
    // Once trained, the hint is gone.
    h.state_mut().lab.settings.lesson = None;
    h.state_mut().lab.settings.tab = cari_mtl::lab::settings::Tab::Lab;
    h.step();
    click_step_once(&mut h);
    h.step();
    assert_eq!(
        h.query_all_by_label("Press Play — or Space — to train")
            .count(),
        0
    );
}

#[test]
fn metrics_tell_metrics_by_colour_and_runs_by_name_from_the_first_evaluation() {
    let h = metrics_tab_after_one_evaluation();
    for name in [
        "A proposed · Cari-id",
        "B naive · Cari-id",
        "A proposed · Visual-id",
        "B naive · C2P R1",
    ] {
        assert!(h.query_by_label(name).is_some(), "legend entry {name}");
    }
    let colours = cari_mtl::ui::metrics::curve_colours();
    let distinct: std::collections::HashSet<_> = colours.iter().map(|(_, c)| *c).collect();
    assert_eq!(distinct.len(), colours.len(), "one colour per metric");
    let task = cari_mtl::ui::TASK_COLOURS;
    assert_eq!(colours[0], ("verif_acc", task[0]));
    assert_eq!(colours[2], ("cari_id_top1", task[2]));
    let (x0, x1) = cari_mtl::ui::metrics::step_range(&h.state().lab.runs);
    assert!(
        x0 == 0.0 && x1 > 1.0 && x1 < 10.0,
        "a sensible x range around step 1: {x0}..{x1}"
    );
}

#[test]
fn the_embeddings_tab_projects_by_itself_and_follows_training() {
    use cari_mtl::lab::settings::Tab;
    let mut settings = small_settings();
    settings.projector.follow_every = 10;
    settings.projector.tsne.iterations = 60;
    settings.projector.tsne.perplexity = 5.0;
    let mut h = harness(settings);
    wait_for(&mut h, "both runs ready", both_ready);
    click_step_once(&mut h);
    h.state_mut().lab.settings.tab = Tab::Projector;
    wait_for(&mut h, "a projection without pressing anything", |app| {
        app.lab.projector.projections.iter().all(|p| {
            p.as_ref()
                .is_some_and(|p| p.job.is_none() && !p.positions.is_empty())
        })
    });
    let first: Vec<f32> = h.state().lab.projector.projections[0]
        .as_ref()
        .unwrap()
        .positions
        .clone();
    h.state_mut().lab.set_playing(true);
    wait_for(&mut h, "a newer projection while training", |app| {
        app.lab.projector.projections[0]
            .as_ref()
            .is_some_and(|p| p.step >= 11)
    });
    let next = h.state().lab.projector.projections[0].as_ref().unwrap();
    assert_eq!(next.positions.len(), first.len());
    assert!(next.iterations <= 60);
    h.state_mut().lab.set_playing(false);
}

/// The fold the window's dataset is on, and whether it came from the WebCaricature tree.
fn real_fold(app: &LabApp) -> Option<usize> {
    let d = app.lab.dataset.ready()?;
    d.name
        .starts_with("webcaricature:")
        .then_some(d.facts.fold)?
}

#[test]
fn a_dataset_folder_opens_with_its_folds_and_a_cancelled_load_goes_back() {
    use cari_mtl::lab::actions::UiAction;
    use cari_mtl::lab::files::FileAction;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("WebCaricature");
    test_util::webcaricature_protocol_tree(&root, &test_util::WcTree::small());
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);

    let message = h
        .state_mut()
        .lab
        .perform_file_action(FileAction::OpenDataset, &root)
        .unwrap();
    assert!(message.starts_with("opening webcaricature:"), "{message}");
    wait_for(&mut h, "the opened dataset and its runs", |app| {
        real_fold(app) == Some(1) && both_ready(app)
    });
    let dataset = h.state().lab.dataset.ready().unwrap().clone();
    assert_eq!(dataset.published_folds, Some(10));
    h.step();
    h.get_by_value("fold 1 of 10");

    // Another fold, as the status bar's fold menu asks for it.
    h.state_mut().lab.push(UiAction::SetFold(Some(3)));
    h.step();
    wait_for(&mut h, "fold 3 and its runs", |app| {
        real_fold(app) == Some(3) && both_ready(app)
    });
    assert_eq!(h.state().lab.settings.fold, Some(3));

    // A load cancelled (here before it could end) leaves the window on the dataset before it,
    // with the settings that made it.
    h.state_mut().lab.settings.seed = 2;
    h.state_mut().lab.apply(UiAction::Reset);
    assert!(h.state().lab.dataset.loading().is_some());
    h.state_mut().lab.apply(UiAction::CancelLoad);
    wait_for(&mut h, "the load to end", |app| {
        app.lab.dataset.loading().is_none()
    });
    let app = h.state();
    assert_eq!(real_fold(app), Some(3));
    assert_eq!((app.lab.settings.seed, app.lab.settings.fold), (1, Some(3)));
    let status = app.lab.status_line.clone().unwrap_or_default();
    assert!(status.contains("cancelled"), "{status}");
    wait_for(&mut h, "runs on the dataset before", both_ready);

    // The decoded images went to the user's cache: leave nothing behind.
    for d in [&dataset, h.state().lab.dataset.ready().unwrap()] {
        if let Some(file) = &d.report.cache_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

#[test]
fn lesson_7_lowers_psi_and_its_checkbox_reaches_both_trainers() {
    use cari_mtl::lab::actions::UiAction;
    let mut h = harness(small_settings());
    h.state_mut()
        .lab
        .apply(UiAction::OpenLesson(Lesson::IdeaBreaks));
    wait_for(&mut h, "both runs ready", both_ready);
    {
        let s = &h.state().lab.settings;
        assert!((s.rates.psi_lr - 0.4 * s.rates.lr).abs() < 1e-15);
        assert!(s.weights_reach_trunk);
    }
    h.get_by_label("w reaches trunk").click();
    h.step();
    assert!(!h.state().lab.settings.weights_reach_trunk);
    h.get_by_label("Step").click();
    wait_for(&mut h, "the trainers to take the change", |app| {
        app.lab.runs.iter().all(|r| {
            r.history
                .markers
                .iter()
                .any(|m| m.label == "w constant (eq. 11)" && m.step == 1)
        })
    });
    // Another lesson starts from the lab's rates again, w reaching the trunk.
    h.state_mut()
        .lab
        .apply(UiAction::OpenLesson(Lesson::ProposedChases));
    let s = &h.state().lab.settings;
    assert_eq!(s.rates, cari_mtl::train::config::LearningRates::default());
    assert!(s.weights_reach_trunk);
}

#[test]
fn a_run_folder_written_by_train_opens_with_its_curves_and_table_i() {
    use cari_mtl::lab::settings::Tab;
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args([
            "train",
            "--steps",
            "6",
            "--identities",
            "12",
            "--open-identities",
            "6",
        ])
        .args([
            "--images-per-modality",
            "6",
            "--test-images",
            "2",
            "--batch-size",
            "16",
        ])
        .arg("--out")
        .arg(&run_dir)
        .env_remove("CARI_MTL_FAULT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
    let verif_acc = summary["metrics"]["verif_acc"].as_f64().unwrap();

    let mut h = harness(small_settings());
    let message = h.state_mut().lab.open_run(0, &run_dir).unwrap();
    assert!(
        message.contains(&run_dir.display().to_string()),
        "{message}"
    );
    wait_for(&mut h, "both runs ready on the run's data", both_ready);
    let run = &h.state().lab.runs[0];
    assert_eq!(
        run.history.len(),
        6,
        "every row of metrics.csv is a point of the curves"
    );
    assert_eq!(run.step, 6);
    let first = run.evals.first().expect("the run's final evaluation");
    assert_eq!(first.step, 6);
    assert_eq!(first.summary.get("verif_acc").copied(), Some(verif_acc));
    h.state_mut().lab.settings.tab = Tab::Metrics;
    h.step();
    h.step();
    assert!(
        !h.get_all_by_label(&format!("{:.1}", 100.0 * verif_acc))
            .collect::<Vec<_>>()
            .is_empty(),
        "Table I shows the run's verification accuracy"
    );
}

#[test]
fn table_i_pairs_a_and_b_by_seed_and_next_seed_keeps_them_and_plays_on() {
    let mut h = metrics_tab_after_one_evaluation();
    assert!(
        h.query_by_label("A proposed − B naive · step 1 · seeds 1")
            .is_some(),
        "the live pair is a row of the paired table"
    );
    h.get_by_label("Next seed").click();
    h.step();
    assert_eq!(h.state().lab.settings.seed, 2);
    let kept: Vec<(usize, u64)> = h
        .state()
        .lab
        .kept_results
        .iter()
        .map(|k| (k.slot, k.seed))
        .collect();
    assert_eq!(kept, vec![(0, 1), (1, 1)], "A and B of seed 1 are kept");
    wait_for(&mut h, "both runs of seed 2 training", |app| {
        app.lab.runs.iter().all(|r| r.step >= 2)
    });
    assert!(h.state().lab.runs.iter().all(|r| r.playing));
    assert!(
        h.query_by_label("A proposed − B naive · step 1 · seeds 1")
            .is_some(),
        "seed 1's pair stays in the table while seed 2 has no evaluation"
    );
}

/// The Lab tab's plots as drawn in the last frame: none overlaps another (the weight plot's
/// lower half once lay under the loss plot's top, with two sets of tick labels), the loss axis
/// never goes below 0, and the "Press Play" hint sits inside its weight plot.
fn check_plots(h: &Harness<'static, LabApp>, state: &str, expected: usize) {
    use cari_mtl::lab::history::Quantity;
    let plots = &h.state().panels.fig3.drawn_plots;
    assert_eq!(plots.len(), expected, "{state}: plots drawn");
    for (i, a) in plots.iter().enumerate() {
        assert!(a.rect.height() >= 80.0, "{state}: plot {i} is {:?}", a.rect);
        for b in &plots[i + 1..] {
            let overlap = a.rect.intersect(b.rect);
            let area = overlap.width().max(0.0) * overlap.height().max(0.0);
            assert!(
                area < 1.0,
                "{state}: plots overlap by {area} px²: {:?} and {:?}",
                a.rect,
                b.rect
            );
        }
        if a.quantity == Some(Quantity::Losses) {
            assert!(
                a.y_range.0 >= -1e-9,
                "{state}: loss axis from {:?}",
                a.y_range
            );
        }
        if let Some(hint) = a.hint {
            assert!(
                a.rect.contains_rect(hint),
                "{state}: hint {hint:?} outside {:?}",
                a.rect
            );
        }
    }
}

#[test]
fn the_labs_plots_never_overlap_at_any_size_before_or_after_a_step() {
    for (width, height) in [(1024.0, 700.0), (1600.0, 1000.0), (900.0, 600.0)] {
        let mut h = harness_sized(small_settings(), width, height);
        wait_for(&mut h, "both runs ready", both_ready);
        h.step();
        let at = |what: &str| format!("{what} at {width}×{height}");
        // Weights, losses and (the lens is on by default) the gradients view per run.
        check_plots(&h, &at("fresh, not played"), 6);
        let hints = h
            .state()
            .panels
            .fig3
            .drawn_plots
            .iter()
            .filter(|p| p.hint.is_some())
            .count();
        assert_eq!(hints, 2, "one hint per run's weight plot");
        click_step_once(&mut h);
        h.step();
        check_plots(&h, &at("one step"), 6);
        h.state_mut().lab.settings.layout = Layout::Overlay;
        h.step();
        h.step();
        check_plots(&h, &at("overlay"), 3);
    }
}

#[test]
fn a_reopened_run_draws_its_plots_apart() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args(["train", "--steps", "6", "--identities", "12"])
        .args(["--open-identities", "6", "--images-per-modality", "6"])
        .args([
            "--test-images",
            "2",
            "--batch-size",
            "16",
            "--device",
            "cpu",
        ])
        .arg("--out")
        .arg(&run_dir)
        .env_remove("CARI_MTL_FAULT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = harness_sized(small_settings(), 1600.0, 1000.0);
    h.state_mut().lab.open_run(0, &run_dir).unwrap();
    wait_for(&mut h, "both runs ready on the run's data", both_ready);
    h.step();
    check_plots(&h, "a reopened run beside an empty one", 6);
}

#[test]
fn holding_a_weight_fixes_it_until_release_and_the_plot_marks_the_steps() {
    use cari_mtl::lab::actions::UiAction;
    use cari_mtl::task::Task;
    let mut h = harness(small_settings());
    wait_for(&mut h, "both runs ready", both_ready);
    // The hold control: one tick per task and run.
    assert_eq!(h.query_all_by_label_contains("hold w").count(), 2);
    h.state_mut().lab.push(UiAction::Hold {
        slot: 1,
        task: Task::Cari,
        value: Some(0.6),
    });
    wait_for(&mut h, "the trainer holds it", |app| {
        app.lab.runs[1].holds[2] == Some(0.6)
    });
    h.state_mut().lab.push(UiAction::StepOnce);
    wait_for(&mut h, "one step", |app| {
        app.lab.runs.iter().all(|r| r.step == 1)
    });
    h.state_mut().lab.push(UiAction::StepOnce);
    wait_for(&mut h, "two steps", |app| {
        app.lab.runs.iter().all(|r| r.step == 2)
    });
    let rows = h.state().lab.runs[1].history.rows().to_vec();
    for row in &rows {
        assert!((row.weights[2] - 0.6).abs() < 1e-6, "{row:?}");
        assert!((row.weights.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // Run A was not held.
    assert!(
        h.state().lab.runs[0]
            .history
            .rows()
            .iter()
            .all(|r| (r.weights[2] - 0.6).abs() > 1e-4)
    );
    h.state_mut().lab.push(UiAction::Hold {
        slot: 1,
        task: Task::Cari,
        value: None,
    });
    wait_for(&mut h, "released", |app| app.lab.runs[1].holds[2].is_none());
    h.state_mut().lab.push(UiAction::StepOnce);
    wait_for(&mut h, "a third step", |app| {
        app.lab.runs.iter().all(|r| r.step == 3)
    });
    let run = &h.state().lab.runs[1];
    assert!(
        (run.history.rows()[2].weights[2] - 0.6).abs() > 1e-4,
        "the rule took over"
    );
    let spans = run.held_spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        (spans[0].from_step, spans[0].to_step, spans[0].value),
        (1, 2, 0.6)
    );
    // The lab code carries the hold as a script.
    let code = h.state().lab.lab_code();
    let state = cari_mtl::lab::code::LabState::decode(&code).unwrap();
    assert_eq!(state.scripts[1].holds, spans);
}

#[test]
fn a_lab_code_copied_in_one_window_opens_the_same_lab_in_a_fresh_one() {
    use cari_mtl::lab::code::LabState;
    use cari_mtl::lab::settings::Tab;
    use clap::Parser;
    let mut first = harness(small_settings());
    {
        let s = &mut first.state_mut().lab.settings;
        s.seed = 4;
        s.tab = Tab::Toy;
        s.strategies[1] = StrategyConfig::new(Strategy::parse("cagrad").unwrap());
        s.toy.landscape.config.steps = 5000;
    }
    first.get_by_label("Files").click();
    first.step();
    first.step();
    first.get_by_label("Copy lab code").click();
    first.step();
    first.step();
    let code = first.state().lab.lab_code();
    assert!(
        first
            .state()
            .lab
            .status_line
            .as_deref()
            .unwrap_or("")
            .contains("copied"),
        "{:?}",
        first.state().lab.status_line
    );
    // A fresh window: Paste lab code, a wrong code first (refused, nothing changes), then it.
    let mut fresh = harness(small_settings());
    let before = fresh.state().lab.settings.clone();
    fresh.get_by_label("Files").click();
    fresh.step();
    fresh.step();
    fresh.get_by_label("Paste lab code…").click();
    fresh.step();
    fresh.step();
    fresh
        .get_by_role(egui::accesskit::Role::MultilineTextInput)
        .focus();
    fresh.step();
    fresh
        .get_by_role(egui::accesskit::Role::MultilineTextInput)
        .type_text("CARI9.abc");
    fresh.step();
    fresh.get_by_label("Open").click();
    // The click is read in one frame; the refusal shows in the next.
    fresh.step();
    fresh.step();
    assert!(fresh.query_by_label_contains("another version").is_some());
    assert_eq!(
        fresh.state().lab.settings,
        before,
        "a refused code changes nothing"
    );
    let opened = LabState::decode(&code).unwrap();
    fresh
        .state_mut()
        .lab
        .push(cari_mtl::lab::actions::UiAction::OpenLabCode(Box::new(
            opened,
        )));
    fresh.step();
    fresh.step();
    let (a, b) = (&first.state().lab, &fresh.state().lab);
    assert_eq!(
        LabState::of(&a.settings, a.settings.scripts.clone()),
        LabState::of(&b.settings, b.settings.scripts.clone())
    );
    assert_eq!(b.settings.seed, 4);
    assert_eq!(b.settings.tab, Tab::Toy);
    // The same code on the command line (`cari-mtl --lab CODE`) opens the same lab in a
    // fresh window over its remembered settings, whose dataset stays.
    let launch = cari_mtl::cli::Cli::try_parse_from(["cari-mtl", "--lab", code.as_str()])
        .unwrap()
        .window
        .launch();
    let mut notes = Vec::new();
    let remembered = small_settings();
    let opened = launch.settings_from(remembered.clone(), &mut notes);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(opened.dataset, remembered.dataset);
    let mut launched = harness(opened);
    launched.step();
    let c = &launched.state().lab;
    assert_eq!(
        LabState::of(&a.settings, a.settings.scripts.clone()),
        LabState::of(&c.settings, c.settings.scripts.clone())
    );
    assert_eq!(
        launched.state().lab.settings.toy.landscape.config.steps,
        5000
    );
    // A bad code on the command line is refused before a window opens, saying why.
    for (bad, why) in [
        ("CARI9.abc", "another version"),
        ("hello", "not a cari-mtl lab code"),
        ("CARI1.abc", "damaged"),
    ] {
        let e = cari_mtl::cli::Cli::try_parse_from(["cari-mtl", "--lab", bad])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--lab") && e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn the_landscape_draws_the_paths_of_the_chosen_rules() {
    use cari_mtl::lab::settings::Tab;
    use cari_mtl::lab::toy::ToyView;
    let mut settings = small_settings();
    settings.tab = Tab::Toy;
    settings.toy.view = ToyView::Landscape;
    settings.toy.landscape.config.steps = 2000;
    settings.toy.landscape.animation_secs = 0.0;
    let mut h = harness(settings);
    let start = Instant::now();
    loop {
        h.step();
        let view = h
            .state()
            .lab
            .landscape
            .view(&h.state().lab.settings.toy.landscape);
        if view.computing.is_none() && view.background.is_some() && view.paths.len() == 4 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the paths never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    assert!(
        h.query_by_label_contains("4 rules × 5 starts computed")
            .is_some()
    );
    // A rule that cannot run here is shown, greyed.
    assert!(h.query_by_label("gradnorm").is_some());
}

#[test]
fn a_sweep_opens_as_bands_with_its_tables_and_a_run_opens_into_a() {
    let dir = tempfile::tempdir().unwrap();
    let rules = sweep_fixture::rules(3);
    sweep_fixture::write_sweep(dir.path(), &rules, 3, 60, 20);
    let mut h = harness(small_settings());
    h.state_mut().lab.open_sweep(dir.path()).unwrap();
    wait_for(&mut h, "the sweep's first snapshot", |app| {
        app.lab.sweep.snapshot.is_some()
    });
    h.step();
    assert_eq!(
        h.state().lab.settings.tab,
        cari_mtl::lab::settings::Tab::Sweep
    );
    let snapshot = h.state().lab.sweep.snapshot.clone().unwrap();
    assert_eq!(snapshot.counts, (9, 0, 0, 0), "every run read as finished");
    let first = &snapshot.curves(cari_mtl::eval::stats::BandKind::TInterval95)[0];
    assert_eq!(first.series[0].n_last, 3, "a band over the three seeds");
    assert_eq!(
        first.metrics[0].x,
        [20.0, 40.0, 60.0],
        "evaluations.csv's steps"
    );
    assert!(
        h.query_by_label_contains("Table I: mean ± sample sd")
            .is_some()
    );
    assert!(
        h.query_by_label_contains(&format!("{} − {}", rules[1], rules[0]))
            .is_some()
    );
    let status = h.state().lab.status_line.clone().unwrap_or_default();
    assert!(status.starts_with("read the sweep in"), "{status}");
    h.get_by_label("± sd").click();
    h.step();
    assert_eq!(
        h.state().lab.sweep.band,
        cari_mtl::eval::stats::BandKind::Sd
    );
    // Another baseline: the paired rows follow it.
    h.state_mut().lab.sweep.baseline = Some(rules[1].clone());
    h.step();
    assert!(
        h.query_by_label_contains(&format!("{} − {}", rules[0], rules[1]))
            .is_some()
    );
    assert!(
        h.query_by_label_contains(&format!("{} − {}", rules[1], rules[0]))
            .is_none()
    );
    // A metric's curves over steps: the evaluations are there, so no hint that they are not.
    h.state_mut().lab.sweep.curves = cari_mtl::lab::sweep::SweepCurves::Metric(0);
    h.step();
    assert!(
        h.query_by_label_contains("only the final evaluation")
            .is_none()
    );
    // A run of the sweep into A: the Lab tab shows it.
    h.get_by_label_contains("Runs (9)").click();
    h.step();
    h.get_all_by_label("into A").next().unwrap().click();
    h.step();
    assert_eq!(
        h.state().lab.settings.tab,
        cari_mtl::lab::settings::Tab::Lab
    );
    let status = h.state().lab.status_line.clone().unwrap_or_default();
    assert!(status.contains("into run A: 60 steps"), "{status}");
}
