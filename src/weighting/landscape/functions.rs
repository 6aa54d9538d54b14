//! The two-task, two-parameter "loss landscape" toy of gradient-based
//! multi-task learning papers.
//!
//! # Provenance
//!
//! The formulas are copied term by term from `Toy.forward` in `toy.py` of the
//! public CAGrad code (github.com/Cranial-XIX/CAGrad, Liu et al., NeurIPS
//! 2021). Nash-MTL (AvivNavon/nash-mtl, `experiments/toy/problem.py`) and
//! FAMO (Cranial-XIX/FAMO, `experiments/toy/problem.py`) reuse the same
//! class, adding only a factor `scale` on the *first* loss (their trainers
//! default to `--scale 1e-1`). With θ = (x, y), `x = θ[0]`, `y = θ[1]` and
//! `LOWER = 5e-6`:
//!
//! ```text
//! l1 = ln(max(|0.5(−x − 7) − tanh(−y)|,     LOWER)) + 6
//! l2 = ln(max(|0.5(−x + 3) + tanh(−y) + 2|, LOWER)) + 6
//! c1 = max(tanh(0.5 y), 0)            (switches on the upper half plane)
//! c2 = max(tanh(−0.5 y), 0)           (switches on the lower half plane)
//! q1 = ((−x + 7)² + 0.1 (−y − 8)²) / 10 − 20
//! q2 = ((−x − 7)² + 0.1 (−y − 8)²) / 10 − 20
//! f1 = c1·l1 + c2·q1
//! f2 = c1·l2 + c2·q2
//! ```
//!
//! The 0.1 factor multiplies the y-part of both quadratics, so the lower
//! half plane is a long, shallow valley along x; the two log terms carve two
//! narrow gorges in the upper half plane that trap plain averaged descent.
//! The CAGrad code does not scale the losses.

/// Floor on the argument of the logarithms (`LOWER` in toy.py); it caps the
/// depth of the log gorges at ln(5e-6) + 6 ≈ −6.2 instead of −∞.
pub const LOG_FLOOR: f64 = 0.000_005;

/// Start points of CAGrad's `toy.py::run_all` (its paper figure).
pub const CAGRAD_STARTS: [[f64; 2]; 3] = [[-8.5, 7.5], [-8.5, -5.0], [9.0, 9.0]];

/// Start points of the Nash-MTL and FAMO toy trainers (`inits` in
/// `experiments/toy/trainer.py` of both repositories).
pub const NASH_FAMO_STARTS: [[f64; 2]; 5] = [
    [-8.5, 7.5],
    [0.0, 0.0],
    [9.0, 9.0],
    [-7.5, -0.5],
    [9.0, -1.0],
];

/// The five starts usually drawn for this toy in the lab: CAGrad's three plus
/// the two extra ones of Nash-MTL/FAMO. No single upstream script uses exactly
/// this set (FAMO/Nash-MTL use (0, 0) instead of (−8.5, −5)).
pub const STARTS: [[f64; 2]; 5] = [
    [-8.5, 7.5],
    [-8.5, -5.0],
    [9.0, 9.0],
    [-7.5, -0.5],
    [9.0, -1.0],
];

/// Which of the two losses a setting refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TaskLoss {
    /// f1, minimised near (7, −8.4) in the lower half plane.
    F1,
    /// f2, minimised near (−7, −8.4) in the lower half plane.
    F2,
}

impl TaskLoss {
    /// Index of this task in `[f1, f2]` arrays.
    pub fn index(self) -> usize {
        match self {
            TaskLoss::F1 => 0,
            TaskLoss::F2 => 1,
        }
    }
}

/// Which version of the toy to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Variant {
    /// The CAGrad toy exactly as published: no scaling.
    Cagrad,
    /// One task's loss (and so its gradient) multiplied by `factor`, to show
    /// how loss-scale imbalance skews a method. A positive factor leaves the
    /// Pareto set unchanged.
    Scaled {
        /// The task whose loss is multiplied.
        task: TaskLoss,
        /// The multiplier.
        factor: f64,
    },
}

impl Variant {
    /// The Nash-MTL / FAMO default: the first loss times 0.1 (`--scale 1e-1`).
    pub const NASH_FAMO: Variant = Variant::Scaled {
        task: TaskLoss::F1,
        factor: 0.1,
    };

    /// Multiplier applied to each task's loss and gradient.
    pub fn loss_factors(self) -> [f64; 2] {
        match self {
            Variant::Cagrad => [1.0, 1.0],
            Variant::Scaled { task, factor } => {
                let mut factors = [1.0, 1.0];
                factors[task.index()] = factor;
                factors
            }
        }
    }
}

/// A value and its derivative with respect to (x, y).
#[derive(Debug, Clone, Copy)]
struct Dual {
    value: f64,
    grad: [f64; 2],
}

/// `max(t, 0)` of a tanh output, and the gradient autograd gives it: torch's
/// clamp lets the gradient through only where `t > 0` (strict; at a tie the
/// constant branch wins), and tanh's backward is `1 − t²` from the output.
fn gate(t: f64, dt_dy_scale: f64) -> Dual {
    if t > 0.0 {
        Dual {
            value: t,
            grad: [0.0, dt_dy_scale * (1.0 - t * t)],
        }
    } else {
        Dual {
            value: 0.0,
            grad: [0.0, 0.0],
        }
    }
}

/// `ln(max(|u|, LOG_FLOOR)) + 6` given u and ∂u/∂θ. Where the floor is
/// active, ties included, the gradient is zero, as torch's clamp gives.
fn floored_log(u: Dual) -> Dual {
    let magnitude = u.value.abs();
    if magnitude > LOG_FLOOR {
        let slope = u.value.signum() / magnitude;
        Dual {
            value: magnitude.ln() + 6.0,
            grad: [slope * u.grad[0], slope * u.grad[1]],
        }
    } else {
        Dual {
            value: LOG_FLOOR.ln() + 6.0,
            grad: [0.0, 0.0],
        }
    }
}

/// The lower-half-plane quadratic `((−x + x_shift)² + 0.1(−y − 8)²)/10 − 20`.
fn valley(x: f64, y: f64, x_shift: f64) -> Dual {
    let dx = -x + x_shift;
    let dy = -y - 8.0;
    Dual {
        value: (dx * dx + 0.1 * dy * dy) / 10.0 - 20.0,
        grad: [-dx / 5.0, -0.02 * dy],
    }
}

/// `gate_up·log_part + gate_down·quad_part` by the product rule.
fn blend(gate_up: Dual, log_part: Dual, gate_down: Dual, quad_part: Dual) -> Dual {
    let value = gate_up.value * log_part.value + gate_down.value * quad_part.value;
    let grad = [0, 1].map(|k| {
        gate_up.grad[k] * log_part.value
            + gate_up.value * log_part.grad[k]
            + gate_down.grad[k] * quad_part.value
            + gate_down.value * quad_part.grad[k]
    });
    Dual { value, grad }
}

/// Both unscaled losses with their gradients.
fn evaluate_unscaled(theta: [f64; 2]) -> [Dual; 2] {
    let [x, y] = theta;
    let tanh_neg_y = (-y).tanh();
    // d tanh(−y)/dy = −(1 − tanh²(−y)).
    let dtanh_neg_y = -(1.0 - tanh_neg_y * tanh_neg_y);
    let u1 = Dual {
        value: 0.5 * (-x - 7.0) - tanh_neg_y,
        grad: [-0.5, -dtanh_neg_y],
    };
    let u2 = Dual {
        value: 0.5 * (-x + 3.0) + tanh_neg_y + 2.0,
        grad: [-0.5, dtanh_neg_y],
    };
    let gate_up = gate((y * 0.5).tanh(), 0.5);
    let gate_down = gate((-y * 0.5).tanh(), -0.5);
    [
        blend(gate_up, floored_log(u1), gate_down, valley(x, y, 7.0)),
        blend(gate_up, floored_log(u2), gate_down, valley(x, y, -7.0)),
    ]
}

/// The two task losses `[f1, f2]` at θ = (x, y), scaled per `variant`.
pub fn losses(theta: [f64; 2], variant: Variant) -> [f64; 2] {
    let factors = variant.loss_factors();
    let duals = evaluate_unscaled(theta);
    [0, 1].map(|task| factors[task] * duals[task].value)
}

/// Each task's gradient `[∂f1/∂θ, ∂f2/∂θ]`, analytic, scaled per `variant`.
///
/// At the `max()` kinks it returns what torch autograd (2.x) returns: the
/// active branch's derivative, and 0 where a constant floor is active,
/// including exact ties (torch's scalar `clamp` backward is strict, so e.g.
/// both gradients vanish on the line y = 0 and (0, 0) is a fixed point of
/// every rule; torch 1.x, which drew the published figures, passed the
/// gradient at ties instead).
pub fn gradients(theta: [f64; 2], variant: Variant) -> [[f64; 2]; 2] {
    let factors = variant.loss_factors();
    let duals = evaluate_unscaled(theta);
    [0, 1].map(|task| duals[task].grad.map(|g| factors[task] * g))
}

/// Losses and gradients in one evaluation (what an optimiser step needs).
pub fn losses_and_gradients(theta: [f64; 2], variant: Variant) -> ([f64; 2], [[f64; 2]; 2]) {
    let factors = variant.loss_factors();
    let duals = evaluate_unscaled(theta);
    let losses = [0, 1].map(|task| factors[task] * duals[task].value);
    let grads = [0, 1].map(|task| duals[task].grad.map(|g| factors[task] * g));
    (losses, grads)
}

/// Evenly spaced samples of `[start, end]` like `numpy.linspace`: one sample
/// gives `start`.
fn linspace(range: (f64, f64), count: usize, index: usize) -> f64 {
    if count <= 1 {
        return range.0;
    }
    let fraction = index as f64 / (count - 1) as f64;
    range.0 + fraction * (range.1 - range.0)
}

/// Samples `(f1, f2, (f1 + f2)/2)` on an `nx × ny` grid for contour plots.
///
/// Row-major with x fastest: entry `j·nx + i` is at
/// `(linspace(x_range)[i], linspace(y_range)[j])`, the layout of
/// `numpy.meshgrid` used by the upstream plotting code. Losses only (no
/// gradients), so a 200 × 200 grid is cheap enough to redo per frame.
pub fn grid(
    variant: Variant,
    x_range: (f64, f64),
    y_range: (f64, f64),
    nx: usize,
    ny: usize,
) -> Vec<[f64; 3]> {
    let mut samples = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        let y = linspace(y_range, ny, row);
        for column in 0..nx {
            let x = linspace(x_range, nx, column);
            let [f1, f2] = losses([x, y], variant);
            samples.push([f1, f2, 0.5 * (f1 + f2)]);
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::super::reference::{POINTS, POINTS_SCALED, Sample};
    use super::*;

    /// Largest |a − b| / |b| over paired values; exact zeros must match exactly.
    fn max_relative_error(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
        pairs
            .map(|(ours, theirs)| {
                if theirs == 0.0 {
                    if ours == 0.0 { 0.0 } else { f64::INFINITY }
                } else {
                    ((ours - theirs) / theirs).abs()
                }
            })
            .fold(0.0, f64::max)
    }

    /// Largest ‖ours − torch‖ / ‖torch‖ over the task gradient vectors. Per
    /// vector, not per component: where one component is 1e-7 of the other
    /// (e.g. ∂f/∂y at y = 20, which is `1 − tanh²` of a tanh within 1e-8 of 1),
    /// a one-ulp difference between two tanh implementations is already a
    /// 2e-9 relative error in that component.
    fn max_vector_relative_error(pairs: impl Iterator<Item = ([f64; 2], [f64; 2])>) -> f64 {
        let norm = |v: [f64; 2]| v[0].hypot(v[1]);
        pairs
            .map(|(ours, theirs)| {
                let gap = norm([ours[0] - theirs[0], ours[1] - theirs[1]]);
                match (gap, norm(theirs)) {
                    (0.0, _) => 0.0,
                    (_, 0.0) => f64::INFINITY,
                    (gap, size) => gap / size,
                }
            })
            .fold(0.0, f64::max)
    }

    fn check_against_torch(points: &[Sample], variant: Variant) -> (f64, f64) {
        let loss_error = max_relative_error(
            points
                .iter()
                .flat_map(|(theta, want, _)| losses(*theta, variant).into_iter().zip(*want)),
        );
        let grad_error = max_vector_relative_error(
            points
                .iter()
                .flat_map(|(theta, _, want)| gradients(*theta, variant).into_iter().zip(*want)),
        );
        let component_error = max_relative_error(points.iter().flat_map(|(theta, _, want)| {
            gradients(*theta, variant)
                .into_iter()
                .flatten()
                .zip(want.iter().flatten().copied())
        }));
        println!("{variant:?}: worst per-component gradient relative error {component_error:e}");
        (loss_error, grad_error)
    }

    #[test]
    fn losses_and_gradients_match_torch_autograd() {
        let (loss_error, grad_error) = check_against_torch(&POINTS, Variant::Cagrad);
        println!("unscaled: max relative error losses {loss_error:e}, gradients {grad_error:e}");
        assert!(loss_error <= 1e-9, "{loss_error}");
        assert!(grad_error <= 1e-9, "{grad_error}");
    }

    #[test]
    fn scaled_variant_matches_torch_autograd() {
        let (loss_error, grad_error) = check_against_torch(&POINTS_SCALED, Variant::NASH_FAMO);
        println!("scaled: max relative error losses {loss_error:e}, gradients {grad_error:e}");
        assert!(loss_error <= 1e-9, "{loss_error}");
        assert!(grad_error <= 1e-9, "{grad_error}");
    }

    #[test]
    fn scaling_task_two_scales_only_its_loss() {
        let theta = [2.0, -3.0];
        let variant = Variant::Scaled {
            task: TaskLoss::F2,
            factor: 3.0,
        };
        let (plain_losses, plain_grads) = losses_and_gradients(theta, Variant::Cagrad);
        let (scaled_losses, scaled_grads) = losses_and_gradients(theta, variant);
        assert_eq!(scaled_losses, [plain_losses[0], 3.0 * plain_losses[1]]);
        assert_eq!(
            scaled_grads,
            [plain_grads[0], plain_grads[1].map(|g| 3.0 * g)]
        );
    }

    #[test]
    fn gradient_matches_central_differences_away_from_kinks() {
        let step = 1e-6;
        for theta in [[-8.5, 7.5], [3.0, -8.0], [-2.0, 4.0], [9.0, -1.0]] {
            let analytic = gradients(theta, Variant::Cagrad);
            for axis in 0..2 {
                let mut plus = theta;
                let mut minus = theta;
                plus[axis] += step;
                minus[axis] -= step;
                let (high, low) = (
                    losses(plus, Variant::Cagrad),
                    losses(minus, Variant::Cagrad),
                );
                for task in 0..2 {
                    let numeric = (high[task] - low[task]) / (2.0 * step);
                    assert!(
                        (numeric - analytic[task][axis]).abs() < 1e-6,
                        "{theta:?} {task} {axis}"
                    );
                }
            }
        }
    }

    #[test]
    fn line_y_zero_has_zero_losses_and_gradients() {
        for x in [-9.0, 0.0, 0.5, 4.0] {
            assert_eq!(losses([x, 0.0], Variant::Cagrad), [0.0, 0.0]);
            assert_eq!(gradients([x, 0.0], Variant::Cagrad), [[0.0, 0.0]; 2]);
        }
    }

    #[test]
    fn log_floor_flattens_the_gorge_bottom() {
        let y: f64 = 2.0;
        let x_on_gorge = -7.0 + 2.0 * y.tanh();
        let floor_loss = (LOG_FLOOR.ln() + 6.0) * (0.5 * y).tanh();
        let [f1, _] = losses([x_on_gorge, y], Variant::Cagrad);
        assert!((f1 - floor_loss).abs() < 1e-12);
        let [g1, _] = gradients([x_on_gorge, y], Variant::Cagrad);
        assert_eq!(g1[0], 0.0, "x-derivative of the clamped log must vanish");
    }

    #[test]
    fn grid_is_row_major_with_x_fastest() {
        let samples = grid(Variant::Cagrad, (-10.0, 10.0), (-5.0, 5.0), 3, 2);
        assert_eq!(samples.len(), 6);
        let [f1, f2] = losses([0.0, 5.0], Variant::Cagrad);
        assert_eq!(samples[4], [f1, f2, 0.5 * (f1 + f2)]);
        let single = grid(Variant::Cagrad, (1.0, 2.0), (-3.0, 4.0), 1, 1);
        let [f1, f2] = losses([1.0, -3.0], Variant::Cagrad);
        assert_eq!(single, vec![[f1, f2, 0.5 * (f1 + f2)]]);
    }
}
