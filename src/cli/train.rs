//! `cari-mtl train`: one headless run.

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::data::Dataset;
use crate::kernels::Kernels;
use crate::model::Preset;
use crate::train::config::{LearningRates, LrDrop, ScheduledPerturbation, TrainConfig};
use crate::train::headless::{RunEnd, RunOptions, RunOutcome, train_to_folder};
use crate::train::hold::WeightHold;
use crate::train::lens::{GradSpace, LensConfig};
use crate::train::recipe::Recipe;
use crate::train::run_folder::PARTIAL_METRICS_FILE;
use crate::train::trainer::{device_label, select_device};
use crate::weighting::{Strategy, StrategyConfig};

/// Settings shared by `train` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Network size: tiny (CPU default) or paper (the authors' Inception-ResNet cut, for CUDA).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// synthetic, webcaricature:PATH, cavi:PATH or folder:PATH.
    #[arg(long, default_value = "synthetic")]
    pub dataset: String,
    /// The published fold to train and evaluate on (1-based): WebCaricature's View 2 fold and
    /// C2P/P2C split K, or CaVI's K-th train/test split. Default 1 where the dataset has folds;
    /// refused where it has none (synthetic, folder:, CaVI with pair lists only).
    #[arg(long, value_name = "K")]
    pub fold: Option<usize>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// What the convolutions and poolings run on: fast (the hand-written CPU kernels; candle's
    /// own ops off the CPU) or portable (candle's own ops everywhere: on the CPU, exactly the
    /// ops a GPU runs).
    #[arg(long, default_value = "fast")]
    pub kernels: String,
    /// A named set of settings: lab (this lab's), authors-cavi or authors-webcaricature (the
    /// authors' scripts: optimiser, rates and their drop, Ψ's rate, s, centre loss, clipping;
    /// see the README). The flags below override its values; config.json records the result.
    #[arg(long, default_value = "lab")]
    pub recipe: String,
    /// The network's learning rate (default: the recipe's: lab 1e-3, authors 0.1).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Ψ's own learning rate under proposed (default: the recipe's ratio × the network's rate:
    /// lab 10×, authors-cavi 1×, authors-webcaricature 10×).
    #[arg(long)]
    pub psi_lr: Option<f64>,
    /// Both rates × 0.1 after this step; 0: never (default: the recipe's: authors at half the
    /// run, lab never).
    #[arg(long, value_name = "STEP")]
    pub lr_drop_after: Option<u64>,
    /// Weight-logit scale s (default: the recipe's; lab: proposed 1, naive 0.5).
    #[arg(long)]
    pub scale: Option<f32>,
    /// Centre-loss factor λ (default: the recipe's: lab 0.01 on verification, authors-cavi 0.01 and authors-webcaricature 0.1 on
    /// every branch).
    #[arg(long)]
    pub centre_loss: Option<f64>,
    /// Gradient clipping at this global norm, 0 = none (default: the recipe's, 5).
    #[arg(long)]
    pub clip_norm: Option<f64>,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Treat w as a constant for the network (the paper's reading) instead of letting the
    /// network's loss reach the trunk through w (the code).
    #[arg(long)]
    pub constant_weights: bool,
    /// Weights for `static`, e.g. 0.5,0.25,0.25.
    #[arg(long)]
    pub static_weights: Option<String>,
    /// The gradient lens: off, z, last or params (each task's gradient on the shared part,
    /// their cosines and the update's alignment, in metrics.csv's grad_* columns).
    #[arg(long, default_value = "off")]
    pub lens: String,
    /// The lens looks every N steps.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub lens_every: u64,
    /// Where the rules that combine gradients take them: params (every trunk parameter),
    /// last (the trunk's last stage) or z (its output; visual and cari are orthogonal there by
    /// construction, so a rule cannot see their conflict).
    #[arg(long, default_value = "params")]
    pub grad_space: String,
    /// CAGrad's c.
    #[arg(long, default_value_t = 0.4)]
    pub cagrad_c: f64,
    /// Evaluate every N steps while training, each evaluation a row of evaluations.csv (the
    /// Sweep view's curves over steps); 0: only the final evaluation, as summary.json has.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub eval_every: u64,
    /// Synthetic data: training identities.
    #[arg(long, default_value_t = 200)]
    pub identities: usize,
    /// Synthetic data: held-out identities (open-set verification, C2P/P2C).
    #[arg(long, default_value_t = 50)]
    pub open_identities: usize,
    /// Synthetic data: photos and caricatures per identity (each).
    #[arg(long, default_value_t = 15)]
    pub images_per_modality: usize,
    /// Synthetic data: held-out images per training identity and modality (closed-set test).
    #[arg(long, default_value_t = 5)]
    pub test_images: usize,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[arg(long, default_value = "proposed")]
    pub strategy: String,
    #[arg(long, default_value_t = 600)]
    pub steps: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub out: PathBuf,
    /// Make a task harder from a step on: TASK:KIND@STEP (KIND shuffle-labels, noise or none). Repeatable.
    #[arg(long)]
    pub perturb: Vec<String>,
    /// Hold a task's weight at VALUE over steps FROM..=TO (both included): TASK:VALUE@FROM-TO,
    /// e.g. cari:0.6@100-200. The rule decides the other weights (they keep their ratio and
    /// share 1 − VALUE) and takes over again after TO. Repeatable.
    #[arg(long, value_name = "TASK:VALUE@FROM-TO")]
    pub hold: Vec<String>,
    /// Replace a previous run in --out (only the run's own files are removed).
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

impl RunArgs {
    /// A validated config for a strategy and seed.
    pub fn config(&self, strategy: &str, seed: u64, steps: u64) -> Result<TrainConfig> {
        let preset = Preset::parse(&self.preset)
            .map_err(anyhow::Error::msg)
            .context("--preset")?;
        if self.fold == Some(0) {
            bail!("--fold 0: folds are numbered from 1");
        }
        let strategy = Strategy::parse(strategy)
            .map_err(anyhow::Error::msg)
            .context("--strategy")?;
        let mut strategy = StrategyConfig::new(strategy);
        if let Some(w) = &self.static_weights {
            let values = super::args::parse_list("--static-weights", w)?;
            if values.len() != 3 {
                bail!(
                    "--static-weights: expected 3 weights (verif, visual, cari), got {}",
                    values.len()
                );
            }
            strategy.settings.static_weights =
                [values[0] as f32, values[1] as f32, values[2] as f32];
        }
        let recipe = Recipe::parse(&self.recipe)
            .map_err(anyhow::Error::msg)
            .context("--recipe")?;
        let kernels = Kernels::parse(&self.kernels)
            .map_err(anyhow::Error::msg)
            .context("--kernels")?;
        let mut config = TrainConfig {
            seed,
            preset,
            data: crate::data::DataConfig {
                dataset: self.dataset.clone(),
                fold: self.fold,
                ..Default::default()
            },
            strategy,
            batch_size: self.batch_size,
            weights_reach_trunk: !self.constant_weights,
            max_steps: steps,
            eval_every: self.eval_every,
            device: self.device.clone(),
            kernels,
            ..TrainConfig::default()
        };
        recipe.apply(&mut config);
        self.override_recipe(&mut config, recipe);
        self.gradient_settings(&mut config)?;
        config.data.synthetic.seed = seed;
        config.data.synthetic.image_size = preset.image_size();
        config.data.synthetic.train_identities = self.identities;
        config.data.synthetic.open_identities = self.open_identities;
        config.data.synthetic.photos_per_identity = self.images_per_modality;
        config.data.synthetic.caricatures_per_identity = self.images_per_modality;
        config.data.synthetic.test_per_modality = self.test_images;
        config
            .data
            .synthetic
            .validate()
            .context("synthetic dataset settings")?;
        config.validate().context("settings")?;
        Ok(config)
    }
}

impl RunArgs {
    /// The lens, the gradient space and CAGrad's c.
    fn gradient_settings(&self, config: &mut TrainConfig) -> Result<()> {
        config.lens = LensConfig {
            space: match self.lens.as_str() {
                "off" => None,
                other => Some(
                    GradSpace::parse(other)
                        .map_err(|e| anyhow::anyhow!("{e} (or off)"))
                        .context("--lens")?,
                ),
            },
            every: self.lens_every,
        };
        if self.lens_every == 0 {
            bail!("--lens-every must be at least 1");
        }
        config.grad_space = GradSpace::parse(&self.grad_space)
            .map_err(anyhow::Error::msg)
            .context("--grad-space")?;
        config.strategy.settings.cagrad_c = self.cagrad_c;
        Ok(())
    }

    /// The flags given explicitly, over what the recipe chose.
    fn override_recipe(&self, config: &mut TrainConfig, recipe: Recipe) {
        if let Some(lr) = self.lr {
            // Ψ keeps the recipe's ratio to the network's rate unless --psi-lr is given too.
            config.rates = LearningRates {
                lr,
                psi_lr: lr * recipe.psi_ratio(),
            };
        }
        if let Some(psi_lr) = self.psi_lr {
            config.rates.psi_lr = psi_lr;
        }
        if let Some(after_step) = self.lr_drop_after {
            config.lr_drop = (after_step > 0).then_some(LrDrop {
                after_step,
                factor: 0.1,
            });
        }
        if self.scale.is_some() {
            config.strategy.settings.scale = self.scale;
        }
        if let Some(factor) = self.centre_loss {
            config.centre_loss_factor = factor;
        }
        if let Some(norm) = self.clip_norm {
            config.clip_norm = norm;
        }
    }
}

/// Load the dataset named in a config, with a progress bar on stderr.
pub fn load_dataset(config: &TrainConfig, quiet: bool) -> Result<Arc<Dataset>> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1000)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {percent:>3}%")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("dataset");
    let progress = |f: f32| bar.set_position((f.clamp(0.0, 1.0) * 1000.0) as u64);
    let dataset = config
        .load_dataset(&progress)
        .with_context(|| format!("dataset '{}'", config.data.dataset))?;
    bar.finish_and_clear();
    if !quiet {
        eprintln!(
            "dataset {}: {} images of {} identities",
            dataset.name,
            dataset.images.len(),
            dataset.images.identities.len()
        );
        eprintln!("{}", crate::data::report_text(&dataset.report));
    }
    Ok(Arc::new(dataset))
}

pub fn run(args: TrainArgs) -> Result<()> {
    let mut config = args.run.config(&args.strategy, args.seed, args.steps)?;
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    for text in &args.perturb {
        let p: ScheduledPerturbation = text
            .parse()
            .map_err(anyhow::Error::msg)
            .context("--perturb")?;
        config.perturbations.push(p);
    }
    for text in &args.hold {
        let hold: WeightHold = text.parse().map_err(anyhow::Error::msg).context("--hold")?;
        config.holds.push(hold);
    }
    config.validate().context("--hold")?;
    let device = select_device(&config.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let dataset = load_dataset(&config, false)?;
    let options = RunOptions {
        overwrite: args.overwrite,
        inject_failure: injected_fault(&config),
    };
    let bar = progress_bar(&config, false);
    let end = train_to_folder(&config, dataset, &device, &args.out, &options, &mut |_| {
        bar.inc(1)
    });
    bar.finish_and_clear();
    let outcome = match end? {
        RunEnd::Finished(outcome) => outcome,
        RunEnd::Failed { step, reason } => bail!(
            "the run failed at step {step}: {reason} (its rows so far are in {})",
            args.out.join(PARTIAL_METRICS_FILE).display()
        ),
    };
    if let Err(e) = &outcome.report {
        eprintln!("warning: the final evaluation failed: {e}");
    }
    println!("{}", outcome_line(&config, &outcome, &device, &args.out));
    Ok(())
}

/// The one line `train` prints at the end.
fn outcome_line(
    config: &TrainConfig,
    outcome: &RunOutcome,
    device: &candle_core::Device,
    out: &Path,
) -> String {
    let last = outcome.last_row.as_ref();
    let loss = |i: usize| last.map_or(f32::NAN, |r| r.losses[i]);
    let weight = |i: usize| last.map_or(f32::NAN, |r| r.weights[i]);
    let metric = |key: &str| {
        let value = outcome
            .report
            .as_ref()
            .ok()
            .and_then(|r| r.summary.get(key));
        100.0 * value.copied().unwrap_or(f64::NAN)
    };
    let steps = last.map_or(0, |r| r.step);
    format!(
        "{} {} steps in {:.1} s ({:.1} steps/s on {}) | final losses verif {:.3} visual {:.3} cari {:.3} | weights {:.2}/{:.2}/{:.2} | verif acc {:.1}% cari-id {:.1}% visual-id {:.1}% | {}",
        config.strategy.label(),
        steps,
        outcome.train_secs,
        steps as f64 / outcome.train_secs.max(1e-9),
        device_label(device),
        loss(0),
        loss(1),
        loss(2),
        weight(0),
        weight(1),
        weight(2),
        metric("verif_acc"),
        metric("cari_id_top1"),
        metric("visual_id_top1"),
        out.display(),
    )
}

/// Fault injection for the tests of what a failed run leaves behind: the environment variable
/// `CARI_MTL_FAULT=STRATEGY@STEP` makes that strategy's runs fail at that step as a diverging
/// run does. Nothing else reads it.
pub fn injected_fault(config: &TrainConfig) -> Option<(u64, String)> {
    let spec = std::env::var("CARI_MTL_FAULT").ok()?;
    let (strategy, step) = spec.split_once('@')?;
    let step: u64 = step.parse().ok()?;
    (strategy == config.strategy.strategy.key()).then(|| {
        (
            step,
            format!("the verif loss became NaN at step {step} (injected by CARI_MTL_FAULT)"),
        )
    })
}

fn progress_bar(config: &TrainConfig, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(config.max_steps)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} steps {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(config.strategy.label());
    bar
}
