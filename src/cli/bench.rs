//! `cari-mtl bench`: training throughput of a preset on a device.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};

use crate::model::layers::{Builder, Conv2d, Linear};
use crate::train::config::OptimizerKind;
use crate::train::lens::{GradSpace, LensConfig};
use crate::train::losses::{centre_loss, masked_cross_entropy};
use crate::train::optim::Optimizer;
use crate::train::schedule::{Discard, Schedule, advance};
use crate::train::trainer::{Trainer, device_label, select_device};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    #[arg(long, default_value = "auto")]
    pub device: String,
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
    if let Some(slot) = args.single_run {
        return super::bench_ab::single_run(slot, args.secs, &args.device);
    }
    if args.ab {
        return super::bench_ab::run(args.secs, &args.device);
    }
    if args.reference {
        return bench_reference(&args.device, args.steps);
    }
    let run_args = crate::cli::train::RunArgs {
        preset: args.preset.clone(),
        dataset: "synthetic".into(),
        fold: None,
        device: args.device.clone(),
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
    let config = run_args.config(&args.strategy, 1, 0)?;
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
        "preset {} {} on {} ({} threads)",
        config.preset.key(),
        config.strategy.label(),
        device_label(&device),
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
    let mut sorted = times.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
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

/// The network and the batch of the speed-comparison workload of
/// ../shared/reference/BENCH-MODEL.md (twin of bench/torch_reference.py): four 3×3 convolutions,
/// three heads with a centre term on the verification head's hidden vector, the weight module
/// Ψ, batch 64 of 3×64×64. Shared by `bench --reference` and examples/step_profile.rs.
pub struct ReferenceWorkload {
    pub varmap: candle_nn::VarMap,
    convs: [Conv2d; 4],
    /// (Linear 256→128, Linear 128→200) per task.
    heads: Vec<(Linear, Linear)>,
    psi: Linear,
    pub images: Tensor,
    labels: Vec<Tensor>,
    ones: Tensor,
    centres: Tensor,
}

impl ReferenceWorkload {
    pub const BATCH: usize = 64;

    pub fn new(device: &Device) -> candle_core::Result<ReferenceWorkload> {
        let varmap = candle_nn::VarMap::new();
        let mut b = Builder::new(&varmap, device);
        let convs = [
            b.conv("c1", 3, 32, (3, 3), 1, (1, 1))?,
            b.conv("c2", 32, 64, (3, 3), 1, (1, 1))?,
            b.conv("c3", 64, 128, (3, 3), 1, (1, 1))?,
            b.conv("c4", 128, 256, (3, 3), 1, (1, 1))?,
        ];
        let heads = (0..3)
            .map(|h| {
                Ok((
                    b.linear(&format!("h{h}.a"), 256, 128)?,
                    b.linear(&format!("h{h}.b"), 128, 200)?,
                ))
            })
            .collect::<candle_core::Result<_>>()?;
        let psi = b.linear("psi", 256, 3)?;
        // Small random values (they do not matter for timing, only that they are finite).
        for var in varmap.all_vars() {
            var.set(&(Tensor::randn(0f32, 1.0, var.dims(), device)? * 0.05)?)?;
        }
        let batch = Self::BATCH;
        let labels = (0..3)
            .map(|_| {
                Tensor::rand(0f32, 200.0, batch, device)?
                    .floor()?
                    .to_dtype(DType::U32)
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(ReferenceWorkload {
            varmap,
            convs,
            heads,
            psi,
            images: Tensor::randn(0f32, 1.0, (batch, 3, 64, 64), device)?,
            labels,
            ones: Tensor::ones(batch, DType::F32, device)?,
            centres: Tensor::zeros((batch, 128), DType::F32, device)?,
        })
    }

    /// Z (`[N, 256]`). `fused_pool`: each conv + ReLU + 2×2 max-pool as one op (as the crate's
    /// trunks do); otherwise the pooling is a separate op.
    pub fn trunk(&self, x: &Tensor, fused_pool: bool) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            x = match (i < 3, fused_pool) {
                (true, true) => conv.forward_relu_pool(&x, 2)?,
                (true, false) => crate::kernels::max_pool2d(&conv.forward_relu(&x)?, 2)?,
                (false, _) => conv.forward_relu(&x)?,
            };
        }
        x.mean(D::Minus1)?.mean(D::Minus1)
    }

    /// The step's loss from Z of [`Self::images`]: Σ w_i·L_i with w held constant, plus
    /// L4 = Σ w_i / L_i with L held constant.
    pub fn loss(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        let mut losses = Vec::new();
        for (h, (a, b)) in self.heads.iter().enumerate() {
            let hidden = a.forward(z)?.relu()?;
            let logits = b.forward(&hidden)?;
            let mut loss = masked_cross_entropy(&logits, &self.labels[h], &self.ones, Self::BATCH)?;
            if h == 0 {
                loss = (loss + (centre_loss(&hidden, &self.centres)? * 0.01)?)?;
            }
            losses.push(loss);
        }
        let losses = Tensor::stack(&losses, 0)?;
        // candle-nn's softmax_last_dim has no backward (the gradient silently stops): use the
        // composed softmax.
        let w = candle_nn::ops::softmax(&self.psi.forward(z)?, D::Minus1)?.mean(0)?;
        let net = (w.detach() * &losses)?.sum_all()?;
        let l4 = (w * losses.detach().recip()?)?.sum_all()?;
        net + l4
    }

    /// The verification head's hidden vectors of `x`, copied to the host.
    pub fn embed(&self, x: &Tensor, fused_pool: bool) -> candle_core::Result<Vec<Vec<f32>>> {
        let z = self.trunk(x, fused_pool)?;
        self.heads[0].0.forward(&z)?.relu()?.to_vec2::<f32>()
    }

    /// Ψ's parameters (they get their own optimiser).
    pub fn psi_vars(&self) -> Vec<Var> {
        vec![self.psi.weight.clone(), self.psi.bias.clone()]
    }

    /// Every parameter but Ψ's.
    pub fn net_vars(&self) -> Vec<Var> {
        let psi = self.psi_vars();
        self.varmap
            .all_vars()
            .into_iter()
            .filter(|v| !psi.iter().any(|p| p.as_tensor().id() == v.as_tensor().id()))
            .collect()
    }
}

/// `bench --reference`: one training step of [`ReferenceWorkload`] (plain SGD lr 0.01 for both
/// parameter sets) and an embedding pass over 2,000 images in batches of 200.
pub fn bench_reference(device: &str, steps: u64) -> Result<()> {
    let device = select_device(device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let work = ReferenceWorkload::new(&device)?;
    let mut net_opt = Optimizer::new(OptimizerKind::Sgd { momentum: 0.0 }, work.net_vars())?;
    let mut psi_opt = Optimizer::new(OptimizerKind::Sgd { momentum: 0.0 }, work.psi_vars())?;
    let mut step = || -> candle_core::Result<()> {
        let z = work.trunk(&work.images, true)?;
        let grads = work.loss(&z)?.backward()?;
        net_opt.step(&grads, 0.01, 0.0)?;
        psi_opt.step(&grads, 0.01, 0.0)?;
        Ok(())
    };
    for _ in 0..5 {
        step()?;
    }
    // On a GPU the ops only queue work: wait for it before each clock reading (a no-op on
    // the CPU).
    device.synchronize()?;
    let mut times = Vec::new();
    for _ in 0..steps {
        let t = Instant::now();
        step()?;
        device.synchronize()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let step_ms = times[times.len() / 2] * 1e3;
    let all = Tensor::randn(0f32, 1.0, (2000, 3, 64, 64), &device)?;
    let embed = || -> candle_core::Result<()> {
        for k in 0..10 {
            work.embed(&all.narrow(0, k * 200, 200)?.detach(), true)?;
        }
        Ok(())
    };
    embed()?;
    let mut embed_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        embed()?;
        embed_times.push(t.elapsed().as_secs_f64());
    }
    embed_times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "reference workload on {} ({} threads): median {:.1} ms/step over {} steps; embedding pass median {:.3} s over 5",
        device_label(&device),
        rayon::current_num_threads(),
        step_ms,
        steps,
        embed_times[2]
    );
    println!("RESULT step_ms={step_ms:.3} embed_s={:.4}", embed_times[2]);
    Ok(())
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
