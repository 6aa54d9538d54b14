//! The arithmetic every weighting rule shares, used by the network rules, the toy model and the
//! explain panel alike: one softmax, one weight bound, one ε, the two objectives' gradients.

use crate::task::TASKS;

/// The constant in L4's denominator, Σ w_i/(L_i + ε) (the code's 0.01; the paper writes 1/L_i).
pub const L4_EPSILON: f64 = 0.01;

/// Numerically stable softmax (the maximum is subtracted first). Empty in, empty out.
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// [`softmax`] over the three tasks, in the network's `f32`.
pub fn softmax_tasks(x: [f32; TASKS]) -> [f32; TASKS] {
    let w = softmax(&x.map(f64::from));
    std::array::from_fn(|i| w[i] as f32)
}

/// Scale non-negative weights to sum 1 (uniform if they sum to 0 or overflow).
pub fn normalised(w: [f32; TASKS]) -> [f32; TASKS] {
    let sum: f32 = w.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        w.map(|x| x / sum)
    } else {
        [1.0 / TASKS as f32; TASKS]
    }
}

/// Bounds `(min, max)` of any weight of `softmax(s·u)` over unit vectors `u ∈ R^T`: the bound that
/// Ψ's L2-normalised logits put on every weight, the only thing that stops the weights
/// collapsing onto one task.
///
/// The extremes of `w_1` are at `u ∝ (T−1, −1, …, −1)` (max) and its negative (min). Normalised,
/// `u_1 = √((T−1)/T)` and the others are `−1/√(T(T−1))`, so `u_1 − u_j = √(T/(T−1))` and
///
/// ```text
/// max = 1 / (1 + (T−1)·exp(−s·√(T/(T−1))))
/// min = 1 / (1 + (T−1)·exp(+s·√(T/(T−1))))
/// ```
///
/// For `T = 3`: `s = 0.5 → (0.213, 0.480)`, `s = 1 → (0.128, 0.630)`, `s = 2 → (0.041, 0.853)`.
/// The sign of `s` does not matter (`|s|` is used); `tasks = 1` gives `(1, 1)` and `tasks = 0`
/// gives `(0, 0)`.
pub fn weight_bounds(tasks: usize, scale: f64) -> (f64, f64) {
    match tasks {
        0 => (0.0, 0.0),
        1 => (1.0, 1.0),
        _ => {
            let t = tasks as f64;
            let gap = scale.abs() * (t / (t - 1.0)).sqrt();
            let max = 1.0 / (1.0 + (t - 1.0) * (-gap).exp());
            let min = 1.0 / (1.0 + (t - 1.0) * gap.exp());
            (min, max)
        }
    }
}

/// `∂F/∂z` for `F = Σ_i softmax(z)_i · c_i`, given `w = softmax(z)`: `w_j·(c_j − Σ_i w_i·c_i)`.
pub fn softmax_cost_gradient(w: &[f64], costs: &[f64]) -> Vec<f64> {
    let mean: f64 = w.iter().zip(costs).map(|(w, c)| w * c).sum();
    w.iter().zip(costs).map(|(w, c)| w * (c - mean)).collect()
}

/// The costs L4 weighs: `c_i = 1/(L_i + ε)`.
pub fn proposed_costs(losses: &[f64]) -> Vec<f64> {
    losses.iter().map(|l| 1.0 / (l + L4_EPSILON)).collect()
}

/// Gradient `∂F/∂a` of the unbounded proposed objective `F = Σ_i w_i/(L_i + ε)` at
/// `w = softmax(a)` (the losses are constants): `w_j·(c_j − Σ_i w_i·c_i)` with `c_i = 1/(L_i + ε)`.
///
/// A step `a ← a − η·g` raises the weight of tasks whose loss is above the weighted average.
pub fn proposed_gradient(w: &[f64], losses: &[f64]) -> Vec<f64> {
    softmax_cost_gradient(w, &proposed_costs(losses))
}

/// Gradient `∂F/∂a` of the unbounded naive objective `F = Σ_i w_i·L_i` at `w = softmax(a)`:
/// `w_j·(L_j − Σ_i w_i·L_i)`. A step lowers the weight of tasks whose loss is above the average.
pub fn naive_gradient(w: &[f64], losses: &[f64]) -> Vec<f64> {
    softmax_cost_gradient(w, losses)
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The weights of the logit rules' host form: `softmax(a)` when `scale` is `None`, else
/// `softmax(s·a/‖a‖)` (uniform while `a = 0`).
pub fn logit_weights(a: &[f64], scale: Option<f64>) -> Vec<f64> {
    match scale {
        None => softmax(a),
        Some(s) => {
            let n = norm(a);
            if n > 0.0 {
                let z: Vec<f64> = a.iter().map(|x| s * x / n).collect();
                softmax(&z)
            } else {
                softmax(a)
            }
        }
    }
}

/// `∂F/∂a` for `F = Σ_i w_i·c_i` with `w` = [`logit_weights`]`(a, scale)`.
///
/// Unbounded: `w_j·(c_j − Σ w_i c_i)`. Bounded (`Some(s)`, `a ≠ 0`): with `u = a/‖a‖` and
/// `g = ∂F/∂z` at `z = s·u`, the gradient is `(s/‖a‖)·(g − u·(u·g))`, which is orthogonal to `a`.
/// Bounded at `a = 0`: the unbounded gradient at `z = 0` (see the toy's module docs).
pub fn logit_gradient(a: &[f64], scale: Option<f64>, costs: &[f64]) -> Vec<f64> {
    let w = logit_weights(a, scale);
    let g = softmax_cost_gradient(&w, costs);
    match scale {
        Some(s) => {
            let n = norm(a);
            if n > 0.0 {
                let u: Vec<f64> = a.iter().map(|x| x / n).collect();
                let ug: f64 = u.iter().zip(&g).map(|(u, g)| u * g).sum();
                g.iter()
                    .zip(&u)
                    .map(|(g, u)| s / n * (g - u * ug))
                    .collect()
            } else {
                g
            }
        }
        None => g,
    }
}

/// The host form of the two Ψ rules: free logits `a` (start at 0), `w = logit_weights(a)`, moved
/// after each step by `a ← a − η·∇_a Σ_i w_i·c_i(L)`; proposed's costs are `1/(L_i + ε)`,
/// naive's the losses themselves.
pub struct LogitHost {
    pub logits: Vec<f64>,
    pub scale: Option<f64>,
    pub lr: f64,
    pub costs: fn(&[f64]) -> Vec<f64>,
}

impl super::host::HostRule for LogitHost {
    fn weights(&mut self, _view: &super::host::HostView) -> Result<Vec<f64>, String> {
        Ok(logit_weights(&self.logits, self.scale))
    }

    fn observe(&mut self, losses_seen: &[f64]) {
        let g = logit_gradient(&self.logits, self.scale, &(self.costs)(losses_seen));
        for (a, g) in self.logits.iter_mut().zip(g) {
            *a -= self.lr * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::psi::{Psi, PsiWiring};
    use candle_core::{Device, Tensor, Var};

    #[test]
    fn bounds_match_the_notes() {
        // NOTES-reference-code.md: T = 3, s = 0.5 → [0.213, 0.480]; s = 1 → [0.128, 0.630];
        // s = 2 → [0.041, 0.853].
        for (s, lo, hi) in [
            (0.5, 0.213, 0.480),
            (1.0, 0.128, 0.630),
            (2.0, 0.041, 0.853),
        ] {
            let (min, max) = weight_bounds(3, s);
            assert!((min - lo).abs() < 5e-4, "s={s}: min {min}");
            assert!((max - hi).abs() < 5e-4, "s={s}: max {max}");
        }
    }

    #[test]
    fn psi_weights_reach_the_bounds_at_their_extremes() {
        // Drive Ψ's logits onto the extreme direction (2, −1, −1) and its negative: the first
        // weight is then exactly the bound.
        let dev = Device::Cpu;
        let psi = Psi {
            weight: Var::from_tensor(&Tensor::new(&[[2f32], [-1.0], [-1.0]], &dev).unwrap())
                .unwrap(),
            bias: Var::from_tensor(&Tensor::zeros(3, candle_core::DType::F32, &dev).unwrap())
                .unwrap(),
        };
        let wiring = PsiWiring {
            normalise_input: false,
            detach_input: false,
            detach_params: false,
        };
        for s in [0.5f32, 1.0, 2.0] {
            let (min, max) = weight_bounds(3, s as f64);
            for (z, bound) in [(3f32, max), (-3.0, min)] {
                let z = Tensor::new(&[[z]], &dev).unwrap();
                let w = psi
                    .weights(&z, s, wiring)
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                assert!((w[0] as f64 - bound).abs() < 1e-5, "{w:?} vs {bound}");
                assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn softmax_is_stable() {
        let w = softmax(&[1000.0, 1000.0]);
        assert_eq!(w, vec![0.5, 0.5]);
        assert!(softmax(&[]).is_empty());
        let w = softmax_tasks([0.0, 0.0, 0.0]);
        assert!(w.iter().all(|x| (x - 1.0 / 3.0).abs() < 1e-7));
    }
}
