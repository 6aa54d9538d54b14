//! A sweep's results, read back from its run folders: the figures of every finished run, the
//! runs that failed (and why, at which step) and those that are missing. An unsharded compare
//! and `--collect` over its shards build `results.json` the same way, from the same files.
//!
//! Without folds a figure is mean ± sd over seeds. Over folds it is mean ± sd over folds, as
//! the paper's tables report the ten WebCaricature folds: with several seeds, the seeds of each
//! fold are averaged first, so every fold counts once and the spread is the folds' alone. The
//! sd is the sample sd (n − 1), with n beside it.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::settings::{
    PROGRAM_VERSION, SettingDiff, SweepSettings, VERSION_KEY, describe, run_settings,
};
use super::{RunSpec, Sweep, run_label};
use crate::eval::stats::delta_m;
use crate::eval::{METRIC_KEYS, higher_is_better, mean_sd, metric_task, table_markdown};
use crate::train::config::TrainConfig;
use crate::train::run_folder::{CONFIG_FILE, INCOMPLETE_FILE, SUMMARY_FILE, read_json};

/// A finished run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub strategy: String,
    pub seed: u64,
    pub fold: Option<usize>,
    pub metrics: BTreeMap<String, f64>,
}

/// A run that did not give figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub strategy: String,
    pub seed: u64,
    pub fold: Option<usize>,
    pub dir: PathBuf,
    /// The step it failed at, when known.
    pub step: Option<u64>,
    pub reason: String,
}

/// A run trained with other settings than its sweep's.
#[derive(Clone, Debug, PartialEq)]
pub struct MixedRun {
    pub run: RunSpec,
    pub dir: PathBuf,
    pub diffs: Vec<SettingDiff>,
}

#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub strategies: Vec<String>,
    pub seeds: u64,
    /// The sweep's folds; empty for a sweep without folds.
    pub folds: Vec<usize>,
    pub steps: u64,
    /// The settings the runs were checked against: sweep.json's, or, for a sweep.json that
    /// records none, the first run of each strategy's.
    pub settings: Option<SweepSettings>,
    pub results: Vec<RunResult>,
    pub failed: Vec<Failure>,
    /// Runs with no folder in any of the places looked at.
    pub missing: Vec<RunSpec>,
    /// Finished runs (among `results`) trained with other settings than the sweep's.
    pub mixed: Vec<MixedRun>,
}

/// Read every run of `sweep` from the first of `roots` that holds its folder.
pub fn collect(sweep: &Sweep, roots: &[PathBuf]) -> Collected {
    let mut out = Collected {
        strategies: sweep.strategies.clone(),
        seeds: sweep.seeds,
        folds: sweep.folds.clone(),
        steps: sweep.steps,
        settings: sweep.settings.clone(),
        ..Collected::default()
    };
    for run in &sweep.runs {
        let Some(dir) = roots.iter().map(|r| r.join(&run.dir)).find(|d| d.is_dir()) else {
            out.missing.push(run.clone());
            continue;
        };
        out.add(run, &dir, read_run(run, &dir));
    }
    out
}

/// A run folder read back: its settings (and the version that wrote it, when recorded), then
/// its figures or (step, why not).
#[derive(Clone, Debug)]
pub struct ReadRun {
    pub settings: Option<(BTreeMap<String, Value>, Option<String>)>,
    pub figures: Result<RunResult, (Option<u64>, String)>,
}

impl Collected {
    /// Take one run's outcome: its figures (checked against the sweep's settings) or its
    /// failure.
    pub fn add(&mut self, run: &RunSpec, dir: &Path, read: ReadRun) {
        match read.figures {
            Ok(result) => {
                if let Some((settings, version)) = &read.settings {
                    let diffs = self.check(run, settings, version.as_deref());
                    if !diffs.is_empty() {
                        self.mixed.push(MixedRun {
                            run: run.clone(),
                            dir: dir.to_path_buf(),
                            diffs,
                        });
                    }
                }
                self.results.push(result);
            }
            Err((step, reason)) => self.failed.push(Failure {
                strategy: run.strategy.clone(),
                seed: run.seed,
                fold: run.fold,
                dir: dir.to_path_buf(),
                step,
                reason,
            }),
        }
    }

    /// What differs between a run's settings and the sweep's. A sweep that records none takes
    /// the first run of each strategy as its reference, so runs are still checked against
    /// each other.
    fn check(
        &mut self,
        run: &RunSpec,
        settings: &BTreeMap<String, Value>,
        version: Option<&str>,
    ) -> Vec<SettingDiff> {
        let reference = self.settings.get_or_insert_with(|| SweepSettings {
            version: version.unwrap_or("unknown").to_string(),
            runs: BTreeMap::new(),
        });
        let expected = reference
            .runs
            .entry(run.strategy.clone())
            .or_insert_with(|| settings.clone());
        let mut diffs = super::settings::differences(expected, settings);
        if let Some(version) = version
            && version != reference.version
        {
            diffs.insert(0, SettingDiff::new("version", &reference.version, version));
        }
        diffs
    }
}

/// One run folder's settings and figures.
pub fn read_run(run: &RunSpec, dir: &Path) -> ReadRun {
    let config_path = dir.join(CONFIG_FILE);
    let config: Result<Value, _> = read_json(&config_path, "a run's config.json");
    let settings = config.as_ref().ok().and_then(|raw| {
        let typed: TrainConfig = serde_json::from_value(raw.clone()).ok()?;
        let version = raw[VERSION_KEY].as_str().map(String::from);
        Some((run_settings(&typed), version))
    });
    ReadRun {
        settings,
        figures: read_figures(run, dir),
    }
}

/// One run folder's figures, or (step, why not).
fn read_figures(run: &RunSpec, dir: &Path) -> Result<RunResult, (Option<u64>, String)> {
    let config: TrainConfig = read_json(&dir.join(CONFIG_FILE), "a run's config.json")
        .map_err(|e| (None, e.to_string()))?;
    let strategy = config.strategy.strategy.key();
    if strategy != run.strategy || config.seed != run.seed || config.data.fold != run.fold {
        return Err((
            None,
            format!(
                "config.json is for {}, expected {}",
                run_label(strategy, config.seed, config.data.fold),
                run.label()
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
        fold: run.fold,
        metrics,
    })
}

impl Collected {
    /// A metric's values over the finished runs of a strategy: (seed, fold, value), by fold
    /// then seed.
    pub fn values(&self, strategy: &str, key: &str) -> Vec<(u64, Option<usize>, f64)> {
        let mut v: Vec<(u64, Option<usize>, f64)> = self
            .results
            .iter()
            .filter(|r| r.strategy == strategy)
            .filter_map(|r| Some((r.seed, r.fold, *r.metrics.get(key)?)))
            .collect();
        v.sort_by_key(|&(seed, fold, _)| (fold, seed));
        v
    }

    /// Each fold's value: the mean of its seeds' (folds without a finished run left out).
    pub fn fold_means(&self, strategy: &str, key: &str) -> BTreeMap<usize, f64> {
        let mut by_fold: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for (_, fold, value) in self.values(strategy, key) {
            if let Some(k) = fold {
                by_fold.entry(k).or_default().push(value);
            }
        }
        by_fold
            .into_iter()
            .map(|(k, values)| (k, mean_sd(&values).0))
            .collect()
    }

    /// What a figure's mean and sd are taken over: the seeds' values, or the folds' means.
    pub fn summarised(&self, strategy: &str, key: &str) -> Vec<f64> {
        if self.folds.is_empty() {
            self.values(strategy, key)
                .into_iter()
                .map(|v| v.2)
                .collect()
        } else {
            self.fold_means(strategy, key).into_values().collect()
        }
    }

    /// Δm of `strategy` against the sweep's single-task runs, in percent, over the metrics
    /// whose task's single-task run is in the sweep (and how many); None for a single-task
    /// run or a sweep without any.
    pub fn delta_m(&self, strategy: &str) -> Option<(f64, usize)> {
        if strategy.starts_with("single-") {
            return None;
        }
        let items: Vec<(f64, f64, bool)> = METRIC_KEYS
            .iter()
            .filter_map(|key| {
                let single = format!("single-{}", metric_task(key)?.key());
                if !self.strategies.contains(&single) {
                    return None;
                }
                let rule = mean_sd(&self.summarised(strategy, key)).0;
                let baseline = mean_sd(&self.summarised(&single, key)).0;
                Some((rule, baseline, higher_is_better(key)))
            })
            .collect();
        delta_m(&items)
    }

    /// "3 seeds", or "10 folds (the 3 seeds of each fold averaged first)".
    pub fn over(&self) -> String {
        let plural = |n: u64, what: &str| {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        };
        if self.folds.is_empty() {
            return plural(self.seeds, "seed");
        }
        let folds = plural(self.folds.len() as u64, "fold");
        if self.seeds > 1 {
            format!(
                "{folds} (the {} seeds of each fold averaged first)",
                self.seeds
            )
        } else {
            folds
        }
    }

    /// `results.json`: per strategy and metric the mean, the sample sd (n − 1) and n, the values
    /// and their seeds (and, over folds, each value's fold and each fold's mean); then the failed
    /// and the missing runs.
    pub fn to_json(&self) -> Value {
        let mut root = serde_json::Map::new();
        for strategy in &self.strategies {
            let metrics: serde_json::Map<String, Value> = METRIC_KEYS
                .iter()
                .map(|&key| (key.to_string(), self.metric_json(strategy, key)))
                .collect();
            root.insert(strategy.clone(), Value::Object(metrics));
        }
        let failed: Vec<Value> = self
            .failed
            .iter()
            .map(|f| {
                let mut entry = json!({"strategy": f.strategy, "seed": f.seed, "step": f.step,
                       "reason": f.reason, "dir": f.dir.display().to_string()});
                if let Some(k) = f.fold {
                    entry["fold"] = json!(k);
                }
                entry
            })
            .collect();
        let missing: Vec<Value> = self
            .missing
            .iter()
            .map(|m| {
                let mut entry = json!({"strategy": m.strategy, "seed": m.seed, "dir": m.dir.display().to_string()});
                if let Some(k) = m.fold {
                    entry["fold"] = json!(k);
                }
                entry
            })
            .collect();
        root.insert("failed".into(), Value::Array(failed));
        root.insert("missing".into(), Value::Array(missing));
        if !self.mixed.is_empty() {
            root.insert("mixed".into(), self.mixed_json());
        }
        let delta_m: serde_json::Map<String, Value> = self
            .strategies
            .iter()
            .filter_map(|s| {
                let (value, metrics) = self.delta_m(s)?;
                Some((s.clone(), json!({"percent": value, "metrics": metrics})))
            })
            .collect();
        if !delta_m.is_empty() {
            root.insert("delta_m".into(), Value::Object(delta_m));
        }
        root.insert("sweep".into(), self.sweep_json());
        Value::Object(root)
    }

    /// What the results were made from: the sweep's runs and settings (with the version that
    /// started it), and the version that collected them.
    fn sweep_json(&self) -> Value {
        json!({
            "strategies": self.strategies,
            "seeds": self.seeds,
            "steps": self.steps,
            "folds": self.folds,
            "settings": self.settings,
            "collected_by_version": PROGRAM_VERSION,
        })
    }

    /// `results.json`'s `mixed`: each run trained with other settings, and what differs.
    fn mixed_json(&self) -> Value {
        let runs: Vec<Value> = self
            .mixed
            .iter()
            .map(|m| {
                let mut entry = json!({"strategy": m.run.strategy, "seed": m.run.seed,
                       "dir": m.dir.display().to_string(), "settings": m.diffs});
                if let Some(k) = m.run.fold {
                    entry["fold"] = json!(k);
                }
                entry
            })
            .collect();
        Value::Array(runs)
    }

    /// The runs trained with other settings, one line each: "proposed seed 2 (DIR): lr (--lr):
    /// 0.001 in the sweep, 0.01 in the run".
    pub fn mixed_lines(&self) -> Vec<String> {
        self.mixed
            .iter()
            .map(|m| {
                format!(
                    "{} ({}): {}",
                    m.run.label(),
                    m.dir.display(),
                    describe(&m.diffs, "in the run")
                )
            })
            .collect()
    }

    fn metric_json(&self, strategy: &str, key: &str) -> Value {
        let runs = self.values(strategy, key);
        let values: Vec<f64> = runs.iter().map(|r| r.2).collect();
        let seeds: Vec<u64> = runs.iter().map(|r| r.0).collect();
        let summarised = self.summarised(strategy, key);
        let (mean, sd) = mean_sd(&summarised);
        let mut entry = json!({"mean": finite(mean), "sd": finite(sd), "n": summarised.len(),
                               "values": values, "seeds": seeds});
        if !self.folds.is_empty() {
            let folds: Vec<Option<usize>> = runs.iter().map(|r| r.1).collect();
            let fold_means: serde_json::Map<String, Value> = self
                .fold_means(strategy, key)
                .into_iter()
                .map(|(k, m)| (k.to_string(), json!(m)))
                .collect();
            entry["folds"] = json!(folds);
            entry["fold_means"] = Value::Object(fold_means);
            entry["over"] = json!("folds");
        }
        entry
    }

    /// Table I: one row per strategy, mean ± sample sd in percent with n beside the name (and
    /// beside a cell whose n differs), under a line saying over what.
    pub fn markdown(&self) -> String {
        let rows: Vec<(String, Vec<String>)> = self
            .strategies
            .iter()
            .map(|strategy| {
                let columns: Vec<Vec<f64>> = METRIC_KEYS
                    .iter()
                    .map(|key| self.summarised(strategy, key))
                    .collect();
                let n = columns.iter().map(Vec::len).max().unwrap_or(0);
                let cells = columns
                    .iter()
                    .map(|values| {
                        let cell = mean_sd_cell(values);
                        if values.len() == n {
                            cell
                        } else {
                            format!("{cell} (n = {})", values.len())
                        }
                    })
                    .collect();
                (format!("{strategy} (n = {n})"), cells)
            })
            .collect();
        format!(
            "Mean ± sample sd (percent; n − 1 in the sd) over {}.\n\n{}",
            self.over(),
            table_markdown("strategy", &rows)
        )
    }

    /// Lines about failed and missing runs, for stderr.
    pub fn problems(&self) -> Vec<String> {
        let failed = self.failed.iter().map(|f| {
            let at = f.step.map_or(String::new(), |s| format!(" at step {s}"));
            format!(
                "failed: {}{at}: {} ({})",
                run_label(&f.strategy, f.seed, f.fold),
                f.reason,
                f.dir.display()
            )
        });
        let missing = self
            .missing
            .iter()
            .map(|m| format!("missing: {} ({})", m.label(), m.dir.display()));
        failed.chain(missing).collect()
    }
}

/// "41.7 ± 3.3" in percent; "41.7 ± –" for one value, "–" for none.
pub fn mean_sd_cell(values: &[f64]) -> String {
    let (mean, sd) = mean_sd(values);
    let pct = |x: f64| {
        if x.is_finite() {
            format!("{:.1}", 100.0 * x)
        } else {
            "–".into()
        }
    };
    if values.is_empty() {
        return "–".into();
    }
    format!("{} ± {}", pct(mean), pct(sd))
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A run with cari-id only, for the tests of the sweep's readers (here and in `lab::sweep`).
#[cfg(test)]
pub(crate) fn cari_only_run(strategy: &str, seed: u64, cari: f64) -> RunResult {
    RunResult {
        strategy: strategy.into(),
        seed,
        fold: None,
        metrics: std::collections::BTreeMap::from([("cari_id_top1".to_string(), cari)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seed: u64, fold: usize, acc: f64) -> RunResult {
        RunResult {
            strategy: "proposed".into(),
            seed,
            fold: Some(fold),
            metrics: BTreeMap::from([("verif_acc".to_string(), acc)]),
        }
    }

    #[test]
    fn over_folds_the_seeds_of_a_fold_are_averaged_first() {
        // Fold 1: seeds 0.6 and 0.8 → 0.7; fold 3: one seed at 0.9 (the other failed).
        let c = Collected {
            strategies: vec!["proposed".into()],
            seeds: 2,
            folds: vec![1, 3],
            results: vec![result(1, 1, 0.6), result(2, 1, 0.8), result(1, 3, 0.9)],
            ..Collected::default()
        };
        let means = c.fold_means("proposed", "verif_acc");
        assert!((means[&1] - 0.7).abs() < 1e-12 && (means[&3] - 0.9).abs() < 1e-12);
        let j = c.to_json();
        let acc = &j["proposed"]["verif_acc"];
        assert!((acc["mean"].as_f64().unwrap() - 0.8).abs() < 1e-12, "{acc}");
        // The sample sd of the fold means 0.7 and 0.9: 0.1·√2.
        let sd = acc["sd"].as_f64().unwrap();
        assert!((sd - 0.1 * 2f64.sqrt()).abs() < 1e-12, "{acc}");
        assert_eq!(acc["n"], 2);
        assert_eq!(acc["folds"], json!([1, 1, 3]));
        assert_eq!(acc["seeds"], json!([1, 2, 1]));
        assert_eq!(acc["over"], "folds");
        let table = c.markdown();
        assert!(
            table.starts_with(
                "Mean ± sample sd (percent; n − 1 in the sd) over 2 folds (the 2 seeds of each fold averaged first)."
            ),
            "{table}"
        );
        assert!(
            table.contains("| proposed (n = 2) |") && table.contains("| 80.0 ± 14.1 |"),
            "{table}"
        );
    }
}
