//! Ψ, the dynamic-weight module: one linear layer on the trunk's output Z, its logits
//! L2-normalised and multiplied by a scale s, a softmax over tasks, averaged over the batch.
//!
//! Because the logits have unit norm, each weight is bounded (see [`weight_bounds`]); that bound
//! is the only thing that stops the weights collapsing onto one task.

use candle_core::{D, Result, Tensor, Var};

#[derive(Clone, Debug)]
pub struct Psi {
    /// `[tasks, z_dim]`
    pub weight: Var,
    /// `[tasks]`
    pub bias: Var,
}

/// How Ψ's output is wired into the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PsiWiring {
    /// L2-normalise Z before the layer (the naive variant of the code does).
    pub normalise_input: bool,
    /// Cut the gradient to Z (the trunk) here.
    pub detach_input: bool,
    /// Cut the gradient to Ψ's own parameters here.
    pub detach_params: bool,
}

impl Psi {
    pub fn vars(&self) -> Vec<Var> {
        vec![self.weight.clone(), self.bias.clone()]
    }

    /// Per-sample weights `[batch, tasks]` for Z `[batch, z_dim]`.
    pub fn per_sample(&self, z: &Tensor, scale: f32, wiring: PsiWiring) -> Result<Tensor> {
        let mut z = if wiring.detach_input {
            z.detach()
        } else {
            z.clone()
        };
        if wiring.normalise_input {
            z = l2_normalise_rows(&z)?;
        }
        let (w, b) = if wiring.detach_params {
            (
                self.weight.as_tensor().detach(),
                self.bias.as_tensor().detach(),
            )
        } else {
            (
                self.weight.as_tensor().clone(),
                self.bias.as_tensor().clone(),
            )
        };
        let logits = z.matmul(&w.t()?)?.broadcast_add(&b)?;
        let logits = (l2_normalise_rows(&logits)? * scale as f64)?;
        candle_nn::ops::softmax(&logits, D::Minus1)
    }

    /// Batch-averaged weights `[tasks]`.
    pub fn weights(&self, z: &Tensor, scale: f32, wiring: PsiWiring) -> Result<Tensor> {
        self.per_sample(z, scale, wiring)?.mean(0)
    }
}

/// Rows divided by their L2 norm (ε keeps a zero row finite).
pub fn l2_normalise_rows(x: &Tensor) -> Result<Tensor> {
    let norm = (x.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
    x.broadcast_div(&norm)
}

/// Smallest and largest weight softmax(s·u) can give over unit vectors u in R^tasks.
///
/// The extremes are at u ∝ (T−1, −1, …, −1) (largest first weight) and its negative (smallest):
/// with k = s·√((T−1)/T), w_max = e^{k}/(e^{k} + (T−1)·e^{−k/(T−1)}) and
/// w_min = e^{−k}/(e^{−k} + (T−1)·e^{k/(T−1)}).
pub fn weight_bounds(tasks: usize, scale: f64) -> (f64, f64) {
    let t = tasks as f64;
    let k = scale * ((t - 1.0) / t).sqrt();
    let max = k.exp() / (k.exp() + (t - 1.0) * (-k / (t - 1.0)).exp());
    let min = (-k).exp() / ((-k).exp() + (t - 1.0) * (k / (t - 1.0)).exp());
    (min, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

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
    fn psi_weights_respect_the_bounds_at_their_extremes() {
        // Drive the logits onto the extreme direction and check Ψ reaches the bound, and a
        // random direction stays inside it.
        let dev = Device::Cpu;
        let psi = Psi {
            weight: Var::from_tensor(&Tensor::new(&[[2f32], [-1.0], [-1.0]], &dev).unwrap())
                .unwrap(),
            bias: Var::from_tensor(&Tensor::zeros(3, candle_core::DType::F32, &dev).unwrap())
                .unwrap(),
        };
        let z = Tensor::new(&[[3f32]], &dev).unwrap();
        let wiring = PsiWiring {
            normalise_input: false,
            detach_input: false,
            detach_params: false,
        };
        for s in [0.5f32, 1.0, 2.0] {
            let w = psi
                .weights(&z, s, wiring)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let (min, max) = weight_bounds(3, s as f64);
            assert!((w[0] as f64 - max).abs() < 1e-5, "{w:?} vs {max}");
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            let z_neg = Tensor::new(&[[-3f32]], &dev).unwrap();
            let w = psi
                .weights(&z_neg, s, wiring)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert!((w[0] as f64 - min).abs() < 1e-5, "{w:?} vs {min}");
        }
    }
}
