//! A synthetic sweep folder as `cari-mtl compare` writes one, without training: sweep.json,
//! and per run config.json, metrics.csv, evaluations.csv and summary.json with made-up,
//! seeded numbers. For the Sweep view's tests and its open-time benchmark
//! (`examples/frame_bench.rs sweep`); nothing generated here is committed.

use std::path::Path;

use cari_mtl::eval::METRIC_KEYS;
use cari_mtl::seeded::SplitMix64;
use cari_mtl::train::config::TrainConfig;
use cari_mtl::train::metrics::{METRICS_HEADER, StepMetrics, csv_row};
use cari_mtl::train::run_folder::{
    CONFIG_FILE, EVALUATIONS_FILE, METRICS_FILE, SUMMARY_FILE, evaluations_header,
};
use cari_mtl::train::sweep::settings::SweepSettings;
use cari_mtl::train::sweep::{SWEEP_FILE, Sweep};
use cari_mtl::weighting::{Strategy, StrategyConfig};

/// The first `count` rules of the registry (proposed and naive first).
pub fn rules(count: usize) -> Vec<String> {
    Strategy::keys()
        .into_iter()
        .take(count)
        .map(String::from)
        .collect()
}

/// Write a finished sweep of `rules` × `seeds` runs of `steps` steps, evaluated every
/// `eval_every` steps, into `dir` (which must be empty or new).
pub fn write_sweep(dir: &Path, rules: &[String], seeds: u64, steps: u64, eval_every: u64) {
    std::fs::create_dir_all(dir).expect("the sweep's folder");
    let mut sweep = Sweep::new(rules.to_vec(), seeds, steps, vec![]);
    let configs: Vec<(String, TrainConfig)> = rules
        .iter()
        .map(|rule| (rule.clone(), config(rule, 1, steps, eval_every)))
        .collect();
    sweep.settings = Some(SweepSettings::of(
        configs.iter().map(|(r, c)| (r.as_str(), c)),
    ));
    let json = serde_json::to_string_pretty(&sweep).expect("sweep.json");
    std::fs::write(dir.join(SWEEP_FILE), json).expect("sweep.json");
    for (i, run) in sweep.runs.iter().enumerate() {
        let folder = dir.join(&run.dir);
        std::fs::create_dir_all(&folder).expect("a run's folder");
        write_run(
            &folder,
            &run.strategy,
            run.seed,
            i as u64,
            steps,
            eval_every,
        );
    }
}

fn config(rule: &str, seed: u64, steps: u64, eval_every: u64) -> TrainConfig {
    let strategy = Strategy::parse(rule).expect("a registered rule");
    let mut config = TrainConfig {
        seed,
        strategy: StrategyConfig::new(strategy),
        max_steps: steps,
        eval_every,
        ..TrainConfig::default()
    };
    config.data.synthetic.seed = seed;
    config
}

fn write_run(folder: &Path, rule: &str, seed: u64, index: u64, steps: u64, eval_every: u64) {
    let mut rng = SplitMix64(index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed);
    let mut noise = move || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
    let config = config(rule, seed, steps, eval_every);
    let json = serde_json::to_string_pretty(&config).expect("config.json");
    std::fs::write(folder.join(CONFIG_FILE), json).expect("config.json");
    let mut metrics = String::with_capacity(steps as usize * 120);
    metrics.push_str(METRICS_HEADER);
    metrics.push('\n');
    let mut evaluations = format!("{}\n", evaluations_header());
    let level = (index % 7) as f32 * 0.03;
    for step in 1..=steps {
        let t = step as f32 / steps as f32;
        let w = [0.3 + level + 0.05 * noise(), 0.3 - level, 0.4];
        let losses = [
            3.0 * (1.0 - 0.8 * t) + 0.1 * noise(),
            2.5 * (1.0 - 0.7 * t) + 0.1 * noise(),
            3.5 * (1.0 - 0.6 * t) + 0.1 * noise(),
        ];
        metrics.push_str(&csv_row(&StepMetrics {
            step,
            wall_secs: step as f64 * 0.05,
            strategy: rule.to_string(),
            weights: w,
            losses,
            lr: 1e-3,
            coalesced_steps: 1,
            lens: None,
        }));
        metrics.push('\n');
        if eval_every > 0 && (step % eval_every == 0 || step == steps) {
            evaluations.push_str(&step.to_string());
            for k in 0..METRIC_KEYS.len() {
                let value = 0.3 + 0.4 * t + level + 0.03 * noise() + 0.01 * k as f32;
                evaluations.push_str(&format!(",{value:.6}"));
            }
            evaluations.push('\n');
        }
    }
    std::fs::write(folder.join(METRICS_FILE), metrics).expect("metrics.csv");
    std::fs::write(folder.join(EVALUATIONS_FILE), evaluations).expect("evaluations.csv");
    let figures: serde_json::Map<String, serde_json::Value> = METRIC_KEYS
        .iter()
        .enumerate()
        .map(|(k, key)| {
            let value = 0.7 + level + 0.03 * noise() + 0.01 * k as f32;
            (key.to_string(), serde_json::json!(value))
        })
        .collect();
    let summary = serde_json::json!({"step": steps, "metrics": figures});
    std::fs::write(folder.join(SUMMARY_FILE), summary.to_string()).expect("summary.json");
}
