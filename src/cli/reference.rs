//! The speed-comparison workload of ../shared/reference/BENCH-MODEL.md (twin of
//! bench/torch_reference.py): `bench --reference` times it, `bench --roofline` counts its
//! FLOPs, and examples/step_profile.rs takes it apart.

use anyhow::{Context, Result};
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};

use super::timing::median;
use crate::kernels::Kernels;
use crate::model::layers::{Builder, Conv2d, Linear};
use crate::train::config::OptimizerKind;
use crate::train::losses::{centre_loss, masked_cross_entropy};
use crate::train::optim::Optimizer;
use crate::train::trainer::{device_label, select_device};

/// The network and the batch of the speed-comparison workload of
/// ../shared/reference/BENCH-MODEL.md (twin of bench/torch_reference.py): four 3×3 convolutions,
/// three heads with a centre term on the verification head's hidden vector, the weight module
/// Ψ, batch 64 of 3×64×64.
pub struct ReferenceWorkload {
    pub varmap: candle_nn::VarMap,
    /// What the convolutions and the separate pooling run on.
    kernels: Kernels,
    convs: [Conv2d; 4],
    /// (Linear 256→128, Linear 128→200) per task.
    heads: Vec<(Linear, Linear)>,
    psi: Linear,
    pub images: Tensor,
    labels: Vec<Tensor>,
    ones: Tensor,
    centres: Tensor,
}

impl ReferenceWorkload {
    pub const BATCH: usize = 64;
    /// Side of the square images.
    pub const IMAGE_SIDE: usize = 64;

    pub fn new(device: &Device, kernels: Kernels) -> candle_core::Result<ReferenceWorkload> {
        let varmap = candle_nn::VarMap::new();
        let mut b = Builder::new(&varmap, device, kernels);
        let convs = [
            b.conv("c1", 3, 32, (3, 3), 1, (1, 1))?,
            b.conv("c2", 32, 64, (3, 3), 1, (1, 1))?,
            b.conv("c3", 64, 128, (3, 3), 1, (1, 1))?,
            b.conv("c4", 128, 256, (3, 3), 1, (1, 1))?,
        ];
        let heads = (0..3)
            .map(|h| {
                Ok((
                    b.linear(&format!("h{h}.a"), 256, 128)?,
                    b.linear(&format!("h{h}.b"), 128, 200)?,
                ))
            })
            .collect::<candle_core::Result<_>>()?;
        let psi = b.linear("psi", 256, 3)?;
        // Small random values (they do not matter for timing, only that they are finite).
        for var in varmap.all_vars() {
            var.set(&(Tensor::randn(0f32, 1.0, var.dims(), device)? * 0.05)?)?;
        }
        let batch = Self::BATCH;
        let labels = (0..3)
            .map(|_| {
                Tensor::rand(0f32, 200.0, batch, device)?
                    .floor()?
                    .to_dtype(DType::U32)
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(ReferenceWorkload {
            kernels,
            varmap,
            convs,
            heads,
            psi,
            images: Tensor::randn(
                0f32,
                1.0,
                (batch, 3, Self::IMAGE_SIDE, Self::IMAGE_SIDE),
                device,
            )?,
            labels,
            ones: Tensor::ones(batch, DType::F32, device)?,
            centres: Tensor::zeros((batch, 128), DType::F32, device)?,
        })
    }

    /// Z (`[N, 256]`). `fused_pool`: each conv + ReLU + 2×2 max-pool as one op (as the crate's
    /// trunks do); otherwise the pooling is a separate op.
    pub fn trunk(&self, x: &Tensor, fused_pool: bool) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            x = match (i < 3, fused_pool) {
                (true, true) => conv.forward_relu_pool(&x, 2)?,
                (true, false) => self.kernels.max_pool2d(&conv.forward_relu(&x)?, 2)?,
                (false, _) => conv.forward_relu(&x)?,
            };
        }
        x.mean(D::Minus1)?.mean(D::Minus1)
    }

    /// The step's loss from Z of [`Self::images`]: Σ w_i·L_i with w held constant, plus
    /// L4 = Σ w_i / L_i with L held constant.
    pub fn loss(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        let mut losses = Vec::new();
        for (h, (a, b)) in self.heads.iter().enumerate() {
            let hidden = a.forward(z)?.relu()?;
            let logits = b.forward(&hidden)?;
            let mut loss = masked_cross_entropy(&logits, &self.labels[h], &self.ones, Self::BATCH)?;
            if h == 0 {
                loss = (loss + (centre_loss(&hidden, &self.centres)? * 0.01)?)?;
            }
            losses.push(loss);
        }
        let losses = Tensor::stack(&losses, 0)?;
        // candle-nn's softmax_last_dim has no backward (the gradient silently stops): use the
        // composed softmax.
        let w = candle_nn::ops::softmax(&self.psi.forward(z)?, D::Minus1)?.mean(0)?;
        let net = (w.detach() * &losses)?.sum_all()?;
        let l4 = (w * losses.detach().recip()?)?.sum_all()?;
        net + l4
    }

    /// The verification head's hidden vectors of `x`, copied to the host.
    pub fn embed(&self, x: &Tensor, fused_pool: bool) -> candle_core::Result<Vec<Vec<f32>>> {
        let z = self.trunk(x, fused_pool)?;
        self.heads[0].0.forward(&z)?.relu()?.to_vec2::<f32>()
    }

    /// The trunk's four convolutions.
    pub fn convs(&self) -> &[Conv2d; 4] {
        &self.convs
    }

    /// Per task: (Linear 256→128, Linear 128→200).
    pub fn heads(&self) -> &[(Linear, Linear)] {
        &self.heads
    }

    /// The weight module Ψ (Linear 256→3).
    pub fn psi(&self) -> &Linear {
        &self.psi
    }

    /// Ψ's parameters (they get their own optimiser).
    pub fn psi_vars(&self) -> Vec<Var> {
        vec![self.psi.weight.clone(), self.psi.bias.clone()]
    }

    /// Every parameter but Ψ's.
    pub fn net_vars(&self) -> Vec<Var> {
        let psi = self.psi_vars();
        self.varmap
            .all_vars()
            .into_iter()
            .filter(|v| !psi.iter().any(|p| p.as_tensor().id() == v.as_tensor().id()))
            .collect()
    }
}

/// The workload's training step: plain SGD at lr 0.01 on the network's parameters and on Ψ's,
/// each with its own optimiser.
pub struct ReferenceTraining {
    pub work: ReferenceWorkload,
    network: Optimizer,
    psi: Optimizer,
}

impl ReferenceTraining {
    pub fn new(work: ReferenceWorkload) -> candle_core::Result<ReferenceTraining> {
        let sgd = OptimizerKind::Sgd { momentum: 0.0 };
        Ok(ReferenceTraining {
            network: Optimizer::new(sgd, work.net_vars())?,
            psi: Optimizer::new(sgd, work.psi_vars())?,
            work,
        })
    }

    /// One forward pass, one backward pass, both updates.
    pub fn step(&mut self) -> candle_core::Result<()> {
        let z = self.work.trunk(&self.work.images, true)?;
        let grads = self.work.loss(&z)?.backward()?;
        self.network.step(&grads, 0.01, 0.0)?;
        self.psi.step(&grads, 0.01, 0.0)
    }
}

/// `bench --reference`: one training step of [`ReferenceWorkload`] (plain SGD lr 0.01 for both
/// parameter sets) and an embedding pass over 2,000 images in batches of 200.
pub fn bench_reference(device: &str, kernels: Kernels, steps: u64) -> Result<()> {
    let device = select_device(device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let mut training = ReferenceTraining::new(ReferenceWorkload::new(&device, kernels)?)?;
    for _ in 0..5 {
        training.step()?;
    }
    // On a GPU the ops only queue work: wait for it before each clock reading (a no-op on
    // the CPU).
    device.synchronize()?;
    let mut times = Vec::new();
    for _ in 0..steps {
        let t = Instant::now();
        training.step()?;
        device.synchronize()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let step_ms = median(times) * 1e3;
    let all = Tensor::randn(0f32, 1.0, (2000, 3, 64, 64), &device)?;
    let embed = || -> candle_core::Result<()> {
        for k in 0..10 {
            training
                .work
                .embed(&all.narrow(0, k * 200, 200)?.detach(), true)?;
        }
        Ok(())
    };
    embed()?;
    let mut embed_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        embed()?;
        embed_times.push(t.elapsed().as_secs_f64());
    }
    let embed_secs = median(embed_times);
    println!(
        "reference workload on {}, {} kernels ({} threads): median {:.1} ms/step over {} steps; embedding pass median {:.3} s over 5",
        device_label(&device),
        kernels.key(),
        rayon::current_num_threads(),
        step_ms,
        steps,
        embed_secs
    );
    println!("RESULT step_ms={step_ms:.3} embed_s={embed_secs:.4}");
    Ok(())
}
