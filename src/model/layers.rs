//! Plain layers over candle `Var`s, registered in a `VarMap` under readable names: linear,
//! convolution, convolution + batch norm + ReLU, and dropout; [`Mode`] says whether a forward
//! pass trains (batch statistics, dropout) or evaluates (running statistics, no dropout).

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{Init, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::kernels::Kernels;

/// Train or eval: batch norm's statistics and dropout depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics (the running averages move), dropout on. Dropout masks are drawn from
    /// the run's seed and `step` alone, so a run repeats, and a fork restored from a snapshot
    /// into a trainer of the same seed (runs A and B) takes the same steps as its source.
    Train { step: u64 },
    /// Running statistics, no dropout.
    Eval,
}

impl Mode {
    pub fn is_training(self) -> bool {
        matches!(self, Mode::Train { .. })
    }
}

/// Moving-average decay of batch norm's running statistics: the authors' `batch_norm_params`
/// in models/inception_resnet_v1_cari_vis.py set `'decay': 0.995` (FaceNet's value too).
pub const BN_DECAY: f64 = 0.995;
/// Batch norm's ε, from the same `batch_norm_params` (`'epsilon': 0.001`).
pub const BN_EPSILON: f64 = 0.001;

/// True for the names of batch norm's running statistics: saved with the parameters, never
/// handed to an optimiser.
pub fn is_running_statistic(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

/// Creates parameters in a `VarMap`, and layers that run on `kernels`. Values are set
/// afterwards by `Network::initialise`.
pub struct Builder<'a> {
    varmap: &'a VarMap,
    device: &'a Device,
    kernels: Kernels,
}

impl<'a> Builder<'a> {
    pub fn new(varmap: &'a VarMap, device: &'a Device, kernels: Kernels) -> Self {
        Builder {
            varmap,
            device,
            kernels,
        }
    }

    /// The kernels every layer built here runs on.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    fn var(&mut self, name: &str, dims: &[usize]) -> Result<Var> {
        self.varmap
            .get(dims, name, Init::Const(0.0), DType::F32, self.device)?;
        // `VarMap::get` hands back the tensor of the Var it stored; find the Var itself.
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("parameter map lock poisoned".into()))?;
        let var = data
            .get(name)
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg(format!("parameter '{name}' not stored")))?;
        Ok(var)
    }

    pub fn linear(&mut self, name: &str, inputs: usize, outputs: usize) -> Result<Linear> {
        Ok(Linear {
            weight: self.var(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: self.var(&format!("{name}.bias"), &[outputs])?,
        })
    }

    /// A bias-free convolution followed by batch norm (β learned, γ fixed at 1 as slim's
    /// `batch_norm` defaults to `scale=False`) and a ReLU, as every `slim.conv2d` of the
    /// authors' Inception-ResNet is under its `normalizer_fn=slim.batch_norm` arg scope.
    pub fn conv_bn(
        &mut self,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: (usize, usize),
        stride: usize,
        padding: (usize, usize),
    ) -> Result<ConvBn> {
        Ok(ConvBn {
            weight: self.var(
                &format!("{name}.weight"),
                &[outputs, inputs, kernel.0, kernel.1],
            )?,
            bn: BatchNorm {
                beta: self.var(&format!("{name}.bn.beta"), &[outputs])?,
                running_mean: self.var(&format!("{name}.bn.running_mean"), &[outputs])?,
                running_var: self.var(&format!("{name}.bn.running_var"), &[outputs])?,
            },
            stride,
            padding,
            kernels: self.kernels,
        })
    }

    /// A convolution with a `kh × kw` kernel; `padding` = (rows, columns) of zeros each side.
    pub fn conv(
        &mut self,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: (usize, usize),
        stride: usize,
        padding: (usize, usize),
    ) -> Result<Conv2d> {
        Ok(Conv2d {
            weight: self.var(
                &format!("{name}.weight"),
                &[outputs, inputs, kernel.0, kernel.1],
            )?,
            bias: self.var(&format!("{name}.bias"), &[outputs])?,
            stride,
            padding,
            kernels: self.kernels,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Linear {
    /// `[outputs, inputs]`
    pub weight: Var,
    pub bias: Var,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())
    }
}

#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[outputs, inputs, kh, kw]`
    pub weight: Var,
    pub bias: Var,
    pub stride: usize,
    pub padding: (usize, usize),
    pub kernels: Kernels,
}

impl Conv2d {
    /// Convolution plus bias. With the fast kernels on the CPU (f32) one fused op from
    /// `crate::kernels` (im2col + GEMM, with its own backward); otherwise candle's `conv2d`
    /// and a broadcast add.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.kernels.conv2d_bias(
            x,
            self.weight.as_tensor(),
            self.bias.as_tensor(),
            self.stride,
            self.padding,
            false,
        )
    }

    /// `relu(self.forward(x))` as one op on the CPU (the ReLU and its backward fused into the
    /// convolution's), the same values as `forward(x)?.relu()`.
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.kernels.conv2d_bias(
            x,
            self.weight.as_tensor(),
            self.bias.as_tensor(),
            self.stride,
            self.padding,
            true,
        )
    }

    /// `max_pool2d(self.forward_relu(x), pool)` (windows `pool × pool`, stride `pool`) as one
    /// op on the CPU: the unpooled output is never stored.
    pub fn forward_relu_pool(&self, x: &Tensor, pool: usize) -> Result<Tensor> {
        self.kernels.conv2d_bias_relu_pool(
            x,
            self.weight.as_tensor(),
            self.bias.as_tensor(),
            self.stride,
            self.padding,
            pool,
        )
    }
}

/// Per-channel batch norm over N·H·W with γ = 1: `(x − μ)/√(σ² + ε) + β`.
///
/// Training normalises by the batch's mean and (biased) variance and moves the running
/// averages by `r ← d·r + (1 − d)·batch` with d = [`BN_DECAY`]; the variance that enters the
/// running average is the unbiased one (× n/(n − 1)), as TF's fused batch norm (slim's path for
/// 4-D inputs) and PyTorch both do. Evaluation normalises by the running averages.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    /// `[channels]`, learned.
    pub beta: Var,
    /// `[channels]`, moved in training, never by an optimiser.
    pub running_mean: Var,
    pub running_var: Var,
}

impl BatchNorm {
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let channels = self.beta.dim(0)?;
        let per_channel = |t: &Tensor| t.reshape((1, channels, 1, 1));
        let beta = per_channel(self.beta.as_tensor())?;
        if !mode.is_training() {
            // Constants here: detached so no backward pass ever reaches them.
            let mean = per_channel(&self.running_mean.as_tensor().detach())?;
            let var = self.running_var.as_tensor().detach();
            let inv_std = per_channel(&(var + BN_EPSILON)?.sqrt()?.recip()?)?;
            return x
                .broadcast_sub(&mean)?
                .broadcast_mul(&inv_std)?
                .broadcast_add(&beta);
        }
        let mean = x.mean_keepdim((0, 2, 3))?;
        let centred = x.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim((0, 2, 3))?;
        self.move_running_statistics(&mean, &variance, x.elem_count() / channels)?;
        centred
            .broadcast_div(&(&variance + BN_EPSILON)?.sqrt()?)?
            .broadcast_add(&beta)
    }

    /// One step of the moving averages towards this batch's mean and variance (over `count`
    /// values per channel).
    fn move_running_statistics(
        &self,
        mean: &Tensor,
        variance: &Tensor,
        count: usize,
    ) -> Result<()> {
        let bessel = if count > 1 {
            count as f64 / (count - 1) as f64
        } else {
            1.0
        };
        let towards = |running: &Var, batch: &Tensor, factor: f64| -> Result<()> {
            let batch = batch.detach().flatten_all()?;
            let next =
                ((running.as_tensor() * BN_DECAY)? + (batch * ((1.0 - BN_DECAY) * factor))?)?;
            running.set(&next)
        };
        towards(&self.running_mean, mean, 1.0)?;
        towards(&self.running_var, variance, bessel)
    }
}

/// Convolution (no bias) → batch norm → ReLU.
#[derive(Clone, Debug)]
pub struct ConvBn {
    /// `[outputs, inputs, kh, kw]`
    pub weight: Var,
    pub bn: BatchNorm,
    pub stride: usize,
    pub padding: (usize, usize),
    pub kernels: Kernels,
}

impl ConvBn {
    pub fn forward_relu(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let y = self
            .kernels
            .conv2d(x, self.weight.as_tensor(), self.stride, self.padding)?;
        self.bn.forward(&y, mode)?.relu()
    }
}

/// Inverted dropout: each value kept with probability `keep` and scaled by 1/`keep`, the mask
/// drawn on the host from `seed` (so a step repeats exactly on any device).
pub fn dropout(x: &Tensor, keep: f64, seed: u64) -> Result<Tensor> {
    if !(keep > 0.0 && keep <= 1.0) {
        candle_core::bail!("dropout: keep probability {keep} must be in (0, 1]");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = (1.0 / keep) as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.random::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, x.dims(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(values: &[f32]) -> Var {
        Var::from_tensor(&Tensor::new(values, &Device::Cpu).unwrap()).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{what}: {got:?} vs {want:?}");
        }
    }

    #[test]
    fn batch_norm_train_and_eval_match_a_hand_reference() {
        // x: N = 2, C = 2, H = 1, W = 2. Channel 0 holds 1, 2 | 3, 6: mean 3, biased variance
        // (4 + 1 + 0 + 9)/4 = 3.5; channel 1 holds 0, 0 | 0, 4: mean 1, variance 3. β = (0.5, −1).
        // Train: (x − μ)/√(σ² + 0.001) + β. Running averages from (0, 1) after one step:
        // mean 0.005·μ = (0.015, 0.005); variance 0.995 + 0.005·σ²·4/3 = (1.018333, 1.015).
        // Eval: (x − running mean)/√(running var + 0.001) + β. In numpy:
        //   x = np.array([1,2,0,0, 3,6,0,4], float).reshape(2,2,1,2)
        //   m = x.mean(axis=(0,2,3), keepdims=True); v = x.var(axis=(0,2,3), keepdims=True)
        //   train = (x - m)/np.sqrt(v + 0.001) + beta
        //   rm = 0.005*m; rv = 0.995 + 0.005*v*4/3; evl = (x - rm)/np.sqrt(rv + 0.001) + beta
        let bn = BatchNorm {
            beta: var(&[0.5, -1.0]),
            running_mean: var(&[0.0, 0.0]),
            running_var: var(&[1.0, 1.0]),
        };
        let x = Tensor::new(&[1f32, 2., 0., 0., 3., 6., 0., 4.], &Device::Cpu)
            .unwrap()
            .reshape((2, 2, 1, 2))
            .unwrap();
        let train = bn.forward(&x, Mode::Train { step: 1 }).unwrap();
        assert_close(
            &values(&train),
            &[
                -0.568892, -0.034446, -1.577254, -1.577254, 0.5, 2.103338, -1.577254, 0.731762,
            ],
            "train",
        );
        assert_close(
            &values(bn.running_mean.as_tensor()),
            &[0.015, 0.005],
            "mean",
        );
        assert_close(
            &values(bn.running_var.as_tensor()),
            &[1.018_333, 1.015],
            "var",
        );
        let eval = bn.forward(&x, Mode::Eval).unwrap();
        assert_close(
            &values(&eval),
            &[
                1.475614, 2.466085, -1.00496, -1.00496, 3.456557, 6.427971, -1.00496, 2.963418,
            ],
            "eval",
        );
        // Evaluation leaves the running statistics alone.
        assert_close(
            &values(bn.running_var.as_tensor()),
            &[1.018_333, 1.015],
            "var",
        );
    }

    #[test]
    fn batch_norm_trains_beta_and_not_the_running_statistics() {
        // d/dβ of Σ y·g is Σ g per channel; the running statistics get no gradient.
        let bn = BatchNorm {
            beta: var(&[0.0, 0.0]),
            running_mean: var(&[0.0, 0.0]),
            running_var: var(&[1.0, 1.0]),
        };
        let x = Tensor::new(&[1f32, 2., 0., 0., 3., 6., 0., 4.], &Device::Cpu)
            .unwrap()
            .reshape((2, 2, 1, 2))
            .unwrap();
        let g = Tensor::new(&[1f32, 1., 2., 2., 1., 1., 2., 2.], &Device::Cpu)
            .unwrap()
            .reshape((2, 2, 1, 2))
            .unwrap();
        for mode in [Mode::Train { step: 1 }, Mode::Eval] {
            let y = bn.forward(&x, mode).unwrap();
            let grads = (y * &g).unwrap().sum_all().unwrap().backward().unwrap();
            assert_close(
                &values(grads.get(bn.beta.as_tensor()).unwrap()),
                &[4.0, 8.0],
                "dβ",
            );
            assert!(grads.get(bn.running_mean.as_tensor()).is_none());
            assert!(grads.get(bn.running_var.as_tensor()).is_none());
        }
        assert!(is_running_statistic("trunk.stem1.bn.running_var"));
        assert!(!is_running_statistic("trunk.stem1.bn.beta"));
    }

    #[test]
    fn dropout_keeps_half_scaled_by_two_and_repeats_with_its_seed() {
        let x = Tensor::ones((100, 100), DType::F32, &Device::Cpu).unwrap();
        let a = values(&dropout(&x, 0.5, 7).unwrap());
        assert_eq!(
            a,
            values(&dropout(&x, 0.5, 7).unwrap()),
            "same seed, same mask"
        );
        assert_ne!(a, values(&dropout(&x, 0.5, 8).unwrap()), "another seed");
        assert!(a.iter().all(|&v| v == 0.0 || v == 2.0));
        let kept = a.iter().filter(|&&v| v == 2.0).count();
        assert!((4_800..=5_200).contains(&kept), "kept {kept} of 10000");
        assert!(dropout(&x, 0.0, 1).is_err());
    }
}
