//! Hand-written CPU kernels as candle custom ops, for the parts of a training step where
//! candle's own CPU code is slow (convolution backward above all), and [`Kernels`], the one
//! setting that says whether a network runs them or candle's own (portable) ops.
//!
//! This is the only place in the crate where `unsafe` is allowed: the calls into the `gemm`
//! crate take raw pointers. Each such call sits behind a safe wrapper that checks the bounds
//! first, and carries a `// SAFETY:` note.
#![allow(unsafe_code)]

pub mod choice;
pub mod conv;
pub mod gemm;
pub mod pool;
pub mod storage;
pub mod threads;

pub use choice::Kernels;
pub use conv::{conv2d, conv2d_bias, conv2d_bias_relu_pool};
pub use pool::{max_pool2d, max_pool2d_strided};

/// Helpers shared by the kernels' tests.
#[cfg(test)]
pub(crate) mod testing {
    use candle_core::{Device, Shape, Tensor};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    /// A tensor of N(0, std²) values drawn from a generator seeded with `seed`: the same
    /// numbers on every run, so a test that passes once passes always (candle's
    /// `Tensor::randn` draws from an unseeded generator).
    pub fn seeded_normal(seed: u64, dims: impl Into<Shape>, std: f32) -> Tensor {
        let shape: Shape = dims.into();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0f32, std).unwrap();
        let values: Vec<f32> = (0..shape.elem_count())
            .map(|_| normal.sample(&mut rng))
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    /// The largest |value| of `t`.
    pub fn max_abs(t: &Tensor) -> f32 {
        t.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// The largest |a − b| over all elements.
    pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        max_abs(&(a - b).unwrap())
    }
}
