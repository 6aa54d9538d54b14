//! Paired differences: proposed against naive and against each single-task run, paired by seed
//! (or, over folds, by fold), with a 95 % t interval on n − 1 degrees of freedom. Runs that share
//! a seed share their data, initial weights and batches, so the paired difference removes what
//! the seed alone decides and asks only whether the rule changes the figure.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::results::Collected;
use crate::eval::METRIC_KEYS;

/// One metric's paired difference (first − second), in the metric's own units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedDiff {
    pub mean_diff: f64,
    /// The 95 % interval; None with fewer than two pairs (no spread to estimate).
    pub interval: Option<(f64, f64)>,
    /// Pairs (seeds, or folds) that both runs finished.
    pub n: usize,
}

/// Two-sided 95 % quantiles of Student's t for 1..=30 degrees of freedom
/// (`scipy.stats.t.ppf(0.975, df)`).
const T_975: [f64; 30] = [
    12.706204736,
    4.302652730,
    3.182446305,
    2.776445105,
    2.570581836,
    2.446911851,
    2.364624252,
    2.306004135,
    2.262157163,
    2.228138852,
    2.200985160,
    2.178812830,
    2.160368656,
    2.144786688,
    2.131449546,
    2.119905299,
    2.109815578,
    2.100922040,
    2.093024054,
    2.085963447,
    2.079613845,
    2.073873068,
    2.068657610,
    2.063898562,
    2.059538553,
    2.055529439,
    2.051830516,
    2.048407142,
    2.045229642,
    2.042272456,
];

/// The t quantile for `df` degrees of freedom; past 30 the value at the nearest tabled df
/// below (40, 60, 120), which errs on the wide side.
fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T_975[df - 1],
        31..=59 => 2.021075390,
        60..=119 => 2.000297822,
        _ => 1.979930405,
    }
}

/// Mean and 95 % t interval of paired differences.
pub fn paired_diff(diffs: &[f64]) -> PairedDiff {
    let n = diffs.len();
    if n == 0 {
        return PairedDiff {
            mean_diff: f64::NAN,
            interval: None,
            n,
        };
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let interval = (n >= 2).then(|| {
        let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t_975(n - 1) * (var / n as f64).sqrt();
        (mean - half, mean + half)
    });
    PairedDiff {
        mean_diff: mean,
        interval,
        n,
    }
}

/// The comparisons made: proposed against naive and each single-task run of the sweep.
pub fn comparisons(strategies: &[String]) -> Vec<(String, String)> {
    if !strategies.iter().any(|s| s == "proposed") {
        return Vec::new();
    }
    strategies
        .iter()
        .filter(|s| *s == "naive" || s.starts_with("single-"))
        .map(|other| ("proposed".to_string(), other.clone()))
        .collect()
}

/// Each pair's value for a strategy: by seed, or over folds by fold (its seeds averaged).
fn paired_values(c: &Collected, strategy: &str, key: &str) -> BTreeMap<(usize, u64), f64> {
    if c.folds.is_empty() {
        c.values(strategy, key)
            .into_iter()
            .map(|(seed, _, value)| ((0, seed), value))
            .collect()
    } else {
        c.fold_means(strategy, key)
            .into_iter()
            .map(|(fold, value)| ((fold, 0), value))
            .collect()
    }
}

/// The difference first − second for one metric, over the pairs both finished.
pub fn compare(c: &Collected, first: &str, second: &str, key: &str) -> PairedDiff {
    let a = paired_values(c, first, key);
    let b = paired_values(c, second, key);
    let diffs: Vec<f64> = a
        .iter()
        .filter_map(|(pair, x)| Some(x - b.get(pair)?))
        .collect();
    paired_diff(&diffs)
}

/// `results.json`'s `"paired"`: `{"proposed_vs_naive": {"cari_id_top1": {"mean_diff",
/// "ci_low", "ci_high", "n"}}}`; the interval is null with fewer than two pairs.
pub fn to_json(c: &Collected) -> Value {
    let mut root = serde_json::Map::new();
    for (first, second) in comparisons(&c.strategies) {
        let metrics: serde_json::Map<String, Value> = METRIC_KEYS
            .iter()
            .map(|&key| {
                let d = compare(c, &first, &second, key);
                let (low, high) = d.interval.unzip();
                let entry = json!({"mean_diff": finite(d.mean_diff), "ci_low": low,
                                   "ci_high": high, "n": d.n});
                (key.to_string(), entry)
            })
            .collect();
        root.insert(format!("{first}_vs_{second}"), Value::Object(metrics));
    }
    Value::Object(root)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// One cell of the paired table: "+1.2 [−0.5, +2.9]" in percentage points.
pub fn cell(d: &PairedDiff) -> String {
    if d.n == 0 {
        return "–".into();
    }
    let pp = |x: f64| format!("{:+.1}", 100.0 * x);
    match d.interval {
        Some((low, high)) => format!("{} [{}, {}]", pp(d.mean_diff), pp(low), pp(high)),
        None => format!("{} (n = 1)", pp(d.mean_diff)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::compare::results::RunResult;

    #[test]
    fn the_interval_matches_scipy() {
        // import statistics, math; from scipy.stats import t
        // d = [0.10, 0.30, 0.20, 0.25, 0.05]; m = sum(d) / 5
        // h = t.ppf(0.975, 4) * statistics.stdev(d) / math.sqrt(5); print(m - h, m + h)
        // → 0.05126153660354618 0.30873846339645383
        let d = paired_diff(&[0.10, 0.30, 0.20, 0.25, 0.05]);
        let (low, high) = d.interval.unwrap();
        assert!((d.mean_diff - 0.18).abs() < 1e-12);
        assert!((low - 0.05126153660354618).abs() < 1e-9, "{low}");
        assert!((high - 0.30873846339645383).abs() < 1e-9, "{high}");
        assert_eq!(d.n, 5);
        assert_eq!(paired_diff(&[0.2]).interval, None);
    }

    fn run(strategy: &str, seed: u64, cari: f64) -> RunResult {
        RunResult {
            strategy: strategy.into(),
            seed,
            fold: None,
            metrics: BTreeMap::from([("cari_id_top1".to_string(), cari)]),
        }
    }

    #[test]
    fn runs_are_paired_by_seed_and_unpaired_ones_left_out() {
        // proposed − naive by seed: 0.05, 0.10 (seed 3 has no naive run).
        let c = Collected {
            strategies: vec!["proposed".into(), "naive".into(), "single-cari".into()],
            seeds: 3,
            results: vec![
                run("proposed", 1, 0.45),
                run("proposed", 2, 0.50),
                run("proposed", 3, 0.90),
                run("naive", 2, 0.40),
                run("naive", 1, 0.40),
            ],
            ..Collected::default()
        };
        let d = compare(&c, "proposed", "naive", "cari_id_top1");
        assert_eq!(d.n, 2);
        assert!((d.mean_diff - 0.075).abs() < 1e-12);
        let j = to_json(&c);
        assert_eq!(j["proposed_vs_naive"]["cari_id_top1"]["n"], 2);
        assert_eq!(j["proposed_vs_single-cari"]["cari_id_top1"]["n"], 0);
        assert!(j["proposed_vs_single-cari"]["cari_id_top1"]["ci_low"].is_null());
        assert_eq!(
            comparisons(&["naive".to_string()]),
            Vec::<(String, String)>::new()
        );
    }
}
