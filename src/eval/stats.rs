//! Statistics over seeds and folds: mean and **sample** standard deviation (n − 1, as papers and
//! the t intervals use), Student's t quantiles, the bands a sweep's curves are drawn with, and
//! Δm, the field's one-number summary of a multi-task rule against single-task runs.

/// Mean and sample standard deviation (divisor n − 1). The mean is NaN for an empty list; the
/// sd is NaN for fewer than two values (one value has no spread to estimate).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
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
pub fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T_975[df - 1],
        31..=59 => 2.021075390,
        60..=119 => 2.000297822,
        _ => 1.979930405,
    }
}

/// What a band around a mean curve shows.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum BandKind {
    /// The 95 % t interval of the mean (n − 1 degrees of freedom): where the mean over seeds
    /// would fall again.
    #[default]
    TInterval95,
    /// Mean ± one sample sd: how far one seed strays.
    Sd,
    /// The lowest and highest seed.
    MinMax,
}

impl BandKind {
    pub const ALL: [BandKind; 3] = [BandKind::TInterval95, BandKind::Sd, BandKind::MinMax];

    pub fn label(self) -> &'static str {
        match self {
            BandKind::TInterval95 => "95 % t interval",
            BandKind::Sd => "± sd",
            BandKind::MinMax => "min–max",
        }
    }
}

/// A mean and the band around it, over `n` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Banded {
    pub mean: f64,
    /// (low, high); None where the band needs two values and there is one.
    pub band: Option<(f64, f64)>,
    pub n: usize,
}

/// The mean of `values` and its band of `kind` (NaN values left out).
pub fn banded(values: &[f64], kind: BandKind) -> Banded {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    let (mean, sd) = mean_sd(&finite);
    let band = match kind {
        BandKind::MinMax if n >= 1 => {
            let low = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let high = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some((low, high))
        }
        BandKind::Sd if n >= 2 => Some((mean - sd, mean + sd)),
        BandKind::TInterval95 if n >= 2 => {
            let half = t_975(n - 1) * sd / (n as f64).sqrt();
            Some((mean - half, mean + half))
        }
        _ => None,
    };
    Banded { mean, band, n }
}

/// Δm (LibMTL's definition, Maninis et al. 2019): the mean over metrics of the signed relative
/// change of a multi-task rule's figure against the single-task baseline's, in percent,
///
/// ```text
/// Δm = 100 · (1/K) Σ_k (−1)^{l_k} (M_k − B_k) / B_k,   l_k = 1 where lower is better
/// ```
///
/// Each item is (the rule's figure, the baseline's, whether higher is better); items with a
/// non-finite figure or a zero baseline are left out. None when no item is left.
pub fn delta_m(items: &[(f64, f64, bool)]) -> Option<(f64, usize)> {
    let terms: Vec<f64> = items
        .iter()
        .filter(|(m, b, _)| m.is_finite() && b.is_finite() && *b != 0.0)
        .map(|&(m, b, higher_is_better)| {
            let sign = if higher_is_better { 1.0 } else { -1.0 };
            sign * (m - b) / b
        })
        .collect();
    if terms.is_empty() {
        return None;
    }
    let k = terms.len();
    Some((100.0 * terms.iter().sum::<f64>() / k as f64, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sd_is_the_sample_sd() {
        // statistics.stdev([0.30, 0.35, 0.41, 0.38, 0.33]) → 0.04277849927241487
        let (mean, sd) = mean_sd(&[0.30, 0.35, 0.41, 0.38, 0.33]);
        assert!((mean - 0.354).abs() < 1e-12);
        assert!((sd - 0.04277849927241487).abs() < 1e-12, "{sd}");
        let (one, none) = mean_sd(&[0.5]);
        assert_eq!(one, 0.5);
        assert!(none.is_nan(), "one value has no sd");
        assert!(mean_sd(&[]).0.is_nan());
    }

    #[test]
    fn bands_of_each_kind() {
        // from scipy.stats import t; import statistics, math
        // v = [0.30, 0.35, 0.41, 0.38, 0.33]; h = t.ppf(0.975, 4) * statistics.stdev(v) / math.sqrt(5)
        // → (0.354 - h, 0.354 + h) = (0.3008834775600405, 0.40711652243995944)
        let v = [0.30, 0.35, 0.41, 0.38, 0.33, f64::NAN];
        let t = banded(&v, BandKind::TInterval95);
        assert_eq!(t.n, 5, "NaN is left out");
        let (low, high) = t.band.unwrap();
        assert!((low - 0.300_883_477_560_040_5).abs() < 1e-8, "{low}");
        assert!((high - 0.407_116_522_439_959_44).abs() < 1e-8, "{high}");
        let sd = banded(&v, BandKind::Sd).band.unwrap();
        assert!((sd.1 - sd.0 - 2.0 * 0.04277849927241487).abs() < 1e-12);
        assert_eq!(banded(&v, BandKind::MinMax).band, Some((0.30, 0.41)));
        assert_eq!(banded(&[0.2], BandKind::TInterval95).band, None);
        assert_eq!(banded(&[0.2], BandKind::MinMax).band, Some((0.2, 0.2)));
    }

    #[test]
    fn delta_m_is_the_mean_signed_relative_change() {
        // +10 % on a higher-is-better metric, and a lower-is-better one up from 2 to 3 (−50 %):
        // Δm = (10 − 50) / 2 = −20 %.
        let (dm, k) = delta_m(&[(0.55, 0.5, true), (3.0, 2.0, false)]).unwrap();
        assert!((dm + 20.0).abs() < 1e-9, "{dm}");
        assert_eq!(k, 2);
        assert_eq!(delta_m(&[(0.5, 0.0, true), (f64::NAN, 1.0, true)]), None);
    }
}
