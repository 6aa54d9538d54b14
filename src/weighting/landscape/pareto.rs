//! Pareto stationarity and the toy's Pareto set.
//!
//! A point is Pareto-stationary when some convex combination of the task
//! gradients vanishes; for two tasks that means the gradients are
//! anti-parallel or one of them is zero. The CAGrad paper draws the set as
//! the segment y = −8.3552, −7 ≤ x ≤ 7; the true set is a slightly bent curve
//! (y ≈ −8.3552 at x = 0, ≈ −8.43 at x = ±7), computed here numerically.
//! A positive loss factor does not move the set, so it is computed once for
//! the unscaled toy.

use std::sync::OnceLock;

use super::functions::{Variant, gradients};

/// Left end of the Pareto set: the minimiser of f2 lies at x = −7.
pub const PARETO_X_MIN: f64 = -7.0;
/// Right end of the Pareto set: the minimiser of f1 lies at x = 7.
pub const PARETO_X_MAX: f64 = 7.0;
/// Spacing of the x grid of the cached polyline (1,401 vertices). The chord
/// error of straight segments at this spacing is about 4e-8 (tested < 5e-8),
/// far below Adam's step of ~1e-3, so finer sampling would buy nothing.
pub const PARETO_X_STEP: f64 = 0.01;

/// Window scanned for the Pareto y at a given x; the set lies within
/// [−8.45, −8.35], and the window is wide enough to catch any other root.
const SCAN_Y_RANGE: (f64, f64) = (-11.0, -6.0);
/// Scan step of the bracketing pass.
const SCAN_Y_STEP: f64 = 0.01;
/// Bisection stops when the bracket is this narrow.
const ROOT_Y_TOLERANCE: f64 = 1e-12;
/// A root of the cross product counts as Pareto-stationary only if the
/// min-norm combination vanishes there (this rejects parallel gradients).
const STATIONARY_TOLERANCE: f64 = 1e-9;

fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

/// Weight λ on `g1` minimising ‖λ g1 + (1 − λ) g2‖ over λ ∈ [0, 1]: the
/// closed-form two-task MGDA / min-norm solution. Equal gradients give 0.5.
pub fn min_norm_weight(g1: [f64; 2], g2: [f64; 2]) -> f64 {
    let diff = [g1[0] - g2[0], g1[1] - g2[1]];
    let diff_sq = dot(diff, diff);
    if diff_sq == 0.0 {
        return 0.5;
    }
    // Stationary point of the quadratic in λ: λ = g2·(g2 − g1) / ‖g1 − g2‖².
    (-dot(g2, diff) / diff_sq).clamp(0.0, 1.0)
}

/// min over λ ∈ [0, 1] of ‖λ g1 + (1 − λ) g2‖ for two given gradients.
pub fn min_norm(g1: [f64; 2], g2: [f64; 2]) -> f64 {
    let weight = min_norm_weight(g1, g2);
    let combined = [0, 1].map(|k| weight * g1[k] + (1.0 - weight) * g2[k]);
    dot(combined, combined).sqrt()
}

/// Pareto-stationarity measure at θ: zero exactly on Pareto-stationary
/// points. Uses the variant's (possibly scaled) gradients, so its magnitude
/// depends on the variant even though its zero set does not.
pub fn stationarity(theta: [f64; 2], variant: Variant) -> f64 {
    let [g1, g2] = gradients(theta, variant);
    min_norm(g1, g2)
}

/// 2D cross product g1 × g2 of the unscaled gradients at (x, y); it changes
/// sign where the gradients turn (anti-)parallel.
fn gradient_cross(x: f64, y: f64) -> f64 {
    let [g1, g2] = gradients([x, y], Variant::Cagrad);
    g1[0] * g2[1] - g1[1] * g2[0]
}

/// Bisects a sign change of `gradient_cross(x, ·)` in `[low, high]`.
fn bisect_cross(x: f64, mut low: f64, mut high: f64) -> f64 {
    let mut low_sign = gradient_cross(x, low).signum();
    while high - low > ROOT_Y_TOLERANCE {
        let mid = 0.5 * (low + high);
        if mid <= low || mid >= high {
            break;
        }
        let mid_sign = gradient_cross(x, mid).signum();
        if mid_sign == low_sign {
            low = mid;
            low_sign = mid_sign;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// Every y in the scan window where the gradients at (x, y) are
/// anti-parallel or one is zero (Pareto-stationary), ascending.
///
/// Scans the window in steps of 0.01 for sign changes (or exact zeros) of the
/// cross product, refines each by bisection to 1e-12, and keeps only the
/// roots where the min-norm combination vanishes.
pub fn pareto_ys(x: f64) -> Vec<f64> {
    let steps = ((SCAN_Y_RANGE.1 - SCAN_Y_RANGE.0) / SCAN_Y_STEP).round() as usize;
    let mut roots = Vec::new();
    let mut low = SCAN_Y_RANGE.0;
    let mut low_cross = gradient_cross(x, low);
    for index in 1..=steps {
        let high = SCAN_Y_RANGE.0 + index as f64 * SCAN_Y_STEP;
        let high_cross = gradient_cross(x, high);
        let root = if low_cross == 0.0 {
            Some(low)
        } else if low_cross.signum() != high_cross.signum() && high_cross != 0.0 {
            Some(bisect_cross(x, low, high))
        } else {
            None
        };
        if let Some(y) =
            root.filter(|&y| stationarity([x, y], Variant::Cagrad) < STATIONARY_TOLERANCE)
        {
            roots.push(y);
        }
        low = high;
        low_cross = high_cross;
    }
    roots
}

/// The Pareto y at x: the first Pareto-stationary root in the scan window,
/// or `None` outside the set (|x| > 7 has none).
pub fn pareto_y(x: f64) -> Option<f64> {
    pareto_ys(x).first().copied()
}

/// The Pareto set as a polyline of (x, y) vertices at x = −7, −6.99, …, 7,
/// computed once (about 0.1 s) and cached.
pub fn pareto_set() -> &'static [[f64; 2]] {
    static POLYLINE: OnceLock<Vec<[f64; 2]>> = OnceLock::new();
    POLYLINE.get_or_init(|| {
        let count = ((PARETO_X_MAX - PARETO_X_MIN) / PARETO_X_STEP).round() as usize;
        (0..=count)
            .filter_map(|index| {
                let x = PARETO_X_MIN + index as f64 * PARETO_X_STEP;
                pareto_y(x).map(|y| [x, y])
            })
            .collect()
    })
}

/// Euclidean distance from `point` to the segment `a`–`b`.
fn distance_to_segment(point: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let along = [b[0] - a[0], b[1] - a[1]];
    let offset = [point[0] - a[0], point[1] - a[1]];
    let length_sq = dot(along, along);
    let t = if length_sq > 0.0 {
        (dot(offset, along) / length_sq).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let gap = [offset[0] - t * along[0], offset[1] - t * along[1]];
    dot(gap, gap).sqrt()
}

/// Euclidean distance from θ to the Pareto set, measured to the cached
/// polyline of [`pareto_set`]: vertices every 0.01 in x on [−7, 7], exact
/// distance to each straight segment between them, so the result is within
/// 5e-8 of the distance to the true curve.
pub fn pareto_distance(theta: [f64; 2]) -> f64 {
    pareto_set()
        .windows(2)
        .map(|pair| distance_to_segment(theta, pair[0], pair[1]))
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::super::reference::PARETO;
    use super::*;

    #[test]
    fn pareto_y_matches_torch_bisection() {
        for [x, want] in PARETO {
            let got = pareto_y(x).expect("x in [-7, 7] must have a Pareto point");
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "x={x}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn pareto_set_is_near_the_papers_segment() {
        let at_center = pareto_y(0.0).expect("center");
        let near_left_end = pareto_y(-6.99).expect("left end");
        assert!((at_center - -8.3552).abs() < 2e-4, "{at_center}");
        assert!((near_left_end - -8.43).abs() < 1e-2, "{near_left_end}");
        assert!(stationarity([0.0, at_center], Variant::Cagrad) < 1e-9);
        assert!(stationarity([-6.99, near_left_end], Variant::Cagrad) < 1e-9);
    }

    #[test]
    fn every_vertex_is_stationary_and_unique_in_its_column() {
        let polyline = pareto_set();
        assert_eq!(polyline.len(), 1401);
        for &[x, y] in polyline {
            assert!(stationarity([x, y], Variant::Cagrad) < 1e-9, "({x}, {y})");
            assert!(
                stationarity([x, y], Variant::NASH_FAMO) < 1e-9,
                "scaled ({x}, {y})"
            );
        }
        for x in [-7.0, -6.5, -3.3, 0.0, 2.2, 6.999, 7.0] {
            assert_eq!(pareto_ys(x).len(), 1, "x={x}");
        }
    }

    #[test]
    fn no_pareto_points_beyond_the_two_minimisers() {
        for x in [-9.0, -7.05, 7.05, 9.0] {
            assert_eq!(pareto_y(x), None, "x={x}");
        }
    }

    #[test]
    fn polyline_chord_error_is_below_5e8() {
        let polyline = pareto_set();
        let worst = polyline
            .windows(2)
            .step_by(10)
            .filter_map(|pair| {
                let mid_x = 0.5 * (pair[0][0] + pair[1][0]);
                pareto_y(mid_x).map(|y| pareto_distance([mid_x, y]))
            })
            .fold(0.0, f64::max);
        println!("worst chord error at sampled midpoints: {worst:e}");
        assert!(worst < 5e-8, "{worst}");
    }

    #[test]
    fn pareto_distance_of_known_points() {
        let center_y = pareto_y(0.0).expect("center");
        assert!(pareto_distance([0.0, center_y]) < 1e-12);
        assert!((pareto_distance([0.0, 0.0]) - center_y.abs()).abs() < 1e-9);
        let [left_x, left_y] = pareto_set()[0];
        assert!((pareto_distance([left_x - 3.0, left_y]) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn min_norm_weight_beats_a_brute_force_scan() {
        let cases = [
            ([1.0, 0.0], [-1.0, 0.0]),
            ([1.0, 2.0], [3.0, -1.0]),
            ([1.0, 1.0], [2.0, 2.0]),
            ([0.3, -0.2], [0.3, -0.2]),
        ];
        for (g1, g2) in cases {
            let scanned = (0..=10_000)
                .map(|i| {
                    let w = f64::from(i) / 10_000.0;
                    let c = [w * g1[0] + (1.0 - w) * g2[0], w * g1[1] + (1.0 - w) * g2[1]];
                    (c[0] * c[0] + c[1] * c[1]).sqrt()
                })
                .fold(f64::INFINITY, f64::min);
            assert!(min_norm(g1, g2) <= scanned + 1e-12, "{g1:?} {g2:?}");
        }
        assert_eq!(min_norm([1.0, 0.0], [-1.0, 0.0]), 0.0);
        assert_eq!(min_norm_weight([1.0, 1.0], [2.0, 2.0]), 1.0);
    }
}
