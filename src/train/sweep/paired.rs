//! Paired differences: proposed against naive and against each single-task run, paired by seed
//! (or, over folds, by fold), with a 95 % t interval on n − 1 degrees of freedom. Runs that share
//! a seed share their data, initial weights and batches, so the paired difference removes what
//! the seed alone decides and asks only whether the rule changes the figure.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::results::Collected;
use crate::eval::METRIC_KEYS;
pub use crate::eval::paired::{PairedDiff, cell, paired_diff};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::sweep::results::cari_only_run as run;

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
