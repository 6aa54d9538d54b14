//! Paired differences with a 95 % t interval on n − 1 degrees of freedom: `compare` pairs its
//! runs by seed (or fold), the window its kept A and B runs by seed. Runs that share a seed share
//! their data, initial weights and batches, so the paired difference removes what the seed alone
//! decides and asks only whether the rule changes the figure.

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
