//! Test-only: the gradient matrices G of bench/aggregate_reference.py and the
//! comparison helpers every rule's reference test uses.
//!
//! Deviation measure: ‖d − d_ref‖₂ / ‖d_ref‖₂, or ‖d‖₂ / max_i ‖g_i‖₂ when the
//! reference direction is exactly 0 (the script prints exact zeros only where d is
//! mathematically 0). Each test prints `MAXDEV <rule> <value>`; collect them with
//! `cargo test --release -- --nocapture 2>/dev/null | grep MAXDEV`.
//!
//! Regenerate: `python3 bench/aggregate_reference.py --write-rust` (needs the
//! packages listed at the top of that script), then `cargo test --release`.

use super::gram::direction;

// BEGIN GENERATED cases (bench/aggregate_reference.py --write-rust)
/// Gradient matrices (rows g_i) of the reference cases.
#[rustfmt::skip]
pub const CASES: &[(&str, &[&[f64]])] = &[
    ("conflict3", &[&[1.0, 2.0, -0.5, 0.3], &[-1.5, 0.4, 1.0, -0.2], &[0.3, -1.2, -0.8, 1.1]]),
    ("aligned3", &[&[1.0, 0.5, 0.2, 0.1], &[0.8, 1.0, 0.0, 0.3], &[0.6, 0.4, 0.9, 0.2]]),
    ("collinear3", &[&[1.0, -0.5, 0.25], &[-0.7, 0.9, 0.4], &[2.0, -1.0, 0.5]]),
    ("identical3", &[&[0.5, 1.0, -0.3], &[0.5, 1.0, -0.3], &[-0.9, 0.2, 0.6]]),
    ("unequal3", &[&[3e-07, 9e-07, -3e-07, 1e-07], &[-0.5, 0.2, 0.8, 0.1], &[700.0, -400.0, 100.0, 600.0]]),
    ("zero_row3", &[&[1.0, -0.4, 0.3], &[0.0, 0.0, 0.0], &[-0.6, 0.8, 0.5]]),
    ("d1_mixed", &[&[2.0], &[-1.0], &[3.0]]),
    ("d1_aligned", &[&[1.0], &[2.0], &[4.0]]),
    ("conflict2", &[&[1.0, 0.2, -0.4], &[-0.6, 0.9, 0.3]]),
    ("opposite2", &[&[1.0, -2.0, 0.5], &[-1.0, 2.0, -0.5]]),
    ("all_zero3", &[&[0.0, 0.0, 0.0], &[0.0, 0.0, 0.0], &[0.0, 0.0, 0.0]]),
    ("rank2_t3", &[&[1.0, 0.3], &[-0.4, 1.0], &[0.8, -0.5]]),
    ("cone_edge3", &[&[1.0, 0.0], &[-1.0, 0.0], &[0.0, 1.0]]),
    ("t4", &[&[0.9, -0.3, 0.5, 1.2, -0.7, 0.1], &[-0.4, 1.1, -0.6, 0.2, 0.8, -0.5], &[0.3, 0.6, 1.0, -0.9, -0.2, 0.7], &[-1.0, -0.2, 0.4, 0.5, 0.9, 0.3]]),
];
// END GENERATED cases

/// The rows of a named case as owned vectors.
pub fn rows_of(name: &str) -> Vec<Vec<f64>> {
    let Some((_, rows)) = CASES.iter().find(|(case, _)| *case == name) else {
        panic!("unknown reference case {name}");
    };
    rows.iter().map(|row| row.to_vec()).collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Deviation of d = Σ λ_i g_i from the reference direction (see module docs).
pub fn check_direction(rows: &[Vec<f64>], lambda: &[f64], expected: &[f64]) -> f64 {
    assert!(
        lambda.iter().all(|l| l.is_finite()),
        "non-finite coefficients {lambda:?}"
    );
    let d = direction(rows, lambda);
    let difference: Vec<f64> = d.iter().zip(expected).map(|(a, b)| a - b).collect();
    let reference_norm = norm(expected);
    if reference_norm > 0.0 {
        return norm(&difference) / reference_norm;
    }
    let scale = rows.iter().map(|r| norm(r)).fold(0.0, f64::max);
    if scale > 0.0 {
        norm(&d) / scale
    } else {
        norm(&d)
    }
}

/// Prints the line the deviation table is built from.
pub fn report_deviation(rule: &str, worst: f64) {
    println!("MAXDEV {rule} {worst:.3e}");
}

/// Largest |a_i − b_i| / max(|b_i|, 1e-300).
pub fn max_abs_relative(actual: &[f64], expected: &[f64]) -> f64 {
    actual
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-300))
        .fold(0.0, f64::max)
}

/// Runs a rule on every reference case, asserts each deviation ≤ `tolerance`,
/// prints and returns the largest.
pub fn check_against_reference(
    rule: &str,
    reference: &[(&str, &[f64])],
    tolerance: f64,
    mut coefficients: impl FnMut(&[Vec<f64>]) -> Vec<f64>,
) -> f64 {
    let mut worst = 0.0_f64;
    for (name, expected) in reference {
        let rows = rows_of(name);
        let deviation = check_direction(&rows, &coefficients(&rows), expected);
        println!("DEV {rule} {name} {deviation:.3e}");
        worst = worst.max(deviation);
    }
    report_deviation(rule, worst);
    assert!(
        worst <= tolerance,
        "{rule}: deviation {worst:e} above {tolerance:e}"
    );
    worst
}

/// Every reference case's direction lies in the dual cone {v : Gv ≥ 0}, up to
/// −1e-9 · max_j ‖g_j‖² (UPGrad's and DualProj's defining property).
pub fn assert_directions_in_dual_cone(
    reference: &[(&str, &[f64])],
    coefficients: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) {
    for (name, _) in reference {
        let rows = rows_of(name);
        let d = direction(&rows, &coefficients(&rows));
        let scale = rows
            .iter()
            .map(|g| super::gram::dot(g, g))
            .fold(0.0, f64::max);
        for g in &rows {
            let along = super::gram::dot(g, &d);
            assert!(along >= -1e-9 * scale, "{name}: g·d = {along}");
        }
    }
}
