//! A sweep's curves over seeds: per rule, the mean over its runs of each quantity against the
//! step, with a band (a 95 % t interval, ± sd or min–max: `eval::stats`), thinned to a few
//! hundred points for drawing. The weights and losses are first averaged within buckets of
//! steps, each run on its own, and the band is taken over the runs' bucket means: it shows how
//! far the seeds' curves stray from each other, not the noise of single steps.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Sweep;
use super::results::Collected;
use super::watch::{EvalRow, RunState, SERIES, StepSeries, SweepWatch};
use crate::eval::METRIC_KEYS;
use crate::eval::stats::{BandKind, banded};

/// Points per curve at most (about one per column of a wide plot).
pub const CURVE_POINTS: usize = 300;

/// A mean curve and its band.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve {
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    /// The band, where it exists (two runs or more; one for min–max).
    pub band_x: Vec<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
    /// Runs at the curve's last point.
    pub n_last: usize,
}

impl Curve {
    fn push(&mut self, x: f64, values: &[f64], kind: BandKind) {
        let b = banded(values, kind);
        if b.n == 0 {
            return;
        }
        self.x.push(x);
        self.mean.push(b.mean);
        if let Some((low, high)) = b.band {
            self.band_x.push(x);
            self.low.push(low);
            self.high.push(high);
        }
        self.n_last = b.n;
    }
}

/// One rule's curves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleCurves {
    pub rule: String,
    /// w_verif, w_visual, w_cari, L_verif, L_visual, L_cari ([`StepSeries`]' order).
    pub series: Vec<Curve>,
    /// One per metric of `METRIC_KEYS`, from the runs' evaluations.
    pub metrics: Vec<Curve>,
}

/// The width of a bucket of steps: about `CURVE_POINTS` buckets over `max_step`, and a whole
/// number of the coarsest run's blocks (so no kept row straddles two buckets).
fn bucket_width(max_step: u64, max_block: u64) -> u64 {
    let wanted = max_step.div_ceil(CURVE_POINTS as u64).max(1);
    let block = max_block.max(1);
    wanted.div_ceil(block) * block
}

/// A run's mean step and mean quantities within one bucket of steps.
type BucketMean = (f64, [f64; SERIES]);

/// The weights' and losses' curves over `runs`.
fn series_curves(runs: &[&StepSeries], kind: BandKind) -> Vec<Curve> {
    let mut curves = vec![Curve::default(); SERIES];
    let max_step = runs.iter().map(|s| s.last_step()).max().unwrap_or(0);
    if max_step == 0 {
        return curves;
    }
    let width = bucket_width(max_step, runs.iter().map(|s| s.block()).max().unwrap_or(1));
    let buckets = max_step.div_ceil(width) as usize;
    // Per run and bucket: the sums of each quantity and of the steps, and the row count.
    let mut means: Vec<Vec<Option<BucketMean>>> = Vec::with_capacity(runs.len());
    for series in runs {
        let mut sums = vec![(0.0, [0.0; SERIES], 0usize); buckets];
        for (i, &step) in series.steps.iter().enumerate() {
            let b = ((step.max(1) - 1) / width) as usize;
            let Some(slot) = sums.get_mut(b) else {
                continue;
            };
            slot.0 += step as f64;
            for (q, column) in series.values.iter().enumerate() {
                slot.1[q] += f64::from(column[i]);
            }
            slot.2 += 1;
        }
        means.push(
            sums.into_iter()
                .map(|(steps, values, n)| {
                    (n > 0).then(|| (steps / n as f64, values.map(|v| v / n as f64)))
                })
                .collect(),
        );
    }
    let mut values = Vec::with_capacity(runs.len());
    for b in 0..buckets {
        let present: Vec<&BucketMean> = means.iter().filter_map(|run| run[b].as_ref()).collect();
        if present.is_empty() {
            continue;
        }
        let x = present.iter().map(|p| p.0).sum::<f64>() / present.len() as f64;
        for (q, curve) in curves.iter_mut().enumerate() {
            values.clear();
            values.extend(present.iter().map(|p| p.1[q]));
            curve.push(x, &values, kind);
        }
    }
    curves
}

/// The metrics' curves over `runs`: at each evaluated step, over the runs evaluated there.
fn metric_curves(runs: &[&[EvalRow]], kind: BandKind) -> Vec<Curve> {
    let mut by_step: BTreeMap<u64, Vec<&EvalRow>> = BTreeMap::new();
    for evals in runs {
        for row in evals.iter() {
            by_step.entry(row.step).or_default().push(row);
        }
    }
    let mut curves = vec![Curve::default(); METRIC_KEYS.len()];
    let mut values = Vec::new();
    for (step, rows) in &by_step {
        for (k, curve) in curves.iter_mut().enumerate() {
            values.clear();
            values.extend(rows.iter().map(|r| r.metrics[k]));
            curve.push(*step as f64, &values, kind);
        }
    }
    curves
}

/// A run as the Sweep view lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLine {
    pub label: String,
    pub strategy: String,
    pub seed: u64,
    pub fold: Option<usize>,
    pub folder: PathBuf,
    pub state: RunState,
    pub last_step: u64,
}

/// Everything the Sweep view shows, made on the reading thread and handed over whole.
#[derive(Clone, Debug, Default)]
pub struct SweepSnapshot {
    pub dir: PathBuf,
    pub sweep: Option<Sweep>,
    pub runs: Vec<RunLine>,
    /// The finished runs' figures, as `compare --collect` would find them now.
    pub collected: Collected,
    /// Per band kind (in `BandKind::ALL` order), per rule (in the sweep's order).
    pub curves: Vec<Vec<RuleCurves>>,
    /// (finished, running, failed, missing) runs.
    pub counts: (usize, usize, usize, usize),
}

impl SweepSnapshot {
    /// The curves of one band kind.
    pub fn curves(&self, kind: BandKind) -> &[RuleCurves] {
        let i = BandKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        self.curves.get(i).map_or(&[], Vec::as_slice)
    }
}

/// What the Sweep view shows of the sweep as read so far.
pub fn snapshot(watch: &SweepWatch) -> SweepSnapshot {
    let sweep = &watch.sweep;
    let curves = BandKind::ALL
        .iter()
        .map(|&kind| {
            sweep
                .strategies
                .iter()
                .map(|rule| {
                    let runs: Vec<_> = watch
                        .runs
                        .iter()
                        .filter(|r| &r.spec.strategy == rule)
                        .collect();
                    let series: Vec<&StepSeries> = runs
                        .iter()
                        .map(|r| &r.series)
                        .filter(|s| !s.is_empty())
                        .collect();
                    let evals: Vec<&[EvalRow]> = runs.iter().map(|r| r.evals.as_slice()).collect();
                    RuleCurves {
                        rule: rule.clone(),
                        series: series_curves(&series, kind),
                        metrics: metric_curves(&evals, kind),
                    }
                })
                .collect()
        })
        .collect();
    let runs = watch
        .runs
        .iter()
        .map(|r| RunLine {
            label: r.spec.label(),
            strategy: r.spec.strategy.clone(),
            seed: r.spec.seed,
            fold: r.spec.fold,
            folder: r.folder.clone(),
            state: r.state.clone(),
            last_step: r.series.last_step(),
        })
        .collect();
    SweepSnapshot {
        dir: watch.dir.clone(),
        sweep: Some(sweep.clone()),
        runs,
        collected: watch.collected(),
        curves,
        counts: watch.counts(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(rows: &[(u64, f32)]) -> StepSeries {
        let mut s = StepSeries::default();
        for &(step, w) in rows {
            s.push(step, [w, 0.0, 0.0, 1.0, 1.0, 1.0]);
        }
        s
    }

    #[test]
    fn each_bucket_is_a_band_over_the_runs_bucket_means() {
        // Two runs of 600 steps: width 2 → 300 buckets; bucket 0 holds steps 1 and 2.
        let a = series(&(1..=600).map(|s| (s, 0.2)).collect::<Vec<_>>());
        let b = series(&(1..=600).map(|s| (s, 0.4)).collect::<Vec<_>>());
        let curves = series_curves(&[&a, &b], BandKind::MinMax);
        let w = &curves[0];
        assert_eq!(w.x.len(), 300);
        assert_eq!(w.x[0], 1.5, "the buckets' mean step");
        assert!((w.mean[0] - 0.3).abs() < 1e-6);
        assert!((w.low[0] - 0.2).abs() < 1e-6 && (w.high[0] - 0.4).abs() < 1e-6);
        assert_eq!(w.n_last, 2);
        // A run that is behind leaves the later buckets to the other: one run, no t band.
        let short = series(&(1..=300).map(|s| (s, 0.4)).collect::<Vec<_>>());
        let t = &series_curves(&[&a, &short], BandKind::TInterval95)[0];
        assert_eq!(t.x.len(), 300);
        assert_eq!(t.band_x.len(), 150, "a band only where both runs are");
        assert_eq!(t.n_last, 1);
    }

    #[test]
    fn metric_curves_band_over_the_runs_evaluated_at_each_step() {
        let row = |step, acc| {
            let mut metrics = [f64::NAN; METRIC_KEYS.len()];
            metrics[0] = acc;
            EvalRow { step, metrics }
        };
        let a = [row(50, 0.6), row(100, 0.7)];
        let b = [row(50, 0.8)];
        let curves = metric_curves(&[&a, &b], BandKind::Sd);
        let acc = &curves[0];
        assert_eq!(acc.x, [50.0, 100.0]);
        assert!((acc.mean[0] - 0.7).abs() < 1e-12 && (acc.mean[1] - 0.7).abs() < 1e-12);
        assert_eq!(acc.band_x, [50.0], "one run at step 100: no sd");
        assert!(
            curves[1].x.is_empty(),
            "a metric never evaluated has no curve"
        );
    }
}
