//! `cari-mtl bench`: training throughput of a preset on a device.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::time::Instant;

use super::reference::bench_reference;
use crate::kernels::Kernels;
use crate::train::config::TrainConfig;
use crate::train::lens::{GradSpace, LensConfig};
use crate::train::schedule::{Discard, Schedule, advance};
use crate::train::trainer::{Trainer, device_label, select_device};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// What the convolutions and poolings run on: fast (the hand-written CPU kernels) or
    /// portable (candle's own ops, as a GPU runs them).
    #[arg(long, default_value = "fast")]
    pub kernels: String,
    /// Timed steps (after 5 warm-up steps).
    #[arg(long, default_value_t = 50)]
    pub steps: u64,
    #[arg(long, default_value = "proposed")]
    pub strategy: String,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Run the speed-comparison workload of bench/ (BENCH-MODEL.md) instead of a preset.
    #[arg(long)]
    pub reference: bool,
    /// Measure this machine's GEMM rate and how much of it each layer and the whole step
    /// reach, for the reference workload and the tiny preset (CPU only; --steps timed steps).
    #[arg(long)]
    pub roofline: bool,
    /// Train the window's runs A and B together in this process (its scheduler, no window),
    /// then as two single-thread processes at once, and compare the combined steps/s.
    #[arg(long)]
    pub ab: bool,
    /// Seconds each `--ab` measurement trains (from the first step).
    #[arg(long, default_value_t = 20.0, value_parser = super::parse_positive_secs)]
    pub secs: f64,
    /// Internal to `--ab`: train the window's run 0 (A) or 1 (B) for --secs and print the steps.
    #[arg(long, hide = true)]
    pub single_run: Option<usize>,
    /// Also time the steps with the gradient lens on in this space (z, last or params),
    /// alternating blocks of steps with and without it, and print the ratio.
    #[arg(long, default_value = "off")]
    pub lens: String,
    /// With --lens: the lens looks every N steps.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub lens_every: u64,
    /// Where the rules that combine gradients take them: params, last or z.
    #[arg(long, default_value = "params")]
    pub grad_space: String,
}

/// The most timed steps a benchmark takes (a typo must not run for days).
const MAX_BENCH_STEPS: u64 = 1_000_000;

pub fn run(args: BenchArgs) -> Result<()> {
    if args.steps == 0 || args.steps > MAX_BENCH_STEPS {
        bail!(
            "--steps {}: must be between 1 and {MAX_BENCH_STEPS}",
            args.steps
        );
    }
    let kernels = Kernels::parse(&args.kernels)
        .map_err(anyhow::Error::msg)
        .context("--kernels")?;
    if let Some(slot) = args.single_run {
        return super::bench_ab::single_run(slot, args.secs, &args.device, kernels);
    }
    if args.ab {
        return super::bench_ab::run(args.secs, &args.device, kernels);
    }
    if args.reference {
        return bench_reference(&args.device, kernels, args.steps);
    }
    let config = bench_config(&args, &args.preset)?;
    let device = select_device(&config.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let dataset = crate::cli::train::load_dataset(&config, true)?;
    let lens = match args.lens.as_str() {
        "off" => None,
        other => Some(LensConfig {
            space: Some(
                GradSpace::parse(other)
                    .map_err(anyhow::Error::msg)
                    .context("--lens")?,
            ),
            every: args.lens_every.max(1),
        }),
    };
    let mut trainer = Trainer::new(config.clone(), dataset, &device)?;
    println!("{}", parameter_line(trainer.network())?);
    // The one training loop, with nothing due but steps (the config has no evaluations).
    let mut schedule = Schedule::of(&config);
    let mut step = |trainer: &mut Trainer| {
        advance(trainer, &mut schedule, &mut Discard).map_err(|e| anyhow::anyhow!("{e}"))
    };
    for _ in 0..5 {
        step(&mut trainer)?;
    }
    let label = format!(
        "preset {} {} on {}, {} kernels ({} threads)",
        config.preset.key(),
        config.strategy.label(),
        device_label(&device),
        kernels.key(),
        rayon::current_num_threads()
    );
    let Some(lens) = lens else {
        let times = time_steps(&mut trainer, args.steps, &mut step)?;
        println!("{label}: {}", timing_line(&times, config.batch_size));
        return Ok(());
    };
    // Blocks of 10 steps (a multiple of any --lens-every up to 10), alternately without and
    // with the lens, so both see the same machine state.
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let block = 10u64;
    for _ in 0..args.steps.div_ceil(block) {
        trainer.set_lens(LensConfig::default());
        without.extend(time_steps(&mut trainer, block, &mut step)?);
        trainer.set_lens(lens);
        with.extend(time_steps(&mut trainer, block, &mut step)?);
    }
    let mean = |t: &[f64]| t.iter().sum::<f64>() / t.len().max(1) as f64;
    println!(
        "{label}, lens off: {}",
        timing_line(&without, config.batch_size)
    );
    println!(
        "{label}, lens {} every {}: {}",
        args.lens,
        lens.every,
        timing_line(&with, config.batch_size)
    );
    println!(
        "lens {} every {}: {:.3}× the step without the lens (mean over {} steps each)",
        args.lens,
        lens.every,
        mean(&with) / mean(&without).max(1e-12),
        with.len()
    );
    Ok(())
}

/// The config `bench` times for `preset`: the lab recipe on a small synthetic set (50
/// identities), seed 1, with the bench's strategy, batch size, device, kernels and gradient
/// space.
pub fn bench_config(args: &BenchArgs, preset: &str) -> Result<TrainConfig> {
    let run_args = crate::cli::train::RunArgs {
        preset: preset.into(),
        dataset: "synthetic".into(),
        fold: None,
        device: args.device.clone(),
        kernels: args.kernels.clone(),
        recipe: "lab".into(),
        lr: None,
        psi_lr: None,
        lr_drop_after: None,
        scale: None,
        centre_loss: None,
        clip_norm: None,
        batch_size: args.batch_size,
        constant_weights: false,
        static_weights: None,
        // The lens is switched on and off by the timing below.
        lens: "off".into(),
        lens_every: 1,
        grad_space: args.grad_space.clone(),
        cagrad_c: 0.4,
        eval_every: 0,
        identities: 50,
        open_identities: 10,
        images_per_modality: 15,
        test_images: 5,
    };
    // A small dataset is enough to time steps.
    run_args.config(&args.strategy, 1, 0)
}

/// Seconds of each of `steps` steps.
fn time_steps(
    trainer: &mut Trainer,
    steps: u64,
    step: &mut impl FnMut(&mut Trainer) -> Result<crate::train::schedule::Advanced>,
) -> Result<Vec<f64>> {
    let mut times = Vec::with_capacity(steps as usize);
    for _ in 0..steps {
        let t = Instant::now();
        step(trainer)?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(times)
}

/// "median 21.2 ms/step, 47.17 steps/s, 3019 images/s (mean 21.9 ms over 50 steps, batch 64)".
fn timing_line(times: &[f64], batch: usize) -> String {
    let median = super::timing::median(times.to_vec());
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    format!(
        "median {:.1} ms/step, {:.2} steps/s, {:.0} images/s (mean {:.1} ms over {} steps, batch {batch})",
        median * 1e3,
        1.0 / median.max(1e-12),
        batch as f64 / median.max(1e-12),
        mean * 1e3,
        times.len(),
    )
}

/// "parameters: 16,066,000 trainable (trunk …, verif …, …) + 22,000 running statistics".
fn parameter_line(network: &crate::model::Network) -> Result<String> {
    let groups: Vec<String> = network
        .parameter_groups()?
        .iter()
        .map(|(name, count)| format!("{name} {}", thousands(*count)))
        .collect();
    Ok(format!(
        "parameters: {} trainable ({}) + {} batch-norm running statistics",
        thousands(network.parameter_count()?),
        groups.join(", "),
        thousands(network.running_statistic_count()?)
    ))
}

/// 16066000 → "16,066,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(16_066_000), "16,066,000");
    }
}
