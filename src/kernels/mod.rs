//! Hand-written CPU kernels as candle custom ops, for the parts of a training step where
//! candle's own CPU code is slow (convolution backward above all).
//!
//! This is the only place in the crate where `unsafe` is allowed: the calls into the `gemm`
//! crate take raw pointers. Each such call sits behind a safe wrapper that checks the bounds
//! first, and carries a `// SAFETY:` note.
#![allow(unsafe_code)]

pub mod conv;
pub mod pool;
pub mod storage;
pub mod threads;

pub use conv::{conv2d, conv2d_bias, conv2d_bias_relu_pool};
pub use pool::{max_pool2d, max_pool2d_strided};

/// Helpers shared by the kernels' tests.
#[cfg(test)]
pub(crate) mod testing {
    use candle_core::Tensor;

    /// The largest |a − b| over all elements.
    pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }
}
