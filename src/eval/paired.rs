//! Paired differences with a 95 % t interval on n − 1 degrees of freedom: `compare` pairs its
//! runs by seed (or fold), the window its kept A and B runs by seed. Runs that share a seed share
//! their data, initial weights and batches, so the paired difference removes what the seed alone
//! decides and asks only whether the rule changes the figure.

use super::stats::{mean_sd, t_975};

/// One metric's paired difference (first − second), in the metric's own units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedDiff {
    pub mean_diff: f64,
    /// The 95 % interval; None with fewer than two pairs (no spread to estimate).
    pub interval: Option<(f64, f64)>,
    /// Pairs (seeds, or folds) that both runs finished.
    pub n: usize,
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
    let (mean, sd) = mean_sd(diffs);
    let interval = (n >= 2).then(|| {
        let half = t_975(n - 1) * sd / (n as f64).sqrt();
        (mean - half, mean + half)
    });
    PairedDiff {
        mean_diff: mean,
        interval,
        n,
    }
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
}
