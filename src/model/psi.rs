//! Ψ, the dynamic-weight module: one linear layer on the trunk's output Z, its logits
//! L2-normalised and multiplied by a scale s, a softmax over tasks, averaged over the batch.
//!
//! Because the logits have unit norm, each weight is bounded
//! (`weighting::math::weight_bounds`); that bound is the only thing that stops the weights
//! collapsing onto one task. Ψ belongs to the network (its parameters are saved with it); the
//! rules in `weighting` decide who trains it and on what.

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

    /// Per-sample weights `[batch, tasks]` for Z `[batch, z_dim]`, or Z `[batch, …]` from a
    /// convolutional trunk, which is flattened first (eq. 5 reads "the flattened output of the
    /// last layer of the sharing hidden layers").
    pub fn per_sample(&self, z: &Tensor, scale: f32, wiring: PsiWiring) -> Result<Tensor> {
        let z = if z.rank() > 2 {
            z.flatten_from(1)?
        } else {
            z.clone()
        };
        let mut z = if wiring.detach_input { z.detach() } else { z };
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
