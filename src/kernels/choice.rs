//! Which implementation runs the model's convolutions and poolings: the one place where that
//! choice is made. The network carries one [`Kernels`] value (from the run's config) and every
//! layer asks it, so a run is either on the hand-written CPU kernels or on candle's own ops
//! throughout.
//!
//! The portable path is what a GPU runs (candle's `conv2d`, a broadcast bias add, `relu`,
//! pooling by reshape + `max` or by `index_select` + `gather`); running it on the CPU proves
//! that path trains the same network before a GPU is at hand. Everything else in a step
//! (linear layers, batch norm, softmax, the losses, the optimiser) is candle's own ops on both
//! paths.

use candle_core::{DType, Result, Tensor};
use serde::{Deserialize, Serialize};

use super::{conv, pool};

/// The kernels a run's convolutions and poolings use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernels {
    /// The hand-written kernels of this module (im2col + GEMM convolutions fused with bias,
    /// ReLU and pooling) where the tensors are f32 on the CPU; candle's own ops elsewhere.
    #[default]
    Fast,
    /// candle's own ops on every device: on the CPU, exactly the ops a GPU runs.
    Portable,
}

impl Kernels {
    pub const ALL: [Kernels; 2] = [Kernels::Fast, Kernels::Portable];

    /// The word on the command line and in the window.
    pub fn key(self) -> &'static str {
        match self {
            Kernels::Fast => "fast",
            Kernels::Portable => "portable",
        }
    }

    pub fn parse(text: &str) -> std::result::Result<Kernels, String> {
        Kernels::ALL
            .into_iter()
            .find(|k| k.key() == text)
            .ok_or_else(|| format!("unknown kernels '{text}'; expected fast or portable"))
    }

    /// Whether the hand-written kernels run for tensors like `x` (f32 on the CPU): what a
    /// step on `x`'s device actually executes.
    pub fn hand_written_for(self, x: &Tensor) -> bool {
        self == Kernels::Fast && x.device().is_cpu() && x.dtype() == DType::F32
    }

    /// `x` `[N, C, H, W]` convolved with `weight` `[O, C, kh, kw]`, no bias; `padding` =
    /// (rows, columns) of zeros on each side.
    pub fn conv2d(
        self,
        x: &Tensor,
        weight: &Tensor,
        stride: usize,
        padding: (usize, usize),
    ) -> Result<Tensor> {
        match self {
            Kernels::Fast => conv::conv2d(x, weight, stride, padding),
            Kernels::Portable => conv::portable_conv2d(x, weight, stride, padding),
        }
    }

    /// `x` convolved with `weight`, plus `bias` `[O]`, then ReLU if `relu`.
    pub fn conv2d_bias(
        self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        padding: (usize, usize),
        relu: bool,
    ) -> Result<Tensor> {
        match self {
            Kernels::Fast => conv::conv2d_bias(x, weight, bias, stride, padding, relu),
            Kernels::Portable => {
                conv::portable_conv2d_bias(x, weight, bias, stride, padding, relu, 1)
            }
        }
    }

    /// `max_pool2d(relu(conv2d(x, weight) + bias), pool)`, windows `pool × pool` with stride
    /// `pool`.
    pub fn conv2d_bias_relu_pool(
        self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        padding: (usize, usize),
        pool: usize,
    ) -> Result<Tensor> {
        match self {
            Kernels::Fast => conv::conv2d_bias_relu_pool(x, weight, bias, stride, padding, pool),
            Kernels::Portable => {
                conv::portable_conv2d_bias(x, weight, bias, stride, padding, true, pool)
            }
        }
    }

    /// Max-pool over `k × k` windows with stride `k`; the whole gradient goes to the maximum.
    pub fn max_pool2d(self, x: &Tensor, k: usize) -> Result<Tensor> {
        match self {
            Kernels::Fast => pool::max_pool2d(x, k),
            Kernels::Portable => pool::max_pool2d_by_reduction(x, k),
        }
    }

    /// Max-pool over `k × k` windows every `stride` pixels, VALID padding; each window's
    /// gradient goes to its first maximum.
    pub fn max_pool2d_strided(self, x: &Tensor, k: usize, stride: usize) -> Result<Tensor> {
        match self {
            Kernels::Fast => pool::max_pool2d_strided(x, k, stride),
            Kernels::Portable => pool::max_pool2d_strided_by_gather(x, k, stride),
        }
    }
}

#[cfg(test)]
mod tests;
