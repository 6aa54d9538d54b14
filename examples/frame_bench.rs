//! Frame-time benchmark of the lab window with 1,000,000 logged steps per run, headless.
//! Not a test: it prints p50/p99 frame milliseconds (and the mean on-CPU time, on Linux) and
//! the process's peak resident memory.
//!
//!     cargo run --release --example frame_bench [-- STEPS FRAMES]

use cari_mtl::lab::dataset::DatasetState;
use cari_mtl::lab::settings::Settings;
use cari_mtl::train::metrics::StepMetrics;
use cari_mtl::ui::LabApp;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
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
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_ui_state(|ui, app: &mut LabApp| app.frame_ui(ui), app);
    for _ in 0..10 {
        harness.step();
    }
    let mut times = Vec::with_capacity(frames);
    let sched_before = thread_schedstat();
    for i in 0..frames {
        // Move the pointer over the plots so hover read-outs are drawn too.
        harness.hover_at(egui::pos2(200.0 + (i % 500) as f32, 300.0));
        let t = Instant::now();
        harness.step();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let sched = sched_before
        .zip(thread_schedstat())
        .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1)));
    let (p50, p99, max) = percentiles(&mut times);
    println!(
        "frame time over {frames} frames with {steps} steps per run: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
    if let Some((run, wait)) = sched {
        // A mean: the kernel may count run time in scheduler ticks, too coarse for one frame.
        let mean = run as f64 / 1e6 / frames as f64;
        let waited = wait as f64 / 1e6;
        println!(
            "on-CPU time per frame (mean): {mean:.2} ms; waited {waited:.1} ms in all for a core (other processes)"
        );
    }
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
