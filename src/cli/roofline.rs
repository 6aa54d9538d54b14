//! `cari-mtl bench --roofline`: how close a training step comes to what this machine's GEMM
//! can do. It measures the fp32 rate of the GEMM the kernels call (`kernels::gemm::matmul`,
//! the `gemm` crate, on rayon's threads), counts each layer's GEMM FLOPs (forward, input
//! gradient, weight gradient) for the reference workload (../shared/reference/BENCH-MODEL.md)
//! and the tiny preset, times each pass of each layer alone and the whole step, and prints the
//! share of the GEMM rate each reaches. Every machine shows its own gap.

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor, Var};
use std::time::Instant;

use super::bench::BenchArgs;
use super::reference::{ReferenceTraining, ReferenceWorkload};
use super::timing::median_of;
use crate::kernels::Kernels;
use crate::kernels::gemm::{GemmThreads, measured_rate};
use crate::model::layers::{Conv2d, Linear};
use crate::model::{Branch, Network, Trunk};
use crate::train::trainer::{Trainer, select_device};

/// Side of the square products the GEMM rate is measured on.
const GEMM_SIZE: usize = 2048;
/// Timed repetitions of each layer pass (the median is printed).
const LAYER_REPEATS: usize = 9;

/// What a layer multiplies.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// A convolution with bias and ReLU, then a `pool × pool` max-pool if `pool` > 1.
    Conv {
        /// Input `[N, C, H, W]`.
        input: [usize; 4],
        outputs: usize,
        kernel: (usize, usize),
        stride: usize,
        padding: (usize, usize),
        pool: usize,
    },
    /// `x · Wᵀ + b` on `rows` rows.
    Linear {
        rows: usize,
        inputs: usize,
        outputs: usize,
    },
}

impl Shape {
    /// The GEMM FLOPs of one pass: the forward, the input gradient and the weight gradient
    /// each multiply the same three sizes (2·M·N·K).
    fn pass_flops(&self) -> f64 {
        match *self {
            Shape::Conv {
                input: [n, c, h, w],
                outputs,
                kernel: (kh, kw),
                stride,
                padding: (ph, pw),
                ..
            } => {
                let oh = (h + 2 * ph - kh) / stride + 1;
                let ow = (w + 2 * pw - kw) / stride + 1;
                2.0 * (n * outputs * c * kh * kw * oh * ow) as f64
            }
            Shape::Linear {
                rows,
                inputs,
                outputs,
            } => 2.0 * (rows * inputs * outputs) as f64,
        }
    }

    fn describe(&self) -> String {
        match *self {
            Shape::Conv {
                input: [_, c, h, w],
                outputs,
                kernel: (kh, kw),
                pool,
                ..
            } => {
                let pooled = if pool > 1 { " +pool" } else { "" };
                format!("conv {kh}×{kw} {c}→{outputs} at {h}×{w}{pooled}")
            }
            Shape::Linear {
                inputs, outputs, ..
            } => format!("linear {inputs}→{outputs}"),
        }
    }
}

/// One layer of a step, `count` times alike (the three branches).
struct Layer {
    name: String,
    shape: Shape,
    count: usize,
    /// Whether the step needs the gradient of the layer's input (not for the images).
    input_grad: bool,
}

/// Seconds of one layer's passes, each the median of [`LAYER_REPEATS`].
struct PassTimes {
    forward: f64,
    backward: Backward,
}

/// How a layer's backward was timed.
enum Backward {
    /// The convolutions: the input gradient apart (the time of the backward with it less the
    /// time without it; `None` where the step needs none) and the weight gradient.
    Apart {
        input_grad: Option<f64>,
        weight_grad: f64,
    },
    /// The linear layers: candle's matmul backward computes both gradients whether or not
    /// the input is a variable, so only their sum can be timed.
    Together(f64),
}

/// The most timed steps a roofline takes per workload.
const MAX_STEPS: u64 = 10_000;

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.steps == 0 || args.steps > MAX_STEPS {
        bail!("--steps {}: must be between 1 and {MAX_STEPS}", args.steps);
    }
    let device = select_device(&args.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    if !device.is_cpu() {
        bail!("--roofline measures the CPU's GEMM: use --device cpu");
    }
    let kernels = Kernels::parse(&args.kernels)
        .map_err(anyhow::Error::msg)
        .context("--kernels")?;
    let threads = rayon::current_num_threads();
    println!(
        "machine: {} ({threads} rayon threads); {} kernels",
        cpu_model(),
        kernels.key()
    );
    let shared = measured_rate(GEMM_SIZE, GemmThreads::Shared, 3);
    let per_thread = measured_rate(GEMM_SIZE, GemmThreads::PerThread, 3);
    let roof = shared.max(per_thread);
    println!(
        "GEMM (kernels::gemm::matmul = gemm 0.19 f32, run-time SIMD dispatch), {GEMM_SIZE}³ products:"
    );
    println!(
        "  one product over {threads} threads (Parallelism::Rayon): {:.1} GFLOP/s",
        shared / 1e9
    );
    println!(
        "  one single-threaded product per thread at once (Parallelism::None): {:.1} GFLOP/s",
        per_thread / 1e9
    );
    println!("  roof = the higher: {:.1} GFLOP/s", roof / 1e9);

    let work = ReferenceWorkload::new(&device, kernels)?;
    let layers = reference_layers(&work)?;
    let mut training = ReferenceTraining::new(work)?;
    let step = median_secs(args.steps, || Ok(training.step()?))?;
    report(
        "reference",
        "reference workload (BENCH-MODEL.md), batch 64",
        &layers,
        step,
        roof,
        kernels,
    )?;

    let mut trainer = tiny_trainer(args, kernels, &device)?;
    let layers = tiny_layers(trainer.network(), args.batch_size)?;
    let step = median_secs(args.steps, || {
        trainer.step().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    })?;
    let title = format!(
        "tiny preset, {} {}, batch {}",
        args.strategy, "(the trainer's whole step)", args.batch_size
    );
    report("tiny", &title, &layers, step, roof, kernels)
}

/// The CPU's model name from /proc/cpuinfo (what `lscpu` shows), or "unknown CPU".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The median seconds of `steps` calls of `step`, after 3 untimed ones.
fn median_secs(steps: u64, mut step: impl FnMut() -> Result<()>) -> Result<f64> {
    median_of(3, steps.max(1) as usize, || {
        let started = Instant::now();
        step()?;
        Ok(started.elapsed().as_secs_f64())
    })
}

/// The reference workload's layers, read from its parameters.
fn reference_layers(work: &ReferenceWorkload) -> Result<Vec<Layer>> {
    let batch = ReferenceWorkload::BATCH;
    let mut side = ReferenceWorkload::IMAGE_SIDE;
    let mut layers = Vec::new();
    for (i, conv) in work.convs().iter().enumerate() {
        let pool = if i < 3 { 2 } else { 1 };
        let shape = conv_shape(conv, batch, side, pool)?;
        layers.push(Layer {
            name: format!("c{}", i + 1),
            shape,
            count: 1,
            input_grad: i > 0,
        });
        side = (side + 2 * conv.padding.0 - conv.weight.dim(2)?) / conv.stride + 1;
        side /= pool;
    }
    let (a, b) = &work.heads()[0];
    for (name, linear) in [("heads .a", a), ("heads .b", b)] {
        layers.push(Layer {
            name: name.into(),
            shape: linear_shape(linear, batch)?,
            count: work.heads().len(),
            input_grad: true,
        });
    }
    layers.push(Layer {
        name: "psi".into(),
        shape: linear_shape(work.psi(), batch)?,
        count: 1,
        input_grad: true,
    });
    Ok(layers)
}

/// The tiny preset's layers: the trunk's convolutions (each with its 2×2 pool), each branch's
/// three linear layers, Ψ.
fn tiny_layers(network: &Network, batch: usize) -> Result<Vec<Layer>> {
    let Trunk::Tiny(convs) = &network.trunk else {
        bail!("--roofline counts the tiny preset's layers only");
    };
    let mut side = network.preset.image_size();
    let mut layers = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        layers.push(Layer {
            name: format!("trunk.conv{}", i + 1),
            shape: conv_shape(conv, batch, side, 2)?,
            count: 1,
            input_grad: i > 0,
        });
        let conv_side = (side + 2 * conv.padding.0 - conv.weight.dim(2)?) / conv.stride + 1;
        side = conv_side / 2;
    }
    if let Branch::Mlp {
        hidden,
        embed,
        classifier,
    } = &network.branches[0]
    {
        for (name, linear) in [
            ("branch .hidden", hidden),
            ("branch .embed", embed),
            ("branch .classifier", classifier),
        ] {
            layers.push(Layer {
                name: name.into(),
                shape: linear_shape(linear, batch)?,
                count: network.branches.len(),
                input_grad: true,
            });
        }
    }
    let psi = Linear {
        weight: network.psi.weight.clone(),
        bias: network.psi.bias.clone(),
    };
    layers.push(Layer {
        name: "psi".into(),
        shape: linear_shape(&psi, batch)?,
        count: 1,
        input_grad: true,
    });
    Ok(layers)
}

fn conv_shape(conv: &Conv2d, batch: usize, side: usize, pool: usize) -> Result<Shape> {
    let (o, c, kh, kw) = conv.weight.dims4()?;
    Ok(Shape::Conv {
        input: [batch, c, side, side],
        outputs: o,
        kernel: (kh, kw),
        stride: conv.stride,
        padding: conv.padding,
        pool,
    })
}

fn linear_shape(linear: &Linear, rows: usize) -> Result<Shape> {
    let (outputs, inputs) = linear.weight.dims2()?;
    Ok(Shape::Linear {
        rows,
        inputs,
        outputs,
    })
}

/// The bench's tiny-preset trainer (the synthetic set `bench` uses, `--strategy`,
/// `--batch-size`).
fn tiny_trainer(args: &BenchArgs, kernels: Kernels, device: &Device) -> Result<Trainer> {
    let mut config = super::bench::bench_config(args, "tiny")?;
    config.kernels = kernels;
    let dataset = crate::cli::train::load_dataset(&config, true)?;
    Ok(Trainer::new(config, dataset, device)?)
}

/// Times one layer's forward, its backward with the input's gradient and without it (the
/// difference is the input gradient's time).
fn time_layer(layer: &Layer, kernels: Kernels) -> Result<PassTimes> {
    let device = Device::Cpu;
    let (input_dims, weight_dims, out_channels): (Vec<usize>, Vec<usize>, usize) = match layer.shape
    {
        Shape::Conv {
            input,
            outputs,
            kernel: (kh, kw),
            ..
        } => (input.to_vec(), vec![outputs, input[1], kh, kw], outputs),
        Shape::Linear {
            rows,
            inputs,
            outputs,
        } => (vec![rows, inputs], vec![outputs, inputs], outputs),
    };
    let x = Tensor::randn(0f32, 1.0, input_dims, &device)?;
    let x_var = Var::from_tensor(&x)?;
    let w = Var::from_tensor(&(Tensor::randn(0f32, 1.0, weight_dims, &device)? * 0.05)?)?;
    let b = Var::from_tensor(&Tensor::zeros(out_channels, DType::F32, &device)?)?;
    let forward = |x: &Tensor| -> candle_core::Result<Tensor> {
        match layer.shape {
            Shape::Conv {
                stride,
                padding,
                pool,
                ..
            } if pool > 1 => kernels.conv2d_bias_relu_pool(
                x,
                w.as_tensor(),
                b.as_tensor(),
                stride,
                padding,
                pool,
            ),
            Shape::Conv {
                stride, padding, ..
            } => kernels.conv2d_bias(x, w.as_tensor(), b.as_tensor(), stride, padding, true),
            Shape::Linear { .. } => x.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor()),
        }
    };
    let forward_secs = median_of(1, LAYER_REPEATS, || {
        let started = Instant::now();
        forward(&x)?;
        Ok(started.elapsed().as_secs_f64())
    })?;
    let backward_secs = |input: &Tensor| {
        median_of(1, LAYER_REPEATS, || {
            let loss = forward(input)?.sum_all()?;
            let started = Instant::now();
            loss.backward()?;
            Ok(started.elapsed().as_secs_f64())
        })
    };
    let backward = match layer.shape {
        Shape::Linear { .. } => Backward::Together(backward_secs(x_var.as_tensor())?),
        Shape::Conv { .. } => {
            let weight_grad = backward_secs(&x)?;
            let input_grad = if layer.input_grad {
                Some((backward_secs(x_var.as_tensor())? - weight_grad).max(0.0))
            } else {
                None
            };
            Backward::Apart {
                input_grad,
                weight_grad,
            }
        }
    };
    Ok(PassTimes {
        forward: forward_secs,
        backward,
    })
}

/// What the step spends outside the layers timed alone. The two are timed apart, so the
/// difference carries both timings' spread and can come out below zero: then it says so
/// rather than print a negative time.
fn rest_of_step(secs: f64) -> String {
    if secs >= 0.0 {
        format!(
            "the rest of the step (losses, softmax, optimiser, graph) ≈ {:.2} ms",
            secs * 1e3
        )
    } else {
        format!(
            "the layers timed alone add up to {:.2} ms more than the step: the rest of the step is within the timings' spread",
            -secs * 1e3
        )
    }
}

/// Prints one workload's table: each layer's passes (GFLOP, ms, GFLOP/s, share of the roof),
/// the layers' sum, the rest of the step, and the step's share.
fn report(
    workload: &str,
    title: &str,
    layers: &[Layer],
    step_secs: f64,
    roof: f64,
    kernels: Kernels,
) -> Result<()> {
    println!();
    println!("{title}:");
    println!(
        "  {:<20} {:<28} {:<12} {:>8} {:>9} {:>9} {:>6}",
        "layer", "shape", "pass", "GFLOP", "ms", "GFLOP/s", "share"
    );
    let (mut flops_total, mut secs_total) = (0.0, 0.0);
    for layer in layers {
        let times = time_layer(layer, kernels)?;
        let flops = layer.shape.pass_flops() * layer.count as f64;
        let count = layer.count as f64;
        // (pass, multiples of the pass's FLOPs, seconds or None where not needed)
        let passes: Vec<(&str, f64, Option<f64>)> = match times.backward {
            Backward::Apart {
                input_grad,
                weight_grad,
            } => vec![
                ("forward", 1.0, Some(times.forward)),
                ("input grad", 1.0, input_grad),
                ("weight grad", 1.0, Some(weight_grad)),
            ],
            Backward::Together(secs) => vec![
                ("forward", 1.0, Some(times.forward)),
                ("both grads", 2.0, Some(secs)),
            ],
        };
        let name = if layer.count > 1 {
            format!("{} ×{}", layer.name, layer.count)
        } else {
            layer.name.clone()
        };
        for (i, (pass, multiple, secs)) in passes.into_iter().enumerate() {
            let flops = flops * multiple;
            let (name, shape) = if i == 0 {
                (name.as_str(), layer.shape.describe())
            } else {
                ("", String::new())
            };
            match secs {
                Some(secs) => {
                    let secs = secs * count;
                    flops_total += flops;
                    secs_total += secs;
                    println!(
                        "  {name:<20} {shape:<28} {pass:<12} {:>8.3} {:>9.2} {:>9.1} {:>6.2}",
                        flops / 1e9,
                        secs * 1e3,
                        flops / secs.max(1e-12) / 1e9,
                        flops / secs.max(1e-12) / roof
                    );
                }
                None => println!(
                    "  {name:<20} {shape:<28} {pass:<12} {:>8} (not needed: nothing upstream trains)",
                    "–"
                ),
            }
        }
    }
    println!(
        "  layers alone: {:.3} GFLOP in {:.2} ms = {:.1} GFLOP/s, {:.2} of the roof",
        flops_total / 1e9,
        secs_total * 1e3,
        flops_total / secs_total.max(1e-12) / 1e9,
        flops_total / secs_total.max(1e-12) / roof
    );
    println!(
        "  whole step (median): {:.2} ms = {:.1} GFLOP/s, {:.2} of the roof; {}",
        step_secs * 1e3,
        flops_total / step_secs.max(1e-12) / 1e9,
        flops_total / step_secs.max(1e-12) / roof,
        rest_of_step(step_secs - secs_total)
    );
    println!(
        "RESULT roofline workload={workload} step_ms={:.3} gflop={:.4} share={:.3}",
        step_secs * 1e3,
        flops_total / 1e9,
        flops_total / step_secs.max(1e-12) / roof
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_the_step_is_never_printed_negative() {
        assert_eq!(
            rest_of_step(0.004_63),
            "the rest of the step (losses, softmax, optimiser, graph) ≈ 4.63 ms"
        );
        let over = rest_of_step(-0.002_45);
        assert!(over.contains("2.45 ms more than the step"), "{over}");
        assert!(!over.contains('-'), "{over}");
    }
}
