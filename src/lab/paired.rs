//! The window's A − B paired by seed: the kept runs of earlier Resets and the live pair, each
//! seed's A and B compared at the same step, one row per pair of rules. A pair is known by its
//! seed **and** both rules, so a second pair of rules trained on a seed joins its own row instead
//! of replacing the first pair's.

use std::collections::BTreeMap;

use super::run::{EvalPoint, KeptRun, RunSlot, slot_name};
use crate::eval::METRIC_KEYS;
use crate::eval::paired::{PairedDiff, paired_diff};

/// One row of the paired differences: run A's rule against run B's, over the seeds that ran
/// both, each compared at `step`.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedRow {
    /// "A proposed − B naive".
    pub label: String,
    pub step: u64,
    pub seeds: Vec<u64>,
    /// A − B per metric, in `METRIC_KEYS` order.
    pub diffs: Vec<PairedDiff>,
}

/// A and B of one seed, both evaluated.
struct SeedPair<'a> {
    seed: u64,
    strategies: [String; 2],
    evals: [&'a [EvalPoint]; 2],
}

/// What a pair is known by: its seed and its two rules (A's, B's).
type PairKey = (u64, [String; 2]);

/// The pairs where A and B both have evaluations: kept pairs (a later Reset on the same seed
/// with the same two rules replaces an earlier one) and the live runs (newest of all).
fn seed_pairs<'a>(
    runs: &'a [RunSlot; 2],
    kept: &'a [KeptRun],
    live_seed: u64,
) -> Vec<SeedPair<'a>> {
    let mut by_generation: BTreeMap<u64, [Option<&'a KeptRun>; 2]> = BTreeMap::new();
    for run in kept {
        if let Some(side) = by_generation
            .entry(run.generation)
            .or_default()
            .get_mut(run.slot)
        {
            *side = Some(run);
        }
    }
    let mut by_key: BTreeMap<PairKey, SeedPair<'a>> = BTreeMap::new();
    for pair in by_generation.into_values() {
        if let [Some(a), Some(b)] = pair
            && a.seed == b.seed
        {
            let strategies = [a.strategy.clone(), b.strategy.clone()];
            by_key.insert(
                (a.seed, strategies.clone()),
                SeedPair {
                    seed: a.seed,
                    strategies,
                    evals: [&a.evals, &b.evals],
                },
            );
        }
    }
    if runs.iter().all(|r| !r.evals.is_empty()) {
        let strategies = [runs[0].strategy_label(), runs[1].strategy_label()];
        by_key.insert(
            (live_seed, strategies.clone()),
            SeedPair {
                seed: live_seed,
                strategies,
                evals: [&runs[0].evals, &runs[1].evals],
            },
        );
    }
    by_key.into_values().collect()
}

/// A − B by seed, one row per pair of rules, each seed compared at the last step that every
/// seed of the row evaluated on both runs (so no seed is ahead by more training).
pub fn paired_rows(runs: &[RunSlot; 2], kept: &[KeptRun], live_seed: u64) -> Vec<PairedRow> {
    let mut groups: BTreeMap<[String; 2], Vec<SeedPair>> = BTreeMap::new();
    for pair in seed_pairs(runs, kept, live_seed) {
        groups
            .entry(pair.strategies.clone())
            .or_default()
            .push(pair);
    }
    groups
        .into_iter()
        .filter_map(|(strategies, pairs)| paired_row(&strategies, &pairs))
        .collect()
}

fn paired_row(strategies: &[String; 2], pairs: &[SeedPair]) -> Option<PairedRow> {
    fn at(evals: &[EvalPoint], step: u64) -> Option<&EvalPoint> {
        evals.iter().rev().find(|p| p.step == step)
    }
    let last_common = |pair: &SeedPair| {
        pair.evals[0]
            .iter()
            .rev()
            .map(|p| p.step)
            .find(|&step| at(pair.evals[1], step).is_some())
    };
    let step = pairs.iter().filter_map(last_common).min()?;
    let compared: Vec<(u64, &EvalPoint, &EvalPoint)> = pairs
        .iter()
        .filter_map(|pair| {
            Some((
                pair.seed,
                at(pair.evals[0], step)?,
                at(pair.evals[1], step)?,
            ))
        })
        .collect();
    let diffs = METRIC_KEYS
        .iter()
        .map(|key| {
            let d: Vec<f64> = compared
                .iter()
                .filter_map(|(_, a, b)| Some(a.summary.get(*key)? - b.summary.get(*key)?))
                .filter(|d| d.is_finite())
                .collect();
            paired_diff(&d)
        })
        .collect();
    Some(PairedRow {
        label: format!(
            "{} {} − {} {}",
            slot_name(0),
            strategies[0],
            slot_name(1),
            strategies[1]
        ),
        step,
        seeds: compared.iter().map(|(seed, _, _)| *seed).collect(),
        diffs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evals(points: &[(u64, f64)]) -> Vec<EvalPoint> {
        points
            .iter()
            .map(|&(step, cari)| EvalPoint {
                step,
                summary: BTreeMap::from([("cari_id_top1".to_string(), cari)]),
            })
            .collect()
    }

    fn kept(
        slot: usize,
        strategy: &str,
        seed: u64,
        generation: u64,
        points: &[(u64, f64)],
    ) -> KeptRun {
        KeptRun {
            slot,
            strategy: strategy.into(),
            seed,
            generation,
            evals: evals(points),
        }
    }

    fn cari() -> usize {
        METRIC_KEYS
            .iter()
            .position(|k| *k == "cari_id_top1")
            .expect("cari-id is a metric")
    }

    #[test]
    fn kept_runs_pair_by_seed_at_the_last_step_every_seed_reached() {
        let runs = [RunSlot::new("A", 0.6), RunSlot::new("B", 0.6)];
        let kept = [
            // Seed 1, replaced below by a later Reset on seed 1 with the same rules.
            kept(0, "proposed", 1, 0, &[(100, 0.50), (200, 0.60)]),
            kept(1, "naive", 1, 0, &[(100, 0.40), (200, 0.50)]),
            // Seed 2 ran to step 300; compared at 200, the last step seed 1 reached.
            kept(
                0,
                "proposed",
                2,
                1,
                &[(100, 0.55), (200, 0.70), (300, 0.80)],
            ),
            kept(1, "naive", 2, 1, &[(100, 0.50), (200, 0.60), (300, 0.65)]),
            kept(0, "proposed", 1, 2, &[(100, 0.52), (200, 0.62)]),
            kept(1, "naive", 1, 2, &[(100, 0.42), (200, 0.47)]),
            // B never evaluated: no pair.
            kept(0, "proposed", 3, 3, &[(100, 0.9)]),
            // Other rules: a row of their own.
            kept(0, "naive", 4, 4, &[(50, 0.30)]),
            kept(1, "proposed", 4, 4, &[(50, 0.45)]),
        ];
        let rows = paired_rows(&runs, &kept, 9);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let row = rows
            .iter()
            .find(|r| r.label == "A proposed − B naive")
            .expect("the proposed − naive row");
        assert_eq!((row.step, row.seeds.clone()), (200, vec![1, 2]));
        // from scipy.stats import t; import statistics, math
        // d = [0.62 - 0.47, 0.70 - 0.60]; m = sum(d) / 2
        // h = t.ppf(0.975, 1) * statistics.stdev(d) / math.sqrt(2); print(m, m - h, m + h)
        // → 0.125 -0.19265511840436766 0.44265511840436766
        let d = row.diffs[cari()];
        let (low, high) = d.interval.expect("two seeds give an interval");
        assert_eq!(d.n, 2);
        assert!((d.mean_diff - 0.125).abs() < 1e-12, "{d:?}");
        assert!((low + 0.19265511840436766).abs() < 1e-9, "{low}");
        assert!((high - 0.44265511840436766).abs() < 1e-9, "{high}");
        let other = rows
            .iter()
            .find(|r| r.label == "A naive − B proposed")
            .expect("the naive − proposed row");
        assert_eq!(other.diffs[cari()].n, 1);
        assert!((other.diffs[cari()].mean_diff + 0.15).abs() < 1e-12);
        assert_eq!(other.diffs[0].n, 0, "no verification figure, no difference");
    }

    #[test]
    fn a_second_pair_of_rules_on_the_same_seed_keeps_the_first() {
        let runs = [RunSlot::new("A", 0.6), RunSlot::new("B", 0.6)];
        let kept = [
            kept(0, "proposed", 1, 0, &[(100, 0.60)]),
            kept(1, "naive", 1, 0, &[(100, 0.50)]),
            // Seed 1 again, other rules: both pairs stay.
            kept(0, "proposed", 1, 1, &[(100, 0.61)]),
            kept(1, "equal", 1, 1, &[(100, 0.41)]),
        ];
        let rows = paired_rows(&runs, &kept, 9);
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            ["A proposed − B equal", "A proposed − B naive"],
            "{rows:?}"
        );
        assert!((rows[0].diffs[cari()].mean_diff - 0.20).abs() < 1e-12);
        assert!((rows[1].diffs[cari()].mean_diff - 0.10).abs() < 1e-12);
        assert!(rows.iter().all(|r| r.seeds == [1]));
    }
}
