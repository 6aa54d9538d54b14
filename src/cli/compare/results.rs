//! A sweep's results, read back from its run folders: the figures of every finished run, the
//! runs that failed (and why, at which step) and those that are missing. An unsharded compare
//! and `--collect` over its shards build `results.json` the same way, from the same files.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::sweep::{RunSpec, Sweep};
use crate::eval::{METRIC_KEYS, mean_std, table_markdown};
use crate::train::config::TrainConfig;
use crate::train::run_folder::{CONFIG_FILE, INCOMPLETE_FILE, SUMMARY_FILE, read_json};

/// A finished run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub strategy: String,
    pub seed: u64,
    pub metrics: BTreeMap<String, f64>,
}

/// A run that did not give figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub strategy: String,
    pub seed: u64,
    pub dir: PathBuf,
    /// The step it failed at, when known.
    pub step: Option<u64>,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub strategies: Vec<String>,
    pub results: Vec<RunResult>,
    pub failed: Vec<Failure>,
    /// Runs with no folder in any of the places looked at.
    pub missing: Vec<RunSpec>,
}

/// Read every run of `sweep` from the first of `roots` that holds its folder.
pub fn collect(sweep: &Sweep, roots: &[PathBuf]) -> Collected {
    let mut out = Collected {
        strategies: sweep.strategies.clone(),
        ..Collected::default()
    };
    for run in &sweep.runs {
        let Some(dir) = roots.iter().map(|r| r.join(&run.dir)).find(|d| d.is_dir()) else {
            out.missing.push(run.clone());
            continue;
        };
        match read_run(run, &dir) {
            Ok(result) => out.results.push(result),
            Err((step, reason)) => out.failed.push(Failure {
                strategy: run.strategy.clone(),
                seed: run.seed,
                dir,
                step,
                reason,
            }),
        }
    }
    out
}

/// One run folder's figures, or (step, why not).
fn read_run(run: &RunSpec, dir: &Path) -> Result<RunResult, (Option<u64>, String)> {
    let config: TrainConfig = read_json(&dir.join(CONFIG_FILE), "a run's config.json")
        .map_err(|e| (None, e.to_string()))?;
    let strategy = config.strategy.strategy.key();
    if strategy != run.strategy || config.seed != run.seed {
        return Err((
            None,
            format!(
                "config.json is for {strategy} seed {}, expected {} seed {}",
                config.seed, run.strategy, run.seed
            ),
        ));
    }
    let summary_path = dir.join(SUMMARY_FILE);
    if !summary_path.is_file() {
        let why = if dir.join(INCOMPLETE_FILE).is_file() {
            "did not finish (no summary.json; INCOMPLETE is still there)"
        } else {
            "no summary.json"
        };
        return Err((None, why.into()));
    }
    let summary: Value =
        read_json(&summary_path, "a run's summary.json").map_err(|e| (None, e.to_string()))?;
    let step = summary["step"].as_u64();
    if let Some(reason) = summary["failed"].as_str() {
        return Err((step, reason.to_string()));
    }
    if let Some(reason) = summary["error"].as_str() {
        return Err((step, format!("the final evaluation failed: {reason}")));
    }
    let metrics: BTreeMap<String, f64> = METRIC_KEYS
        .iter()
        .filter_map(|&key| Some((key.to_string(), summary["metrics"][key].as_f64()?)))
        .collect();
    Ok(RunResult {
        strategy: run.strategy.clone(),
        seed: run.seed,
        metrics,
    })
}

impl Collected {
    /// A metric's values over the finished runs of a strategy, by seed.
    pub fn values(&self, strategy: &str, key: &str) -> Vec<(u64, f64)> {
        let mut v: Vec<(u64, f64)> = self
            .results
            .iter()
            .filter(|r| r.strategy == strategy)
            .filter_map(|r| Some((r.seed, *r.metrics.get(key)?)))
            .collect();
        v.sort_by_key(|(seed, _)| *seed);
        v
    }

    /// `results.json`: per strategy and metric the mean, std, values and their seeds; then the
    /// failed and the missing runs.
    pub fn to_json(&self) -> Value {
        let mut root = serde_json::Map::new();
        for strategy in &self.strategies {
            let metrics: serde_json::Map<String, Value> = METRIC_KEYS
                .iter()
                .map(|&key| {
                    let pairs = self.values(strategy, key);
                    let values: Vec<f64> = pairs.iter().map(|p| p.1).collect();
                    let seeds: Vec<u64> = pairs.iter().map(|p| p.0).collect();
                    let (mean, std) = mean_std(&values);
                    let entry = json!({"mean": mean, "std": std, "values": values, "seeds": seeds});
                    (key.to_string(), entry)
                })
                .collect();
            root.insert(strategy.clone(), Value::Object(metrics));
        }
        let failed: Vec<Value> = self
            .failed
            .iter()
            .map(|f| {
                json!({"strategy": f.strategy, "seed": f.seed, "step": f.step,
                       "reason": f.reason, "dir": f.dir.display().to_string()})
            })
            .collect();
        let missing: Vec<Value> = self
            .missing
            .iter()
            .map(|m| json!({"strategy": m.strategy, "seed": m.seed, "dir": m.dir.display().to_string()}))
            .collect();
        root.insert("failed".into(), Value::Array(failed));
        root.insert("missing".into(), Value::Array(missing));
        Value::Object(root)
    }

    /// Table I: one row per strategy, mean ± std in percent over its finished runs.
    pub fn markdown(&self) -> String {
        let rows: Vec<(String, Vec<String>)> = self
            .strategies
            .iter()
            .map(|strategy| {
                let cells = METRIC_KEYS
                    .iter()
                    .map(|key| {
                        let values: Vec<f64> = self
                            .values(strategy, key)
                            .into_iter()
                            .map(|p| p.1)
                            .collect();
                        let (mean, std) = mean_std(&values);
                        format!("{:.1} ± {:.1}", 100.0 * mean, 100.0 * std)
                    })
                    .collect();
                (strategy.clone(), cells)
            })
            .collect();
        table_markdown("strategy", &rows)
    }

    /// Lines about failed and missing runs, for stderr.
    pub fn problems(&self) -> Vec<String> {
        let failed = self.failed.iter().map(|f| {
            let at = f.step.map_or(String::new(), |s| format!(" at step {s}"));
            format!(
                "failed: {} seed {}{at}: {} ({})",
                f.strategy,
                f.seed,
                f.reason,
                f.dir.display()
            )
        });
        let missing = self.missing.iter().map(|m| {
            format!(
                "missing: {} seed {} ({})",
                m.strategy,
                m.seed,
                m.dir.display()
            )
        });
        failed.chain(missing).collect()
    }
}
