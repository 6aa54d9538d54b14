//! Where the time of the reference training step (BENCH-MODEL.md, `cari-mtl bench --reference`)
//! goes: forward, backward and optimiser timed apart, for two ways of writing the trunk —
//! `separate` (conv.forward_relu, then kernels::max_pool2d as its own op) and `fused`
//! (conv.forward_relu_pool: one op, as the crate's trunks and the benchmark do) — plus the
//! embedding pass for each, and per-layer convolution timings against candle's conv2d.
//!
//! cargo run --release --example step_profile [steps]

use std::time::Instant;

use anyhow::Result;
use candle_core::{Device, Tensor};
use cari_mtl::cli::reference::ReferenceWorkload;
use cari_mtl::kernels;
use cari_mtl::train::config::OptimizerKind;
use cari_mtl::train::optim::Optimizer;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let device = Device::Cpu;
    let work = ReferenceWorkload::new(&device, kernels::Kernels::Fast)?;
    let mut opt = Optimizer::new(OptimizerKind::Sgd { momentum: 0.0 }, work.varmap.all_vars())?;
    let batch = ReferenceWorkload::BATCH;
    let all = Tensor::randn(0f32, 1.0, (2000, 3, 64, 64), &device)?;

    for (variant, fused) in [("separate", false), ("fused", true)] {
        let (mut fwd, mut bwd, mut upd, mut total) = (vec![], vec![], vec![], vec![]);
        for s in 0..steps + 3 {
            let t0 = Instant::now();
            let loss = work.loss(&work.trunk(&work.images, fused)?)?;
            let t1 = Instant::now();
            let grads = loss.backward()?;
            let t2 = Instant::now();
            opt.step(&grads, 0.01, 0.0)?;
            let t3 = Instant::now();
            if s >= 3 {
                fwd.push((t1 - t0).as_secs_f64() * 1e3);
                bwd.push((t2 - t1).as_secs_f64() * 1e3);
                upd.push((t3 - t2).as_secs_f64() * 1e3);
                total.push((t3 - t0).as_secs_f64() * 1e3);
            }
        }
        let t = Instant::now();
        for k in 0..10 {
            work.embed(&all.narrow(0, k * 200, 200)?.detach(), fused)?;
        }
        let embed = t.elapsed().as_secs_f64();
        println!(
            "{variant:>8}: step {:.1} ms (forward {:.1}, backward {:.1}, optimiser {:.1}); embedding pass {:.2} s",
            median(total),
            median(fwd),
            median(bwd),
            median(upd),
            embed
        );
    }

    // candle's max_pool2d backward vs kernels::max_pool2d on one 2×2 window with one maximum.
    let x = candle_core::Var::from_slice(&[1f32, 4., 2., 3.], (1, 1, 2, 2), &device)?;
    for (name, y) in [
        ("candle ", x.as_tensor().max_pool2d(2)?),
        ("kernels", kernels::max_pool2d(x.as_tensor(), 2)?),
    ] {
        let g = y.sum_all()?.backward()?;
        let dx = g
            .get(x.as_tensor())
            .map(|t| t.flatten_all()?.to_vec1::<f32>());
        println!("{name} max_pool2d gradient of the window [1, 4, 2, 3]: {dx:?}");
    }

    // Per-layer conv timings (batch 64), forward and backward, ours vs candle's.
    let shapes = [(3, 32, 64), (32, 64, 32), (64, 128, 16), (128, 256, 8)];
    for (c, o, hw) in shapes {
        let x =
            candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (batch, c, hw, hw), &device)?)?;
        let w = candle_core::Var::from_tensor(&Tensor::randn(0f32, 0.1, (o, c, 3, 3), &device)?)?;
        let time = |f: &dyn Fn() -> candle_core::Result<()>| -> candle_core::Result<f64> {
            f()?;
            let mut v = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                f()?;
                v.push(t.elapsed().as_secs_f64() * 1e3);
            }
            Ok(median(v))
        };
        let ours_f =
            time(&|| kernels::conv2d(x.as_tensor(), w.as_tensor(), 1, (1, 1)).map(|_| ()))?;
        let ours_fb = time(&|| {
            kernels::conv2d(x.as_tensor(), w.as_tensor(), 1, (1, 1))?
                .sum_all()?
                .backward()
                .map(|_| ())
        })?;
        let theirs_f = time(&|| x.as_tensor().conv2d(w.as_tensor(), 1, 1, 1, 1).map(|_| ()))?;
        println!(
            "conv {c:>3}→{o:>3} at {hw:>2}×{hw:<2}: ours forward {ours_f:.1} ms, forward+backward {ours_fb:.1} ms; candle forward {theirs_f:.1} ms"
        );
    }
    Ok(())
}
