//! `cari-mtl bench --ab`: the window's two runs trained together in one process, without a
//! window, on the window's scheduler (trainer threads sharing the cores through the thread
//! budget); then the same two runs as two separate single-thread processes at the same time.
//! The ratio of the two combined rates is the cost of sharing one process.

use anyhow::{Context, Result, bail};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kernels::Kernels;
use crate::lab::settings::Settings;
use crate::session::{Command, Event, ThreadBudget, TrainerHandle, spawn_trainer};
use crate::train::config::TrainConfig;
use crate::train::schedule::{Discard, Schedule, advance};
use crate::train::trainer::{Trainer, select_device};

/// The marker a `--single-run` child prints before its figures.
const RESULT_PREFIX: &str = "RESULT ab-single";

/// Training rates of runs A and B.
#[derive(Clone, Copy, Debug)]
pub struct AbRate {
    pub steps_per_sec: [f64; 2],
}

impl AbRate {
    pub fn combined(&self) -> f64 {
        self.steps_per_sec.iter().sum()
    }
}

/// The window's run `slot` (A proposed, B naive, the default synthetic set) on `device` and
/// `kernels`.
fn window_config(slot: usize, device: &str, kernels: Kernels) -> TrainConfig {
    let mut config = Settings::default().train_config(slot);
    config.device = device.to_string();
    config.kernels = kernels;
    config
}

pub fn run(secs: f64, device: &str, kernels: Kernels) -> Result<()> {
    let together = together(secs, device, kernels)?;
    let apart = apart(secs, device, kernels)?;
    let [ta, tb] = together.steps_per_sec;
    let [aa, ab] = apart.steps_per_sec;
    println!(
        "together (one process, thread budget of {} threads): {:.1} steps/s (A {ta:.1}, B {tb:.1})",
        ThreadBudget::for_this_machine().total(),
        together.combined()
    );
    println!(
        "apart (two single-thread processes at once): {:.1} steps/s (A {aa:.1}, B {ab:.1})",
        apart.combined()
    );
    println!(
        "together / apart = {:.2}",
        together.combined() / apart.combined().max(1e-9)
    );
    println!(
        "RESULT ab together={:.2} apart={:.2} ratio={:.3}",
        together.combined(),
        apart.combined(),
        together.combined() / apart.combined().max(1e-9)
    );
    Ok(())
}

/// Both runs on trainer threads of this process, sharing the budget, for `secs` seconds from
/// the first step.
pub fn together(secs: f64, device: &str, kernels: Kernels) -> Result<AbRate> {
    let dataset = Arc::new(
        window_config(0, device, kernels)
            .load_dataset(&|_: f32| {})
            .context("the window's dataset")?,
    );
    let budget = ThreadBudget::for_this_machine();
    let mut handles: Vec<TrainerHandle> = Vec::new();
    for slot in 0..2 {
        let config = window_config(slot, device, kernels);
        let name = format!("trainer-{}", crate::lab::run::slot_name(slot));
        let waker = Arc::new(|| {});
        handles.push(spawn_trainer(
            &name,
            config,
            dataset.clone(),
            waker,
            &budget,
        )?);
    }
    let mut steps = [0u64; 2];
    wait_until_ready(&handles)?;
    for h in &mut handles {
        h.send(Command::Play);
    }
    let mut first_step_at = None;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        for (slot, h) in handles.iter().enumerate() {
            for event in h.drain() {
                match event {
                    Event::Metrics(rows) => {
                        if let Some(last) = rows.last() {
                            steps[slot] = last.step;
                        }
                    }
                    Event::Error { message, .. } => bail!("run {slot}: {message}"),
                    _ => {}
                }
            }
        }
        if steps.iter().any(|&s| s > 0) {
            first_step_at.get_or_insert_with(Instant::now);
        }
        if let Some(t) = first_step_at
            && t.elapsed().as_secs_f64() >= secs
        {
            let elapsed = t.elapsed().as_secs_f64();
            return Ok(AbRate {
                steps_per_sec: steps.map(|s| s as f64 / elapsed),
            });
        }
    }
}

fn wait_until_ready(handles: &[TrainerHandle]) -> Result<()> {
    let mut ready = [false; 2];
    let started = Instant::now();
    while !ready.iter().all(|&r| r) {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the runs were not ready after 300 s");
        }
        std::thread::sleep(Duration::from_millis(20));
        for (slot, h) in handles.iter().enumerate() {
            for event in h.drain() {
                match event {
                    Event::Ready { .. } => ready[slot] = true,
                    Event::Error { message, .. } => bail!("run {slot}: {message}"),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The two runs as two child processes of this program, one thread each, at the same time.
pub fn apart(secs: f64, device: &str, kernels: Kernels) -> Result<AbRate> {
    let exe = std::env::current_exe().context("finding this program to start the two runs")?;
    let children: Vec<_> = (0..2)
        .map(|slot| {
            Process::new(&exe)
                .args(["bench", "--single-run", &slot.to_string()])
                .args(["--secs", &secs.to_string(), "--device", device])
                .args(["--kernels", kernels.key()])
                .env("RAYON_NUM_THREADS", "1")
                .env("CANDLE_NUM_THREADS", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("starting run {slot} as a process"))
        })
        .collect::<Result<_>>()?;
    let mut rates = [0.0f64; 2];
    for (slot, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with(RESULT_PREFIX))
            .with_context(|| format!("run {slot}'s process printed no result ({})", out.status))?;
        let (steps, secs) = parse_single(line).with_context(|| format!("run {slot}: '{line}'"))?;
        rates[slot] = steps as f64 / secs.max(1e-9);
    }
    Ok(AbRate {
        steps_per_sec: rates,
    })
}

fn parse_single(line: &str) -> Option<(u64, f64)> {
    let mut steps = None;
    let mut secs = None;
    for field in line.split_whitespace() {
        if let Some(v) = field.strip_prefix("steps=") {
            steps = v.parse().ok();
        }
        if let Some(v) = field.strip_prefix("secs=") {
            secs = v.parse().ok();
        }
    }
    Some((steps?, secs?))
}

/// The child's side: train the window's run `slot` for `secs` seconds from the first step and
/// print how many steps that was.
pub fn single_run(slot: usize, secs: f64, device: &str, kernels: Kernels) -> Result<()> {
    if slot > 1 {
        bail!("--single-run takes 0 (run A) or 1 (run B), not {slot}");
    }
    let config = window_config(slot, device, kernels);
    let device = select_device(&config.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let dataset = Arc::new(config.load_dataset(&|_: f32| {})?);
    // The window's loop: the same evaluations every N steps as a run slot makes.
    let mut schedule = Schedule::of(&config);
    let mut trainer = Trainer::new(config, dataset, &device)?;
    let started = Instant::now();
    let mut steps = 0u64;
    while started.elapsed().as_secs_f64() < secs {
        advance(&mut trainer, &mut schedule, &mut Discard).map_err(|e| anyhow::anyhow!("{e}"))?;
        steps += 1;
    }
    println!(
        "{RESULT_PREFIX} steps={steps} secs={:.3}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
