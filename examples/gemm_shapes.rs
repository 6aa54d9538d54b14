//! The GEMMs of the reference workload's convolutions alone, at the shapes and layouts the
//! fast kernels (`kernels::conv`) give them: one single-threaded GEMM per image, the batch
//! spread over rayon's threads. Set beside `cari-mtl bench --roofline`, which times each
//! whole pass, it splits every pass into its GEMMs and everything around them (patch copies,
//! pooling, zero fills, sums).
//!
//! ```text
//! cargo run --release --example gemm_shapes
//! ```
//!
//! Per image n, with K = C·kh·kw and L = OH·OW (see `kernels/conv.rs`):
//! - forward: `W [O, K] · col [K, L]`;
//! - input gradient: `Wᵀ [K, O] · dout [O, L]` (W read transposed);
//! - weight gradient: `dout [O, L] · colᵀ [L, K]`, added over the batch; the patches are
//!   `[L, K]` from 8 channels on and `[K, L]` read transposed below.

use std::time::Instant;

use cari_mtl::kernels::gemm::{GemmThreads, Mat, matmul, measured_rate};
use gemm::Parallelism;
use rayon::prelude::*;

/// Images per step (BENCH-MODEL.md).
const BATCH: usize = 64;
/// Timed rounds per pass; the best is printed, as for the roof.
const ROUNDS: usize = 7;

/// `(name, input channels, output channels, side, input gradient needed)` of the four 3×3,
/// padding-1 convolutions (the images' gradient is not).
const LAYERS: [(&str, usize, usize, usize, bool); 4] = [
    ("c1", 3, 32, 64, false),
    ("c2", 32, 64, 32, true),
    ("c3", 64, 128, 16, true),
    ("c4", 128, 256, 8, true),
];

/// One GEMM per image: `m × n` from a `k` inner dimension, with the operands' strides.
struct Pass {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    /// (row stride, column stride) of the left and right operands.
    lhs: (usize, usize),
    rhs: (usize, usize),
    /// Whether each image's product is added to the last (the weight gradient's sum).
    accumulate: bool,
}

fn passes(c: usize, o: usize, side: usize) -> [Pass; 3] {
    let (k, l) = (c * 9, side * side);
    let patches_rhs = if c < 8 { (1, l) } else { (k, 1) };
    [
        Pass {
            name: "forward",
            m: o,
            n: l,
            k,
            lhs: (k, 1),
            rhs: (l, 1),
            accumulate: false,
        },
        Pass {
            name: "input grad",
            m: k,
            n: l,
            k: o,
            lhs: (1, k),
            rhs: (l, 1),
            accumulate: false,
        },
        Pass {
            name: "weight grad",
            m: o,
            n: k,
            k: l,
            lhs: (l, 1),
            rhs: patches_rhs,
            accumulate: true,
        },
    ]
}

/// Seconds for the batch's GEMMs of `pass`, best of [`ROUNDS`] after one untimed round.
fn batch_secs(pass: &Pass) -> f64 {
    // Fixed, finite operands: a GEMM's time does not depend on its values.
    let lhs: Vec<f32> = (0..pass.m * pass.k)
        .map(|i| (i % 7) as f32 * 0.25)
        .collect();
    let rhs: Vec<f32> = (0..pass.k * pass.n).map(|i| (i % 5) as f32 * 0.5).collect();
    let threads = rayon::current_num_threads();
    let mut outputs = vec![vec![0f32; pass.m * pass.n]; threads];
    let images_per_thread = BATCH.div_ceil(threads);
    let round = |outputs: &mut [Vec<f32>]| {
        let started = Instant::now();
        outputs.par_iter_mut().enumerate().for_each(|(t, dst)| {
            let images = images_per_thread.min(BATCH.saturating_sub(t * images_per_thread));
            for image in 0..images {
                let left = Mat {
                    data: &lhs,
                    rs: pass.lhs.0,
                    cs: pass.lhs.1,
                };
                let right = Mat {
                    data: &rhs,
                    rs: pass.rhs.0,
                    cs: pass.rhs.1,
                };
                let accumulate = pass.accumulate && image > 0;
                let par = Parallelism::None;
                matmul(
                    pass.m, pass.n, pass.k, dst, pass.n, accumulate, left, right, par,
                );
            }
        });
        started.elapsed().as_secs_f64()
    };
    round(&mut outputs);
    (0..ROUNDS)
        .map(|_| round(&mut outputs))
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let roof = measured_rate(2048, GemmThreads::PerThread, 3);
    println!(
        "roof: one single-threaded 2048³ product per thread ({} threads): {:.1} GFLOP/s",
        rayon::current_num_threads(),
        roof / 1e9
    );
    println!(
        "{:<4} {:<12} {:>5} {:>5} {:>5} {:>8} {:>9} {:>6}",
        "", "pass", "m", "n", "k", "ms", "GFLOP/s", "share"
    );
    let mut total = 0.0;
    for (name, c, o, side, input_grad) in LAYERS {
        for pass in passes(c, o, side) {
            if pass.name == "input grad" && !input_grad {
                continue;
            }
            let secs = batch_secs(&pass);
            total += secs;
            let flops = 2.0 * (pass.m * pass.n * pass.k * BATCH) as f64;
            println!(
                "{name:<4} {:<12} {:>5} {:>5} {:>5} {:>8.2} {:>9.1} {:>6.2}",
                pass.name,
                pass.m,
                pass.n,
                pass.k,
                secs * 1e3,
                flops / secs / 1e9,
                flops / secs / roof
            );
        }
    }
    println!(
        "the step's eleven passes, GEMMs alone: {:.2} ms",
        total * 1e3
    );
}
