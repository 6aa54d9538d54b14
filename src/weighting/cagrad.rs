//! CAGrad (Liu et al. 2021, "Conflict-Averse Gradient Descent for Multi-task
//! Learning"): g0 = (1/T) Σ g_i, φ = c ‖g0‖,
//! w = argmin_{w ≥ 0, Σw = 1} F(w) = g_wᵀ g0 + φ ‖g_w‖ (g_w = Σ w_i g_i),
//! d = (g0 + φ / ‖g_w‖ · g_w) / (1 + c²)   (LibMTL's `rescale = 1`).
//! So λ = (1/T · 1 + φ/‖g_w‖ · w) / (1 + c²). Everything comes from K:
//! g_wᵀg0 = wᵀb with b = K 1/T, ‖g0‖² = 1ᵀK1/T², ‖g_w‖² = wᵀKw.
//!
//! Exact solve (no SLSQP, no iteration): F is a function of p = g_w ∈ H = conv{g_i}.
//! For p ≠ 0 its optimality conditions are those of the projection
//! p = Proj_H(−r g0) together with ‖p‖ = c r ‖g0‖ (r = ‖p‖/φ > 0): the KKT of
//! min g0ᵀp + φ‖p‖ over H are (g0 + φ p/‖p‖)ᵀ(q − p) ≥ 0 ∀q ∈ H, i.e. the
//! projection condition of −g0/s with s = φ/‖p‖. Any (p, r) satisfying both is a
//! global minimiser (the problem is convex, KKT are sufficient). On a face S with
//! affinely independent vertices the projection is affine in r,
//! w(r) = w0 + r w1, so ‖p(r)‖² = c²r²‖g0‖² is a quadratic in r, solved in closed
//! form. Every face and root is tried; a root inside the simplex whose projection
//! multipliers are non-negative (KKT) is the answer.
//!
//! Choices:
//! * When no such root exists the minimiser is p = 0 (0 ∈ H and every direction
//!   of H makes an angle with g0 no wider than arccos(−c)); then d = g0/(1 + c²),
//!   the limit of LibMTL's `c/(‖g_w‖ + 1e-8) · g_w` (TorchJD returns 0 there).
//! * g0 = 0 or c = 0: d = g0 / (1 + c²) (for c = 0 CAGrad is the plain mean).
//! * If rounding rejects every KKT check, the feasible candidate (face roots,
//!   vertices, min-norm point) with the smallest F is used.
//! * "g_w = 0" means below the resolution of K: ‖g_w‖² < 1e-13 (Σ |w_i| ‖g_i‖)²
//!   (rounding in wᵀKw is ~1e-16 of that for an f64 K). This assumes K accurate to
//!   f64; a K accumulated in f32 resolves g_w only to ~1e-3 of that scale.
//! * No trace normalisation or ε's (TorchJD normalises K by its trace and zeroes
//!   the update below `norm_eps`; both leave exact answers unchanged otherwise).
//!
//! Degenerate inputs: all-zero G → λ = 1/(T(1+c²)), d = 0; a zero row or
//! identical rows are ordinary points of H; unequal norms are handled exactly.
//! c must be finite and ≥ 0 (error otherwise).

use super::gram::{
    Gram, GramError, affine_face_weights, dot, min_norm_hull_weights, nonempty_subsets,
};
use super::combine::{Combiner, GradientRule};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "cagrad",
    description: "Liu et al. 2021 (CAGrad): the update that best improves the worst task within a ball of radius c·‖g0‖ around the mean gradient (c = 0.4, --cagrad-c); implied λ shown",
    needs: Needs::TaskGradients,
    default_scale: None,
    build: |settings, _env| Ok(Box::new(GradientRule(Cagrad { c: settings.cagrad_c }))),
    host: HostSupport::Runs(|setup| Ok(Box::new(GradientRule(Cagrad { c: setup.cagrad_c })))),
    label: Some(|settings| format!("cagrad(c={})", settings.cagrad_c)),
};

/// CAGrad with its c.
pub struct Cagrad {
    pub c: f64,
}

impl Combiner for Cagrad {
    fn coefficients(&mut self, gram: &Gram, _losses: &[f64]) -> Result<Vec<f64>, GramError> {
        coefficients(gram, self.c)
    }
}

/// Paper / LibMTL default conflict-aversion radius (the run's default is
/// `RuleSettings::cagrad_c`, the same 0.4).
#[cfg(test)]
pub const DEFAULT_C: f64 = 0.4;
/// ‖g_w‖² below this fraction of (Σ |w_i| ‖g_i‖)² counts as g_w = 0.
const NEGLIGIBLE_REL_SQ: f64 = 1e-13;

/// One feasible weight vector and the scale φ/‖g_w‖ that turns it into λ.
struct Candidate {
    w: Vec<f64>,
    radius_over_norm: f64,
    objective: f64,
    optimal: bool,
}

/// CAGrad coefficients with conflict-aversion radius `c` (the paper's default is 0.4).
pub fn coefficients(k: &Gram, c: f64) -> Result<Vec<f64>, GramError> {
    if !c.is_finite() || c < 0.0 {
        return Err(GramError::InvalidParameter {
            name: "c",
            value: c,
            reason: "must be finite and ≥ 0",
        });
    }
    let tasks = k.tasks();
    let mean_weights = vec![1.0 / tasks as f64; tasks];
    let b = k.apply(&mean_weights);
    let g0_norm = k.quadratic_form(&mean_weights).sqrt();
    let radius = c * g0_norm;
    let rescale = 1.0 / (1.0 + c * c);
    if radius <= 0.0 {
        return Ok(mean_weights.iter().map(|m| m * rescale).collect());
    }
    let best = best_candidate(k, &b, radius);
    Ok(mean_weights
        .iter()
        .zip(&best.w)
        .map(|(m, w)| (m + best.radius_over_norm * w) * rescale)
        .collect())
}

fn best_candidate(k: &Gram, b: &[f64], radius: f64) -> Candidate {
    let mut candidates = face_root_candidates(k, b, radius);
    candidates.extend(
        (0..k.tasks())
            .map(|i| plain_candidate(k, b, radius, super::gram::unit_vector(k.tasks(), i))),
    );
    candidates.push(plain_candidate(k, b, radius, min_norm_hull_weights(k)));
    let pick = |only_optimal: bool| {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, cand)| cand.optimal || !only_optimal)
            .min_by(|(_, x), (_, y)| x.objective.total_cmp(&y.objective))
            .map(|(index, _)| index)
    };
    let index = pick(true).or_else(|| pick(false)).unwrap_or(0);
    candidates.swap_remove(index)
}

/// F(w) = wᵀb + φ ‖g_w‖ for a feasible w; p ≈ 0 is treated as exactly 0.
fn plain_candidate(k: &Gram, b: &[f64], radius: f64, w: Vec<f64>) -> Candidate {
    let norm = k.quadratic_form(&w).sqrt();
    let negligible = is_below_resolution(k, &w);
    Candidate {
        objective: dot(&w, b) + radius * norm,
        radius_over_norm: if negligible { 0.0 } else { radius / norm },
        w,
        optimal: false,
    }
}

/// Whether g_w = Σ w_i g_i is 0 to the resolution of K: ‖g_w‖² carries rounding
/// of order ε (Σ |w_i| ‖g_i‖)², so below 1e-13 of that its direction is noise.
fn is_below_resolution(k: &Gram, w: &[f64]) -> bool {
    let term_scale: f64 = w
        .iter()
        .enumerate()
        .map(|(i, wi)| wi.abs() * k.norm(i))
        .sum();
    k.quadratic_form(w) <= NEGLIGIBLE_REL_SQ * term_scale * term_scale
}

/// Roots r > 0 of ‖p(r)‖² = c²‖g0‖² r² = φ² r² on every affinely independent face.
fn face_root_candidates(k: &Gram, b: &[f64], radius: f64) -> Vec<Candidate> {
    let tasks = k.tasks();
    let zero_target = vec![0.0; tasks];
    let minus_g0_target: Vec<f64> = b.iter().map(|x| -x).collect();
    let mut candidates = Vec::new();
    for support in nonempty_subsets(tasks) {
        let Some(w0) = affine_face_weights(k, &support, &zero_target) else {
            continue;
        };
        let Some(w_at_one) = affine_face_weights(k, &support, &minus_g0_target) else {
            continue;
        };
        let w1: Vec<f64> = w_at_one.iter().zip(&w0).map(|(a, z)| a - z).collect();
        let k_w0 = k.apply(&w0);
        let k_w1 = k.apply(&w1);
        let quadratic = dot(&w1, &k_w1) - radius * radius;
        // 0 in the face's affine hull: p(0) = 0 exactly, else rounding makes
        // spurious roots r ≈ 0 whose p(r) is noise.
        let (linear, constant) = if is_below_resolution(k, &w0) {
            (0.0, 0.0)
        } else {
            (2.0 * dot(&w0, &k_w1), dot(&w0, &k_w0))
        };
        for r in positive_roots(quadratic, linear, constant) {
            let w: Vec<f64> = w0.iter().zip(&w1).map(|(a, d)| a + r * d).collect();
            if let Some(candidate) = root_candidate(k, b, radius, &support, w, r) {
                candidates.push(candidate);
            }
        }
    }
    candidates
}

/// A face root as a candidate if it lies in the simplex (up to rounding).
fn root_candidate(
    k: &Gram,
    b: &[f64],
    radius: f64,
    support: &[usize],
    w: Vec<f64>,
    r: f64,
) -> Option<Candidate> {
    if w.iter().any(|&x| x < -1e-12) {
        return None;
    }
    let w: Vec<f64> = w.iter().map(|x| x.max(0.0)).collect();
    let total: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|x| x / total).collect();
    let optimal = projection_kkt_holds(k, b, support, &w, r);
    let objective = dot(&w, b) + radius * k.quadratic_form(&w).sqrt();
    Some(Candidate {
        w,
        radius_over_norm: 1.0 / r,
        objective,
        optimal,
    })
}

/// Multipliers of Proj_H(−r g0): (K w + r b)_j ≥ (K w + r b)_S for j outside S,
/// up to the rounding of those sums (relative 1e-10 of their terms' magnitude,
/// ‖g_j‖ (Σ_i |w_i| ‖g_i‖ + r ‖g0‖), so that tiny and huge tasks are judged alike).
fn projection_kkt_holds(k: &Gram, b: &[f64], support: &[usize], w: &[f64], r: f64) -> bool {
    let gradient: Vec<f64> = k
        .apply(w)
        .iter()
        .zip(b)
        .map(|(kw, bi)| kw + r * bi)
        .collect();
    let level = support.iter().map(|&i| gradient[i]).sum::<f64>() / support.len() as f64;
    let g0_norm = b.iter().sum::<f64>().max(0.0).sqrt() / (k.tasks() as f64).sqrt();
    let term_scale: f64 = w
        .iter()
        .enumerate()
        .map(|(i, wi)| wi.abs() * k.norm(i))
        .sum::<f64>()
        + r * g0_norm;
    let support_norm = support.iter().map(|&i| k.norm(i)).fold(0.0, f64::max);
    (0..k.tasks()).all(|j| gradient[j] >= level - 1e-10 * (k.norm(j) + support_norm) * term_scale)
}

/// Positive real roots of a r² + b r + c = 0 (numerically stable form).
fn positive_roots(a: f64, b: f64, c: f64) -> Vec<f64> {
    let scale = a.abs().max(b.abs()).max(c.abs());
    if scale == 0.0 {
        return Vec::new();
    }
    let roots = if a.abs() <= 1e-14 * scale {
        if b == 0.0 { Vec::new() } else { vec![-c / b] }
    } else {
        let discriminant = b * b - 4.0 * a * c;
        if discriminant < 0.0 {
            Vec::new()
        } else {
            let q = -0.5 * (b + b.signum() * discriminant.sqrt());
            let q = if b == 0.0 {
                -0.5 * discriminant.sqrt()
            } else {
                q
            };
            let mut roots = vec![q / a];
            if q != 0.0 {
                roots.push(c / q);
            }
            roots
        }
    };
    roots
        .into_iter()
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::gram::direction;
    use crate::weighting::reference_cases::{check_against_reference, rows_of};

    // BEGIN GENERATED cagrad (bench/aggregate_reference.py --write-rust)
    /// Reference d per case: 50-digit mpmath enumeration of the primal KKT, c = 0.4.
    /// Regenerate: python3 bench/aggregate_reference.py --write-rust
    #[rustfmt::skip]
    const REFERENCE: &[(&str, &[f64])] = &[
        ("conflict3", &[-0.18680375278839437, 0.2429869255987692, -0.07301880413339426, 0.45660922195156217]), // mpmath primal KKT; cvxpy primal 7.7e-09; torchjd 1.5e-05
        ("aligned3", &[0.9109101965867532, 0.68539189271535, 0.5848844381075935, 0.23484161230920816]), // mpmath primal KKT; cvxpy primal 4.1e-08; torchjd 4.9e-05
        ("collinear3", &[0.48508806454825426, 0.053655247058648485, 0.4309348990758744]), // mpmath primal KKT; cvxpy primal 9.9e-10; torchjd 3.1e-10
        ("identical3", &[-0.1783745453604046, 0.6782083919447132, 0.1380734516962084]), // mpmath primal KKT; cvxpy primal 4.4e-09; torchjd 4.9e-10
        ("unequal3", &[172.31356239420768, -21.802759975556576, 89.2739699193252, 190.98181644330407]), // mpmath primal KKT; cvxpy primal 3.4e-01; torchjd 2.1e-02
        ("zero_row3", &[0.11494252873563218, 0.11494252873563218, 0.22988505747126436]), // mpmath primal KKT; cvxpy primal 1.2e-16; g_w = 0 -> g0/(1+c^2) (TorchJD returns 0)
        ("d1_mixed", &[0.689655172413793]), // mpmath primal KKT; cvxpy primal 3.2e-16; torchjd 0.0e+00
        ("d1_aligned", &[2.8160919540229883]), // mpmath primal KKT; cvxpy primal 3.2e-16; torchjd 1.6e-16
        ("conflict2", &[0.25760131357186444, 0.6562700131473689, -0.06746701069739308]), // mpmath primal KKT; cvxpy primal 3.4e-13; torchjd 9.5e-06
        ("opposite2", &[0.0, 0.0, 0.0]), // mpmath primal KKT; cvxpy primal 0.0e+00; g_w = 0 -> g0/(1+c^2) (TorchJD returns 0)
        ("all_zero3", &[0.0, 0.0, 0.0]), // mpmath primal KKT; cvxpy primal 0.0e+00; g_w = 0 -> g0/(1+c^2) (TorchJD returns 0)
        ("rank2_t3", &[0.49086631942013786, 0.3926930555361103]), // mpmath primal KKT; cvxpy primal 3.9e-15; torchjd 5.7e-06
        ("cone_edge3", &[0.0, 0.28735632183908044]), // mpmath primal KKT; cvxpy primal 1.9e-16; g_w = 0 -> g0/(1+c^2) (TorchJD returns 0)
        ("t4", &[0.035295714820650054, 0.3954555531377159, 0.3363272046229212, 0.31748373991723794, 0.1717550012298394, 0.12990363661377516]), // mpmath primal KKT; cvxpy primal 7.9e-10; torchjd 4.0e-05
    ];
    // END GENERATED cagrad

    fn lambda_of(rows: &[Vec<f64>]) -> Vec<f64> {
        coefficients(&Gram::from_rows(rows).unwrap(), DEFAULT_C).unwrap()
    }

    #[test]
    fn matches_reference() {
        check_against_reference("cagrad", REFERENCE, 1e-6, lambda_of);
    }

    /// The returned w beats a fine grid of the simplex (T = 3 cases).
    #[test]
    fn weights_minimise_the_objective_on_a_grid() {
        for (name, _) in REFERENCE {
            let rows = rows_of(name);
            if rows.len() != 3 {
                continue;
            }
            let k = Gram::from_rows(&rows).unwrap();
            let b = k.apply(&[1.0 / 3.0; 3]);
            let radius = DEFAULT_C * k.quadratic_form(&[1.0 / 3.0; 3]).sqrt();
            let objective = |w: &[f64]| dot(w, &b) + radius * k.quadratic_form(w).sqrt();
            let best = best_candidate(&k, &b, radius);
            let w = best.w;
            let found = objective(&w);
            let scale = k.max_diagonal();
            for i in 0..=200 {
                for j in 0..=(200 - i) {
                    let grid = [
                        f64::from(i) / 200.0,
                        f64::from(j) / 200.0,
                        f64::from(200 - i - j) / 200.0,
                    ];
                    assert!(
                        found <= objective(&grid) + 1e-12 * scale,
                        "{name}: grid point better"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_mean_and_all_zero_give_finite_zero_direction() {
        for rows in [
            vec![vec![1.0, 1.0], vec![-1.0, -1.0]],
            vec![vec![0.0; 2]; 3],
        ] {
            let lambda = lambda_of(&rows);
            assert!(lambda.iter().all(|x| x.is_finite()));
            assert_eq!(direction(&rows, &lambda), vec![0.0, 0.0]);
        }
    }

    #[test]
    fn zero_minimiser_falls_back_to_scaled_mean() {
        // 0 lies on the edge [g1, g2] and nothing in H points against g0 = (0, 1/3).
        let rows = vec![vec![1.0, 0.0], vec![-1.0, 0.0], vec![0.0, 1.0]];
        let d = direction(&rows, &lambda_of(&rows));
        let expected = 1.0 / 3.0 / (1.0 + DEFAULT_C * DEFAULT_C);
        assert!(d[0].abs() < 1e-15 && (d[1] - expected).abs() < 1e-15);
    }

    #[test]
    fn c_zero_is_the_mean_and_bad_c_is_rejected() {
        let k = Gram::from_rows(&rows_of("conflict3")).unwrap();
        assert_eq!(coefficients(&k, 0.0).unwrap(), vec![1.0 / 3.0; 3]);
        assert!(matches!(
            coefficients(&k, -0.1),
            Err(GramError::InvalidParameter { name: "c", .. })
        ));
        assert!(coefficients(&k, f64::NAN).is_err());
    }

    #[test]
    fn roots_are_stable() {
        assert_eq!(positive_roots(1.0, -3.0, 2.0).len(), 2);
        assert_eq!(positive_roots(0.0, 2.0, -4.0), vec![2.0]);
        assert!(positive_roots(1.0, 0.0, 1.0).is_empty());
    }
}
