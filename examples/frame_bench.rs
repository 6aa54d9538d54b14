//! Frame-time benchmark of the lab window, headless. Not a test: it prints p50/p99 frame
//! milliseconds (and the mean on-CPU time, on Linux) and the process's peak resident memory.
//!
//!     cargo run --release --example frame_bench [-- STEPS FRAMES]
//!         the Lab tab with STEPS logged steps per run (1,000,000 by default)
//!     cargo run --release --example frame_bench -- sweep [RULES SEEDS STEPS FRAMES]
//!         a synthetic `compare` folder of RULES × SEEDS runs of STEPS steps (15 × 5 × 3,000 by
//!         default, evaluated every 100 steps) opened in the Sweep tab: the open time, then
//!         the frames of its Fig. 3 view and of a metric's curves

use cari_mtl::lab::dataset::DatasetState;
use cari_mtl::lab::settings::Settings;
use cari_mtl::lab::sweep::SweepCurves;
use cari_mtl::train::metrics::StepMetrics;
use cari_mtl::ui::LabApp;
use std::time::{Duration, Instant};

#[path = "../tests/support/sweep_fixture.rs"]
mod sweep_fixture;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("sweep") {
        sweep_bench(&args[2..]);
    } else {
        lab_bench(&args);
    }
}

fn lab_bench(args: &[String]) {
    let steps: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let frames: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut app = LabApp::with_settings(Settings::default());
    // No dataset or trainers: only drawing is measured.
    app.lab.dataset = DatasetState::Failed("benchmark: no dataset".into());
    let fill = Instant::now();
    for (slot, run) in app.lab.runs.iter_mut().enumerate() {
        for step in 1..=steps {
            let t = step as f32;
            let wobble = (t * 0.01 + slot as f32).sin() * 0.05;
            run.history.push(StepMetrics {
                step,
                wall_secs: step as f64 * 0.05,
                strategy: if slot == 0 {
                    "proposed".into()
                } else {
                    "naive".into()
                },
                weights: [0.3 + wobble, 0.3 - wobble, 0.4],
                losses: [
                    5.0 / (1.0 + t * 1e-4),
                    4.0 / (1.0 + t * 2e-4) + wobble,
                    5.5 / (1.0 + t * 5e-5),
                ],
                lr: 1e-3,
                coalesced_steps: 1,
                lens: None,
            });
        }
        run.step = steps;
    }
    eprintln!(
        "filled 2 × {steps} steps in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let mut harness = harness(app);
    for _ in 0..10 {
        harness.step();
    }
    let label = format!("with {steps} steps per run");
    measure_frames(&mut harness, frames, &label, 300.0);
    print_peak_rss();
}

fn harness(app: LabApp) -> egui_kittest::Harness<'static, LabApp> {
    egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_ui_state(|ui, app: &mut LabApp| app.frame_ui(ui), app)
}

/// A sweep folder written, opened in the Sweep tab (timed from the open to the first whole
/// snapshot drawn), then its frames measured with each kind of curves.
fn sweep_bench(args: &[String]) {
    let arg = |i: usize, default: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (rules, seeds, steps) = (arg(0, 15) as usize, arg(1, 5), arg(2, 3000));
    let frames = arg(3, 300) as usize;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let written = Instant::now();
    sweep_fixture::write_sweep(dir.path(), &sweep_fixture::rules(rules), seeds, steps, 100);
    eprintln!(
        "wrote {rules} rules × {seeds} seeds × {steps} steps in {:.1} s (the page cache holds them: a warm open)",
        written.elapsed().as_secs_f64()
    );
    let mut app = LabApp::with_settings(Settings::default());
    app.lab.dataset = DatasetState::Failed("benchmark: no dataset".into());
    let mut harness = harness(app);
    harness.step();
    let opened = Instant::now();
    harness
        .state_mut()
        .lab
        .open_sweep(dir.path())
        .expect("the sweep opens");
    while harness.state().lab.sweep.snapshot.is_none() {
        assert!(
            opened.elapsed() < Duration::from_secs(120),
            "no snapshot after 120 s: {:?}",
            harness.state().lab.sweep.error
        );
        std::thread::sleep(Duration::from_millis(1));
        harness.step();
    }
    harness.step();
    let open_secs = opened.elapsed().as_secs_f64();
    let read_secs = harness.state().lab.sweep.open_secs.unwrap_or(f64::NAN);
    let runs = harness
        .state()
        .lab
        .sweep
        .snapshot
        .as_ref()
        .map_or(0, |s| s.counts.0);
    println!(
        "open: {open_secs:.3} s to the first frame drawn with the sweep ({read_secs:.3} s to read it; {runs} runs finished)"
    );
    for (curves, what) in [
        (SweepCurves::WeightsAndLosses, "Fig. 3 over seeds"),
        (SweepCurves::Metric(0), "verification accuracy's curves"),
    ] {
        harness.state_mut().lab.sweep.curves = curves;
        for _ in 0..10 {
            harness.step();
        }
        // The plots are below the tables, in the lower half of the window.
        let label = format!("of the Sweep tab, {what}");
        measure_frames(&mut harness, frames, &label, 800.0);
    }
    print_peak_rss();
}

/// Step `frames` frames with the pointer moving along the plots at `pointer_y`; print the
/// percentiles.
fn measure_frames(
    harness: &mut egui_kittest::Harness<'static, LabApp>,
    frames: usize,
    label: &str,
    pointer_y: f32,
) {
    let mut times = Vec::with_capacity(frames);
    let sched_before = thread_schedstat();
    for i in 0..frames {
        // Move the pointer over the plots so hover read-outs are drawn too.
        harness.hover_at(egui::pos2(200.0 + (i % 500) as f32, pointer_y));
        let t = Instant::now();
        harness.step();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let sched = sched_before
        .zip(thread_schedstat())
        .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1)));
    let (p50, p99, max) = percentiles(&mut times);
    println!(
        "frame time over {frames} frames {label}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
    if let Some((run, wait)) = sched {
        // A mean: the kernel may count run time in scheduler ticks, too coarse for one frame.
        let mean = run as f64 / 1e6 / frames as f64;
        let waited = wait as f64 / 1e6;
        println!(
            "on-CPU time per frame (mean): {mean:.2} ms; waited {waited:.1} ms in all for a core (other processes)"
        );
    }
}

fn print_peak_rss() {
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS (VmHWM): {:.1} MB", kib as f64 / 1024.0),
        None => println!("peak RSS (VmHWM): unavailable (no /proc/self/status)"),
    }
}

/// p50, p99 and max.
fn percentiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.99), p(1.0))
}

/// Nanoseconds this thread has run on a CPU and waited for one (Linux's
/// /proc/thread-self/schedstat): on a shared machine the wall-clock percentiles also count
/// waiting for a core, which says nothing about the window.
fn thread_schedstat() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = stat.split_whitespace().map(|f| f.parse().ok());
    Some((fields.next()??, fields.next()??))
}

/// The process's high-water resident set size in KiB, from Linux's /proc/self/status: the
/// bound on the plot history is about memory kept, which RSS shows and allocation counts miss.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
