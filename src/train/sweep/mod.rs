//! A sweep: every (strategy, seed, fold) run of a `compare`, in a fixed order, each with its own
//! folder, the deterministic slices `--shard K/N` takes of it, and the settings it holds fixed.
//! `compare`, `compare --collect` and the window's Sweep view read a sweep folder through here.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`Sweep`] (sweep.json), [`RunSpec`], [`Shard`] |
//! | `settings.rs` | the settings a sweep holds fixed, and what differs |
//! | `results.rs` | the finished runs' figures, the failed, missing and mixed runs (results.json) |
//! | `paired.rs` | paired differences between two rules, by seed or by fold |
//! | `watch.rs` | a sweep folder read while it grows (the window's Sweep view) |
//! | `curves.rs` | each rule's mean curves with bands over its runs |

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod curves;
pub mod paired;
pub mod results;
pub mod settings;
pub mod watch;

use super::run_folder::RunFolderError;
use settings::{SettingDiff, SweepSettings};

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    pub strategy: String,
    pub seed: u64,
    /// The published fold it trains and is evaluated on (1-based); None for a sweep without
    /// folds (the dataset's default).
    #[serde(default)]
    pub fold: Option<usize>,
    /// The run's folder, relative to the sweep's --out: `strategy/seedS`, or
    /// `strategy/seedS/foldK` in a sweep over folds.
    pub dir: PathBuf,
}

impl RunSpec {
    /// "naive seed 2" or "naive seed 2 fold 3", for messages.
    pub fn label(&self) -> String {
        run_label(&self.strategy, self.seed, self.fold)
    }
}

/// "naive seed 2" or "naive seed 2 fold 3".
pub fn run_label(strategy: &str, seed: u64, fold: Option<usize>) -> String {
    match fold {
        Some(k) => format!("{strategy} seed {seed} fold {k}"),
        None => format!("{strategy} seed {seed}"),
    }
}

/// Everything a sweep is, as written to `sweep.json` beside its runs (so `--collect` knows
/// which runs to expect, whichever shards ran, and what they must have been trained with).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub strategies: Vec<String>,
    pub seeds: u64,
    pub steps: u64,
    /// The published folds swept (1-based, ascending); empty: one run per seed, no fold.
    #[serde(default)]
    pub folds: Vec<usize>,
    pub runs: Vec<RunSpec>,
    /// Every setting that shapes a run, and the version; None in a sweep.json written before
    /// they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SweepSettings>,
}

/// The file a sweep is described in, at the top of its --out.
pub const SWEEP_FILE: &str = "sweep.json";

impl Sweep {
    /// Seed-major, then fold-major order: all strategies of seed 1 fold 1, then of seed 1
    /// fold 2, … (so a (seed, fold) dataset is made once, and the strategies sharing it finish
    /// together and release it).
    pub fn new(strategies: Vec<String>, seeds: u64, steps: u64, folds: Vec<usize>) -> Sweep {
        let fold_slots: Vec<Option<usize>> = if folds.is_empty() {
            vec![None]
        } else {
            folds.iter().copied().map(Some).collect()
        };
        let mut runs = Vec::new();
        for seed in 1..=seeds {
            for &fold in &fold_slots {
                for strategy in &strategies {
                    let mut dir = Path::new(strategy).join(format!("seed{seed}"));
                    if let Some(k) = fold {
                        dir.push(format!("fold{k}"));
                    }
                    runs.push(RunSpec {
                        strategy: strategy.clone(),
                        seed,
                        fold,
                        dir,
                    });
                }
            }
        }
        Sweep {
            strategies,
            seeds,
            steps,
            folds,
            runs,
            settings: None,
        }
    }

    /// What differs in `other`: the runs it is made of (strategies, seeds, steps, folds), then
    /// every recorded setting. Settings one of them does not record are not compared.
    pub fn differences(&self, other: &Sweep) -> Vec<SettingDiff> {
        let plain: [(&str, String, String); 4] = [
            (
                "strategies",
                shown(&self.strategies),
                shown(&other.strategies),
            ),
            ("seeds", shown(&self.seeds), shown(&other.seeds)),
            ("steps", shown(&self.steps), shown(&other.steps)),
            ("folds", shown(&self.folds), shown(&other.folds)),
        ];
        let mut out: Vec<SettingDiff> = plain
            .into_iter()
            .filter(|(_, mine, theirs)| mine != theirs)
            .map(|(name, mine, theirs)| SettingDiff::new(name, mine, theirs))
            .collect();
        if let (Some(mine), Some(theirs)) = (&self.settings, &other.settings) {
            // Another `steps` is named above; its max_steps would say it again.
            let steps_named = self.steps != other.steps;
            out.extend(
                mine.differences(theirs)
                    .into_iter()
                    .filter(|d| !(steps_named && d.name == "max_steps")),
            );
        }
        out
    }

    /// The runs of shard `k` of `n` (1-based): every n-th run starting at the k-th, so each
    /// shard gets a mix of strategies and seeds and the shards together are the sweep.
    pub fn shard(&self, shard: Shard) -> Vec<RunSpec> {
        self.runs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % shard.count == shard.index - 1)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// `--shard K/N`: the K-th (1-based) of N slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage =
            "expected K/N with 1 ≤ K ≤ N, e.g. 3/10 (Slurm: --shard $SLURM_ARRAY_TASK_ID/N)";
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("'{text}': {usage}"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{text}': {usage}"))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if index == 0 || count == 0 || index > count {
            return Err(format!("'{text}': {usage}"));
        }
        Ok(Shard { index, count })
    }
}

/// Read a sweep.json.
pub fn read_sweep(path: &Path) -> Result<Sweep, RunFolderError> {
    super::run_folder::read_json(path, "a cari-mtl sweep.json")
}

/// A value shown in a difference, as JSON text.
fn shown<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("unshowable ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_sweep_in_a_fixed_order() {
        let sweep = Sweep::new(vec!["proposed".into(), "naive".into()], 3, 10, vec![]);
        assert_eq!(sweep.runs.len(), 6);
        assert_eq!(sweep.runs[1].dir, Path::new("naive").join("seed1"));
        let mut all: Vec<RunSpec> = (1..=4)
            .flat_map(|k| sweep.shard(Shard { index: k, count: 4 }))
            .collect();
        assert_eq!(all.len(), 6);
        all.sort_by_key(|r| (r.seed, r.strategy.clone()));
        let mut expected = sweep.runs.clone();
        expected.sort_by_key(|r| (r.seed, r.strategy.clone()));
        assert_eq!(all, expected, "every run once");
        assert_eq!(sweep.shard(Shard { index: 2, count: 4 }).len(), 2);
        assert_eq!(sweep.shard(Shard::WHOLE), sweep.runs);
    }

    #[test]
    fn folds_add_a_level_of_runs_and_folders() {
        let sweep = Sweep::new(vec!["proposed".into(), "naive".into()], 2, 10, vec![1, 3]);
        assert_eq!(sweep.runs.len(), 8);
        let first: Vec<String> = sweep.runs[..4].iter().map(RunSpec::label).collect();
        assert_eq!(
            first,
            [
                "proposed seed 1 fold 1",
                "naive seed 1 fold 1",
                "proposed seed 1 fold 3",
                "naive seed 1 fold 3"
            ]
        );
        assert_eq!(sweep.runs[3].dir, Path::new("naive/seed1/fold3"));
        // A sweep.json written before folds existed still reads, without folds.
        let old = r#"{"strategies":["naive"],"seeds":1,"steps":5,
            "runs":[{"strategy":"naive","seed":1,"dir":"naive/seed1"}]}"#;
        let read: Sweep = serde_json::from_str(old).unwrap();
        assert_eq!(read, Sweep::new(vec!["naive".into()], 1, 5, vec![]));
    }

    #[test]
    fn two_sweeps_name_what_differs() {
        let config = crate::train::config::TrainConfig::default();
        let mut other = config.clone();
        other.rates.lr = 0.01;
        let mut a = Sweep::new(vec!["proposed".into()], 3, 10, vec![]);
        a.settings = Some(SweepSettings::of([("proposed", &config)]));
        let mut b = Sweep::new(vec!["proposed".into()], 5, 10, vec![]);
        b.settings = Some(SweepSettings::of([("proposed", &other)]));
        let names: Vec<String> = a.differences(&b).into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["seeds", "lr"]);
        assert!(a.differences(&a).is_empty());
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(
            "3/10".parse::<Shard>(),
            Ok(Shard {
                index: 3,
                count: 10
            })
        );
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("K/N"), "{bad}");
        }
    }
}
