//! `cari-mtl compare`: the paper's Table I over strategies and seeds.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::eval::{METRIC_KEYS, mean_std, table_markdown};
use crate::train::trainer::select_device;
use crate::weighting::Strategy;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Comma-separated strategies, or `all`.
    #[arg(
        long,
        default_value = "proposed,naive,single-verif,single-visual,single-cari"
    )]
    pub strategies: String,
    /// Number of seeds (1..=N).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    #[arg(long, default_value_t = 600)]
    pub steps: u64,
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: crate::cli::train::RunArgs,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let strategies: Vec<String> = if args.strategies == "all" {
        Strategy::ALL.iter().map(|s| s.key().to_string()).collect()
    } else {
        args.strategies
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    if strategies.is_empty() {
        bail!("--strategies: name at least one strategy");
    }
    for s in &strategies {
        Strategy::parse(s)
            .map_err(anyhow::Error::msg)
            .context("--strategies")?;
    }
    if args.seeds == 0 || args.steps == 0 {
        bail!("--seeds and --steps must be at least 1");
    }
    let device = select_device(&args.run.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let mut results: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    let started = std::time::Instant::now();
    for seed in 1..=args.seeds {
        // One dataset per seed, shared by every strategy, so they differ only in weighting.
        let probe = args.run.config(&strategies[0], seed, args.steps)?;
        let dataset = crate::cli::train::load_dataset(&probe, true)?;
        for strategy in &strategies {
            let config = args.run.config(strategy, seed, args.steps)?;
            let dir = args.out.join(strategy).join(format!("seed{seed}"));
            eprintln!(
                "[{:>6.0} s] {strategy} seed {seed} → {}",
                started.elapsed().as_secs_f64(),
                dir.display()
            );
            let outcome =
                crate::cli::train::train_to_dir(&config, dataset.clone(), &device, &dir, false)?;
            let entry = results.entry(strategy.clone()).or_default();
            if let Err(e) = &outcome.report {
                eprintln!("warning: {strategy} seed {seed}: evaluation failed: {e}");
            }
            for key in METRIC_KEYS {
                let value = outcome
                    .report
                    .as_ref()
                    .ok()
                    .and_then(|r| r.summary.get(key).copied());
                entry
                    .entry(key.to_string())
                    .or_default()
                    .push(value.unwrap_or(f64::NAN));
            }
        }
    }
    let mut json = serde_json::Map::new();
    for strategy in &strategies {
        let mut metrics = serde_json::Map::new();
        for key in METRIC_KEYS {
            let values = &results[strategy][key];
            let (mean, std) = mean_std(values);
            metrics.insert(
                key.to_string(),
                serde_json::json!({"mean": mean, "std": std, "values": values}),
            );
        }
        json.insert(strategy.clone(), serde_json::Value::Object(metrics));
    }
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("{}", markdown_table(&strategies, &results));
    eprintln!(
        "{} runs in {:.0} s; results in {}",
        strategies.len() as u64 * args.seeds,
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// Table I layout: one row per strategy, mean ± std in percent.
pub fn markdown_table(
    strategies: &[String],
    results: &BTreeMap<String, BTreeMap<String, Vec<f64>>>,
) -> String {
    let rows: Vec<(String, Vec<String>)> = strategies
        .iter()
        .map(|strategy| {
            let cells = METRIC_KEYS
                .iter()
                .map(|key| {
                    let (mean, std) = mean_std(&results[strategy][*key]);
                    format!("{:.1} ± {:.1}", 100.0 * mean, 100.0 * std)
                })
                .collect();
            (strategy.clone(), cells)
        })
        .collect();
    table_markdown("strategy", &rows)
}
