//! Medians of timings, for `bench`, `bench --reference` and `bench --roofline`.

use anyhow::Result;

/// The median of `values` (the upper one of an even count), or 0 for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The median of `repeats` values of `timed` (each a duration in seconds it measured itself),
/// after `warmups` untimed calls.
pub fn median_of(
    warmups: usize,
    repeats: usize,
    mut timed: impl FnMut() -> Result<f64>,
) -> Result<f64> {
    for _ in 0..warmups {
        timed()?;
    }
    let mut values = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        values.push(timed()?);
    }
    Ok(median(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle_value_and_the_upper_of_two() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(Vec::new()), 0.0);
        let mut calls = 0;
        let got = median_of(2, 3, || {
            calls += 1;
            Ok(f64::from(calls))
        });
        assert_eq!(
            (got.ok(), calls),
            (Some(4.0), 5),
            "the two warm-ups are not counted"
        );
    }
}
