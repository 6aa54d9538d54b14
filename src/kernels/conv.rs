//! 2-D convolution on the CPU as im2col + one GEMM per image, with its own backward.
//!
//! Layouts follow candle: input `[N, C, H, W]`, weight `[O, C, kh, kw]`, output
//! `[N, O, OH, OW]`; stride is the same on both axes, padding is (rows, columns) of zeros on
//! each side, dilation 1, one group, f32.
//!
//! For image n, with K = C·kh·kw and L = OH·OW, `col_n` is the `[K, L]` matrix whose column l
//! holds the input patch under output pixel l (zeros where the kernel hangs over the border):
//!
//! - forward: `out_n = W · col_n` (+ bias, then ReLU if asked), W seen as `[O, K]`;
//! - grad input: `dcol_n = Wᵀ · dout_n`, then col2im adds each patch back onto `dx_n`;
//! - grad weight: `dW = Σ_n dout_n · col_nᵀ`, summed per thread over a slice of the batch and
//!   the partial sums added at the end; the bias gradient is `Σ_n Σ_l dout_n`.
//!
//! The op can end with a ReLU and a max-pool ([`conv2d_bias_relu_pool`]): each image's
//! convolution output is pooled in a scratch buffer while it is in cache, and the forward keeps
//! one byte per output saying where its value came from (the window position of the maximum,
//! or "ReLU off"). The backward is one sweep over the batch: per image it rebuilds the unpooled
//! gradient from those bytes in a scratch buffer, then computes `dx_n` and adds to `dW`, so no
//! full-size intermediate tensor (unpooled output, its gradient, a ReLU mask) is ever stored.
//!
//! A 1×1 convolution with stride 1 and no padding has `col_n = x_n` and skips the copies.
//! Images are spread over rayon's threads (one single-threaded GEMM each) when the batch is
//! at least twice the thread count; otherwise images go one by one and each GEMM uses all
//! threads.
//!
//! On other devices or dtypes, [`conv2d`] and [`conv2d_bias`] fall back to candle's own ops
//! ([`portable_conv2d`], [`portable_conv2d_bias`]: the portable path of [`super::Kernels`]).

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor, bail};
use gemm::Parallelism;

use super::gemm::{Mat, matmul};
use super::storage::f32_data;
use rayon::prelude::*;

/// `x` `[N, C, H, W]` convolved with `weight` `[O, C, kh, kw]`, no bias.
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: (usize, usize),
) -> Result<Tensor> {
    if use_fast_path(x, weight) {
        x.apply_op2(weight, ConvNoBias(Conv::new(stride, padding, Tail::NONE)))
    } else {
        portable_conv2d(x, weight, stride, padding)
    }
}

/// `x` convolved with `weight`, plus `bias` `[O]` per output channel, then ReLU if `relu`;
/// one op (one node in the graph) instead of three.
pub fn conv2d_bias(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: (usize, usize),
    relu: bool,
) -> Result<Tensor> {
    conv2d_bias_tail(x, weight, bias, stride, padding, Tail { relu, pool: 1 })
}

/// `max_pool2d(relu(conv2d(x, weight) + bias), pool)` as one op: each image's convolution
/// output is pooled while it is still in cache and never stored, and the backward pass sends
/// each pooled gradient straight to its window's maximum (the same values as
/// [`super::max_pool2d`] after [`conv2d_bias`] with the ReLU). Windows are `pool × pool` with
/// stride `pool`, `1 ≤ pool ≤ 15`.
pub fn conv2d_bias_relu_pool(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: (usize, usize),
    pool: usize,
) -> Result<Tensor> {
    conv2d_bias_tail(x, weight, bias, stride, padding, Tail { relu: true, pool })
}

fn conv2d_bias_tail(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: (usize, usize),
    tail: Tail,
) -> Result<Tensor> {
    if use_fast_path(x, weight) && bias.device().is_cpu() && bias.dtype() == DType::F32 {
        x.apply_op3(weight, bias, ConvBias(Conv::new(stride, padding, tail)))
    } else {
        portable_conv2d_bias(x, weight, bias, stride, padding, tail.relu, tail.pool)
    }
}

fn use_fast_path(x: &Tensor, weight: &Tensor) -> bool {
    x.device().is_cpu()
        && weight.device().is_cpu()
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
}

// ---------------------------------------------------------------------------------------------
// The portable path: candle's own ops, as any device runs them

/// [`conv2d`] with candle's own `conv2d`; candle pads both axes alike, so asymmetric padding
/// (1×7 kernels) is done by hand.
pub fn portable_conv2d(
    x: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: (usize, usize),
) -> Result<Tensor> {
    let (rows, cols) = padding;
    if rows == cols {
        x.conv2d(weight, rows, stride, 1, 1)
    } else {
        x.pad_with_zeros(2, rows, rows)?
            .pad_with_zeros(3, cols, cols)?
            .conv2d(weight, 0, stride, 1, 1)
    }
}

/// [`conv2d_bias`] (and, with `pool` > 1, [`conv2d_bias_relu_pool`]) from candle's own ops:
/// `conv2d`, a broadcast add, [`portable_relu`], and pooling by reshape + `argmax`
/// ([`super::pool::max_pool2d_by_reduction`]).
pub fn portable_conv2d_bias(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: (usize, usize),
    relu: bool,
    pool: usize,
) -> Result<Tensor> {
    let out_channels = bias.dim(0)?;
    let mut y = portable_conv2d(x, weight, stride, padding)?.broadcast_add(&bias.reshape((
        1,
        out_channels,
        1,
        1,
    ))?)?;
    if relu {
        y = portable_relu(&y)?;
    }
    if pool > 1 {
        y = super::pool::max_pool2d_by_reduction(&y, pool)?;
    }
    Ok(y)
}

/// max(y, 0) with derivative 0 where y is exactly 0, as the fused kernels' (and PyTorch's):
/// candle's `relu` passes the gradient where its input is ≥ 0, and exact zeros before the
/// ReLU are common (a patch of the previous layer's ReLU zeros or of padding, with a zero
/// bias). The mask is a comparison, which carries no gradient.
pub fn portable_relu(y: &Tensor) -> Result<Tensor> {
    y * y.gt(&y.zeros_like()?)?.to_dtype(y.dtype())?
}

// ---------------------------------------------------------------------------------------------
// Geometry

#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

impl Geom {
    fn new(
        input: &[usize],
        weight: &[usize],
        stride: usize,
        (ph, pw): (usize, usize),
    ) -> Result<Geom> {
        let (&[n, c, h, w], &[o, wc, kh, kw]) = (input, weight) else {
            bail!("conv2d: input {input:?} and weight {weight:?} must both have rank 4")
        };
        if wc != c {
            bail!("conv2d: input has {c} channels, weight expects {wc}");
        }
        if stride == 0 || kh == 0 || kw == 0 {
            bail!("conv2d: stride and kernel sizes must be at least 1");
        }
        if h + 2 * ph < kh || w + 2 * pw < kw {
            bail!("conv2d: kernel {kh}×{kw} larger than padded input {h}×{w} (+{ph}, +{pw})");
        }
        Ok(Geom {
            n,
            c,
            h,
            w,
            o,
            kh,
            kw,
            stride,
            ph,
            pw,
            oh: (h + 2 * ph - kh) / stride + 1,
            ow: (w + 2 * pw - kw) / stride + 1,
        })
    }

    /// Rows of `col`: C·kh·kw.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of `col`: output pixels per channel.
    fn l(&self) -> usize {
        self.oh * self.ow
    }

    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    fn out_image_len(&self) -> usize {
        self.o * self.l()
    }

    /// `col_n` is the image itself.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.ph == 0 && self.pw == 0
    }

    /// Output columns `lo..hi` whose input column `ow·stride + kj − pw` lies inside the image.
    fn valid_cols(&self, kj: usize) -> (usize, usize) {
        let s = self.stride;
        let lo = if kj >= self.pw {
            0
        } else {
            (self.pw - kj).div_ceil(s)
        };
        let hi = if self.w + self.pw > kj {
            ((self.w - 1 + self.pw - kj) / s + 1).min(self.ow)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// Input row under output row `oy` for kernel row `ki`, if inside the image.
    fn input_row(&self, oy: usize, ki: usize) -> Option<usize> {
        (oy * self.stride + ki)
            .checked_sub(self.ph)
            .filter(|&r| r < self.h)
    }

    /// Threads to spread images over (1 = images one by one, GEMMs multi-threaded).
    fn batch_threads(&self) -> usize {
        let threads = rayon::current_num_threads();
        if threads > 1 && self.n >= 2 * threads {
            threads
        } else {
            1
        }
    }

    /// Parallelism inside each GEMM.
    fn gemm_parallelism(&self) -> Parallelism {
        let threads = rayon::current_num_threads();
        if self.batch_threads() == 1 && threads > 1 {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        }
    }
}

/// Fills `col` (`[K, L]`) from one image `x` (`[C, H, W]`).
fn im2col(g: &Geom, x: &[f32], col: &mut [f32]) {
    let l = g.l();
    let mut row = 0;
    for c in 0..g.c {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let dst = &mut col[row * l..(row + 1) * l];
                row += 1;
                let (lo, hi) = g.valid_cols(kj);
                for (oy, drow) in dst.chunks_exact_mut(g.ow).enumerate() {
                    let Some(iy) = g.input_row(oy, ki) else {
                        drow.fill(0.0);
                        continue;
                    };
                    let src = &plane[iy * g.w..(iy + 1) * g.w];
                    drow[..lo].fill(0.0);
                    drow[hi..].fill(0.0);
                    if lo < hi {
                        let start = lo * g.stride + kj - g.pw;
                        if g.stride == 1 {
                            drow[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
                        } else {
                            for (d, s) in drow[lo..hi]
                                .iter_mut()
                                .zip(src[start..].iter().step_by(g.stride))
                            {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds each column of `col` (`[K, L]`) back onto its patch of `dx` (`[C, H, W]`, which the
/// caller zeroes first).
fn col2im(g: &Geom, col: &[f32], dx: &mut [f32]) {
    let l = g.l();
    let mut row = 0;
    for c in 0..g.c {
        let plane = &mut dx[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let src = &col[row * l..(row + 1) * l];
                row += 1;
                let (lo, hi) = g.valid_cols(kj);
                if lo >= hi {
                    continue;
                }
                for (oy, srow) in src.chunks_exact(g.ow).enumerate() {
                    let Some(iy) = g.input_row(oy, ki) else {
                        continue;
                    };
                    let start = lo * g.stride + kj - g.pw;
                    let drow = &mut plane[iy * g.w..(iy + 1) * g.w];
                    if g.stride == 1 {
                        for (d, s) in drow[start..start + (hi - lo)].iter_mut().zip(&srow[lo..hi]) {
                            *d += *s;
                        }
                    } else {
                        for (d, s) in drow[start..]
                            .iter_mut()
                            .step_by(g.stride)
                            .zip(&srow[lo..hi])
                        {
                            *d += *s;
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pooling and the ReLU inside the op

/// Marks an output whose gradient is zero: the ReLU was off (its value ≤ 0).
const INACTIVE: u8 = u8::MAX;

/// Largest pooling window side: window positions must fit in a `u8` below [`INACTIVE`].
const MAX_POOL: usize = 15;

/// Geometry of the pooled output: `k × k` windows with stride `k` over the convolution's
/// `OH × OW` output; rows and columns left over at the bottom and right are dropped.
#[derive(Clone, Copy, Debug)]
struct Pool {
    k: usize,
    ph: usize,
    pw: usize,
}

impl Pool {
    fn new(g: &Geom, k: usize) -> Result<Pool> {
        if k == 0 || k > MAX_POOL {
            bail!("conv2d: pooling window {k} must be between 1 and {MAX_POOL}");
        }
        if g.oh < k || g.ow < k {
            bail!(
                "conv2d: pooling window {k} does not fit the {}×{} output",
                g.oh,
                g.ow
            );
        }
        Ok(Pool {
            k,
            ph: g.oh / k,
            pw: g.ow / k,
        })
    }

    /// Pooled values per image.
    fn image_len(&self, g: &Geom) -> usize {
        g.o * self.ph * self.pw
    }
}

/// Max-pools one image's convolution output `pre` (`[O, OH, OW]`) into `dst` (`[O, PH, PW]`),
/// then applies the ReLU if `relu`. `route` gets, per pooled value, the position of the
/// window's maximum (row-major; the first one on ties, as in PyTorch) or [`INACTIVE`] where the
/// ReLU is off. NaN propagates: a window holding one pools to NaN.
#[allow(clippy::too_many_arguments)]
fn pool_image(
    g: &Geom,
    p: &Pool,
    relu: bool,
    bias: Option<&[f32]>,
    pre: &[f32],
    dst: &mut [f32],
    route: &mut [u8],
) {
    let plane_len = p.ph * p.pw;
    for (o, ((plane, dst), route)) in pre
        .chunks_exact(g.l())
        .zip(dst.chunks_exact_mut(plane_len))
        .zip(route.chunks_exact_mut(plane_len))
        .enumerate()
    {
        let b = bias.map_or(0.0, |bias| bias[o]);
        // Literal window sizes let the compiler specialise (and vectorise) the common cases.
        match p.k {
            2 => pool_plane_2x2(g.ow, p, relu, b, plane, dst, route),
            3 => pool_plane(3, g.ow, p, relu, b, plane, dst, route),
            k => pool_plane(k, g.ow, p, relu, b, plane, dst, route),
        }
    }
}

/// Windows handled together in [`pool_plane`]: a fixed count the compiler can unroll into
/// vector lanes.
const LANES: usize = 8;

/// A window's pooled value and route byte from its maximum `best` (NaN if it held one) at
/// position `at`: the bias added (the same across a window, so after the maximum), then the
/// ReLU if `relu`. NaN stays NaN, so that a diverged step shows in the losses instead of
/// vanishing.
#[inline(always)]
fn window_output(best: f32, at: u8, relu: bool, bias: f32) -> (f32, u8) {
    let best = best + bias;
    let active = !relu || best > 0.0 || best.is_nan();
    if active { (best, at) } else { (0.0, INACTIVE) }
}

/// [`pool_image`] for one channel, `LANES` neighbouring windows at a time (each a vector lane,
/// the window position of the maximum kept as an f32 so that all lanes have one width); the
/// comparisons are written without short-circuits so that they become selects, not branches
/// mispredicted half the time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pool_plane(
    k: usize,
    ow: usize,
    p: &Pool,
    relu: bool,
    bias: f32,
    plane: &[f32],
    dst: &mut [f32],
    route: &mut [u8],
) {
    let finish = |best: f32, at: f32, d: &mut f32, r: &mut u8| {
        (*d, *r) = window_output(best, at as u8, relu, bias);
    };
    for (py, (drow, rrow)) in dst
        .chunks_exact_mut(p.pw)
        .zip(route.chunks_exact_mut(p.pw))
        .enumerate()
    {
        let top = py * k * ow;
        let mut px = 0;
        while px + LANES <= p.pw {
            let mut best = [0f32; LANES];
            let mut at = [0f32; LANES];
            let mut nan = [false; LANES];
            for ky in 0..k {
                let start = top + ky * ow + px * k;
                let row = &plane[start..start + LANES * k];
                for kx in 0..k {
                    let pos = (ky * k + kx) as f32;
                    for lane in 0..LANES {
                        let v = row[lane * k + kx];
                        let better = (ky == 0 && kx == 0) | (v > best[lane]);
                        best[lane] = if better { v } else { best[lane] };
                        at[lane] = if better { pos } else { at[lane] };
                        // Kept apart from `better`: folding the NaN test into the select makes
                        // this loop seven times slower.
                        nan[lane] |= v.is_nan();
                    }
                }
            }
            for lane in 0..LANES {
                let best = if nan[lane] { f32::NAN } else { best[lane] };
                finish(best, at[lane], &mut drow[px + lane], &mut rrow[px + lane]);
            }
            px += LANES;
        }
        for px in px..p.pw {
            let mut best = plane[top + px * k];
            let mut at = 0f32;
            let mut nan = false;
            for ky in 0..k {
                for kx in 0..k {
                    let v = plane[top + ky * ow + px * k + kx];
                    let better = v > best;
                    best = if better { v } else { best };
                    at = if better { (ky * k + kx) as f32 } else { at };
                    nan |= v.is_nan();
                }
            }
            let best = if nan { f32::NAN } else { best };
            finish(best, at, &mut drow[px], &mut rrow[px]);
        }
    }
}

/// [`pool_plane`] for 2×2 windows (every pooled layer of the tiny and reference networks):
/// `WIDE` windows at a time, their four positions first copied into four arrays so that the
/// maximum, its position and the ReLU are plain element-wise selects the compiler turns into
/// vector code (the generic loop's stride-2 reads stay scalar). Same results as
/// `pool_plane(2, ..)`, ties to the first position in row-major order.
#[allow(clippy::too_many_arguments)]
fn pool_plane_2x2(
    ow: usize,
    p: &Pool,
    relu: bool,
    bias: f32,
    plane: &[f32],
    dst: &mut [f32],
    route: &mut [u8],
) {
    const WIDE: usize = 16;
    for (py, (drow, rrow)) in dst
        .chunks_exact_mut(p.pw)
        .zip(route.chunks_exact_mut(p.pw))
        .enumerate()
    {
        let top = &plane[2 * py * ow..2 * py * ow + ow];
        let bottom = &plane[(2 * py + 1) * ow..(2 * py + 2) * ow];
        let full = p.pw / WIDE * WIDE;
        for ((d, r), (t, b)) in drow[..full]
            .chunks_exact_mut(WIDE)
            .zip(rrow[..full].chunks_exact_mut(WIDE))
            .zip(
                top.chunks_exact(2 * WIDE)
                    .zip(bottom.chunks_exact(2 * WIDE)),
            )
        {
            let mut corners = [[0f32; WIDE]; 4];
            for j in 0..WIDE {
                corners[0][j] = t[2 * j];
                corners[1][j] = t[2 * j + 1];
                corners[2][j] = b[2 * j];
                corners[3][j] = b[2 * j + 1];
            }
            for j in 0..WIDE {
                let mut best = corners[0][j];
                let mut at = 0u8;
                let mut nan = best.is_nan();
                for (pos, corner) in corners.iter().enumerate().skip(1) {
                    let v = corner[j];
                    let better = v > best;
                    best = if better { v } else { best };
                    at = if better { pos as u8 } else { at };
                    nan |= v.is_nan();
                }
                let best = if nan { f32::NAN } else { best };
                (d[j], r[j]) = window_output(best, at, relu, bias);
            }
        }
        // The last windows of the row, one by one.
        for px in full..p.pw {
            let values = [
                top[2 * px],
                top[2 * px + 1],
                bottom[2 * px],
                bottom[2 * px + 1],
            ];
            let mut best = values[0];
            let mut at = 0u8;
            for (pos, &v) in values.iter().enumerate().skip(1) {
                if v > best {
                    best = v;
                    at = pos as u8;
                }
            }
            let nan = values.iter().any(|v| v.is_nan());
            let best = if nan { f32::NAN } else { best };
            (drow[px], rrow[px]) = window_output(best, at, relu, bias);
        }
    }
}

/// Inverse of [`pool_image`] for gradients: `dpre` (`[O, OH, OW]`) gets each pooled gradient
/// at its window's maximum and zeros elsewhere.
fn unpool_image(g: &Geom, p: &Pool, grad: &[f32], route: &[u8], dpre: &mut [f32]) {
    let plane_len = p.ph * p.pw;
    for ((plane, grad), route) in dpre
        .chunks_exact_mut(g.l())
        .zip(grad.chunks_exact(plane_len))
        .zip(route.chunks_exact(plane_len))
    {
        match p.k {
            2 => unpool_plane(2, g.ow, p, grad, route, plane),
            3 => unpool_plane(3, g.ow, p, grad, route, plane),
            k => unpool_plane(k, g.ow, p, grad, route, plane),
        }
    }
}

/// [`unpool_image`] for one channel: every position of every window is written (the gradient
/// where the route points, zero elsewhere), so nothing needs clearing first but the rows and
/// columns the pooling dropped.
#[inline(always)]
fn unpool_plane(k: usize, ow: usize, p: &Pool, grad: &[f32], route: &[u8], plane: &mut [f32]) {
    for (py, (grow, rrow)) in grad
        .chunks_exact(p.pw)
        .zip(route.chunks_exact(p.pw))
        .enumerate()
    {
        for ky in 0..k {
            let row = &mut plane[(py * k + ky) * ow..(py * k + ky + 1) * ow];
            let (windows, right) = row.split_at_mut(p.pw * k);
            right.fill(0.0);
            for kx in 0..k {
                let pos = (ky * k + kx) as u8;
                for ((window, &d), &r) in windows.chunks_exact_mut(k).zip(grow).zip(rrow) {
                    window[kx] = if r == pos { d } else { 0.0 };
                }
            }
        }
    }
    plane[p.ph * k * ow..].fill(0.0);
}

// ---------------------------------------------------------------------------------------------
// The computations

/// What follows the convolution and its bias inside the op.
#[derive(Clone, Copy, Debug)]
struct Tail {
    relu: bool,
    /// Pooling window (1 = none).
    pool: usize,
}

impl Tail {
    const NONE: Tail = Tail {
        relu: false,
        pool: 1,
    };

    /// The backward pass needs to know where each output came from.
    fn routes(&self) -> bool {
        self.relu || self.pool > 1
    }
}

/// One image: `dst` (`[O, PH, PW]`) from `src` (`[C, H, W]`), with scratch buffers for the
/// patches and the unpooled output.
#[allow(clippy::too_many_arguments)]
fn forward_image(
    g: &Geom,
    p: &Pool,
    tail: Tail,
    w: &[f32],
    bias: Option<&[f32]>,
    par: Parallelism,
    (col, pre): &mut (Vec<f32>, Vec<f32>),
    src: &[f32],
    dst: &mut [f32],
    route: &mut [u8],
) {
    let (k, l) = (g.k(), g.l());
    let col: &[f32] = if g.pointwise() {
        src
    } else {
        col.resize(k * l, 0.0);
        im2col(g, src, col);
        col
    };
    let target: &mut [f32] = if tail.pool > 1 {
        pre.resize(g.out_image_len(), 0.0);
        pre
    } else {
        dst
    };
    let lhs = Mat {
        data: w,
        rs: k,
        cs: 1,
    };
    let rhs = Mat {
        data: col,
        rs: l,
        cs: 1,
    };
    matmul(g.o, l, k, target, l, false, lhs, rhs, par);
    // The bias is added in the pass over the output that follows anyway (pooling, ReLU),
    // not by filling the output before the GEMM: one pass less over it.
    if tail.pool > 1 {
        pool_image(g, p, tail.relu, bias, pre, dst, route);
        return;
    }
    if let Some(bias) = bias {
        for (row, &b) in dst.chunks_exact_mut(l).zip(bias) {
            for v in row {
                *v += b;
            }
        }
    }
    if tail.relu {
        for (v, r) in dst.iter_mut().zip(route.iter_mut()) {
            let active = *v > 0.0 || v.is_nan();
            *v = if active { *v } else { 0.0 };
            *r = if active { 0 } else { INACTIVE };
        }
    }
}

/// The op's output `[N, O, PH, PW]` and, if the tail routes gradients, one route byte per
/// output value (see [`pool_image`]).
fn forward(
    g: &Geom,
    p: &Pool,
    tail: Tail,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
) -> (Vec<f32>, Vec<u8>) {
    let (in_len, out_len) = (g.image_len(), p.image_len(g));
    let mut out = vec![0f32; g.n * out_len];
    let mut route = vec![0u8; if tail.routes() { g.n * out_len } else { 0 }];
    let mut routes: Vec<&mut [u8]> = if tail.routes() {
        route.chunks_mut(out_len).collect()
    } else {
        (0..g.n).map(|_| &mut [][..]).collect()
    };
    let par = g.gemm_parallelism();
    let image = |scratch: &mut (Vec<f32>, Vec<f32>),
                 ((dst, src), route): ((&mut [f32], &[f32]), &mut [u8])| {
        forward_image(g, p, tail, w, bias, par, scratch, src, dst, route);
    };
    if g.batch_threads() > 1 {
        out.par_chunks_mut(out_len)
            .zip(x.par_chunks(in_len))
            .zip(routes.par_iter_mut().map(|r| &mut **r))
            .for_each_init(Default::default, image);
    } else {
        let mut scratch = Default::default();
        for item in out
            .chunks_mut(out_len)
            .zip(x.chunks(in_len))
            .zip(routes.iter_mut().map(|r| &mut **r))
        {
            image(&mut scratch, item);
        }
    }
    drop(routes);
    (out, route)
}

/// Adds one image's gradient with respect to its input to `dx` (`[C, H, W]`, zeroed by the
/// caller) from `dout` (`[O, OH, OW]`).
fn grad_input_image(
    g: &Geom,
    dout: &[f32],
    w: &[f32],
    dcol: &mut Vec<f32>,
    dx: &mut [f32],
    par: Parallelism,
) {
    let (k, l) = (g.k(), g.l());
    // Wᵀ: element (kk, o) of the [K, O] matrix is w[o·K + kk].
    let wt = Mat {
        data: w,
        rs: 1,
        cs: k,
    };
    let rhs = Mat {
        data: dout,
        rs: l,
        cs: 1,
    };
    if g.pointwise() {
        matmul(k, l, g.o, dx, l, false, wt, rhs, par);
    } else {
        dcol.resize(k * l, 0.0);
        matmul(k, l, g.o, dcol, l, false, wt, rhs, par);
        col2im(g, dcol, dx);
    }
}

/// `dst` (`[cols, rows]`) = the transpose of `src` (`[rows, cols]`), through 8×8 tiles held in
/// registers (fixed-size loops, so no bounds checks and whole-row copies).
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const B: usize = 8;
    let (full_rows, full_cols) = (rows / B * B, cols / B * B);
    for i0 in (0..full_rows).step_by(B) {
        for j0 in (0..full_cols).step_by(B) {
            let mut tile = [[0f32; B]; B];
            for (i, line) in tile.iter_mut().enumerate() {
                line.copy_from_slice(&src[(i0 + i) * cols + j0..(i0 + i) * cols + j0 + B]);
            }
            for j in 0..B {
                let out = &mut dst[(j0 + j) * rows + i0..(j0 + j) * rows + i0 + B];
                for (o, line) in out.iter_mut().zip(&tile) {
                    *o = line[j];
                }
            }
        }
    }
    // The ragged right and bottom edges.
    for i in 0..rows {
        let start = if i < full_rows { full_cols } else { 0 };
        for j in start..cols {
            dst[j * rows + i] = src[i * cols + j];
        }
    }
}

/// Sum of `values` in eight interleaved partial sums, which the compiler can keep in one
/// vector register (a single running sum is a chain of dependent scalar adds).
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Fills `col_t` (`[L, kh·kw·C]`) from one channels-last image `x_hwc` (`[H, W, C]`): row p
/// holds the patch under output pixel p in (kernel row, kernel column, channel) order, so each
/// kernel position is one copy of C contiguous values (or C zeros over the border). Where a
/// kernel row lies wholly inside the image, its kw positions are neighbours in `x_hwc` too,
/// and the row is one copy of kw·C values (a third of the copies for 3×3 kernels).
fn im2col_t(g: &Geom, x_hwc: &[f32], col_t: &mut [f32]) {
    let (c, k) = (g.c, g.k());
    for (p, row) in col_t.chunks_exact_mut(k).enumerate() {
        let (oy, ox) = (p / g.ow, p % g.ow);
        let first_col = (ox * g.stride).checked_sub(g.pw);
        let row_inside = first_col.filter(|&ix| ix + g.kw <= g.w);
        for (ki, taps) in row.chunks_exact_mut(g.kw * c).enumerate() {
            let iy = g.input_row(oy, ki);
            if let (Some(iy), Some(ix)) = (iy, row_inside) {
                let at = (iy * g.w + ix) * c;
                taps.copy_from_slice(&x_hwc[at..at + g.kw * c]);
                continue;
            }
            for (kj, dst) in taps.chunks_exact_mut(c).enumerate() {
                let ix = (ox * g.stride + kj)
                    .checked_sub(g.pw)
                    .filter(|&ix| ix < g.w);
                match (iy, ix) {
                    (Some(iy), Some(ix)) => {
                        let at = (iy * g.w + ix) * c;
                        dst.copy_from_slice(&x_hwc[at..at + c]);
                    }
                    _ => dst.fill(0.0),
                }
            }
        }
    }
}

/// One image's weight gradient `dout · col_tᵀ`, in (output, kernel row, kernel column,
/// channel) order (see [`im2col_t`]; [`backward`] reorders the sum over the batch) or, below
/// [`CHANNELS_LAST_FROM`] channels, in candle's order, written to
/// `dw` or added to it if `accumulate`, and its bias gradient added to `db` (`[O]`, or empty
/// for no bias). `x_hwc` and `col_t` are scratch.
///
/// The patches are laid out row-major `[L, K]` because gemm runs this product about three
/// times faster with the right-hand side's rows contiguous than reading `[K, L]` patches with a
/// column stride of L (0.57 → 0.17 ms per image for the 32→64 layer of the reference
/// workload), and they are built from a channels-last copy of the image because then every
/// kernel position is one contiguous copy.
#[allow(clippy::too_many_arguments)]
fn grad_weight_image(
    g: &Geom,
    dout: &[f32],
    x: &[f32],
    (x_hwc, col_t): &mut (Vec<f32>, Vec<f32>),
    dw: &mut [f32],
    db: &mut [f32],
    accumulate: bool,
    par: Parallelism,
) {
    let (k, l) = (g.k(), g.l());
    let lhs = Mat {
        data: dout,
        rs: l,
        cs: 1,
    };
    if g.c < CHANNELS_LAST_FROM {
        // Few channels (the first layer's three): the channels-last copies would move three
        // values at a time, so the patches stay `[K, L]` (whole output rows per copy), read
        // transposed by the GEMM.
        col_t.resize(k * l, 0.0);
        im2col(g, x, col_t);
        let rhs = Mat {
            data: col_t,
            rs: 1,
            cs: l,
        };
        matmul(g.o, k, l, dw, k, accumulate, lhs, rhs, par);
    } else {
        x_hwc.resize(g.image_len(), 0.0);
        transpose(x, g.c, g.h * g.w, x_hwc);
        col_t.resize(k * l, 0.0);
        im2col_t(g, x_hwc, col_t);
        let rhs = Mat {
            data: col_t,
            rs: k,
            cs: 1,
        };
        matmul(g.o, k, l, dw, k, accumulate, lhs, rhs, par);
    }
    for (b, row) in db.iter_mut().zip(dout.chunks_exact(l)) {
        *b += sum(row);
    }
}

/// Channels from which [`grad_weight_image`] builds its patches channels-last.
const CHANNELS_LAST_FROM: usize = 8;

/// `dw` (`[O, C, kh, kw]`, candle's order) from `dw_hwc` (`[O, kh, kw, C]`).
fn weights_from_channels_last(g: &Geom, dw_hwc: &[f32], dw: &mut [f32]) {
    let taps = g.kh * g.kw;
    for (src, dst) in dw_hwc.chunks_exact(g.k()).zip(dw.chunks_exact_mut(g.k())) {
        transpose(src, taps, g.c, dst);
    }
}

/// The whole backward pass in one sweep over the batch: `[dx (if input_grad), dW, db (if
/// with_bias)]` flattened, from the gradient of the op's output `grad` (`[N, O, PH, PW]`) and
/// the forward's route bytes (`route`, empty when the op has neither ReLU nor pooling). Each
/// image's unpooled gradient lives only in a scratch buffer.
#[allow(clippy::too_many_arguments)]
fn backward(
    g: &Geom,
    p: &Pool,
    route: &[u8],
    grad: &[f32],
    x: &[f32],
    w: &[f32],
    input_grad: bool,
    with_bias: bool,
) -> Vec<f32> {
    let (in_len, grad_len) = (g.image_len(), p.image_len(g));
    let wlen = g.o * g.k();
    let plen = wlen + if with_bias { g.o } else { 0 };
    let dx_len = if input_grad { g.n * in_len } else { 0 };
    let mut out = vec![0f32; dx_len + plen];
    let par = g.gemm_parallelism();
    // Images `range`; `dx` holds their input gradients, `params` gets [dW (channels-last
    // order), db] for them.
    let sweep = |range: std::ops::Range<usize>, dx: &mut [f32], params: &mut [f32]| {
        let (mut dpre, mut cols, mut dcol) = (Vec::new(), Default::default(), Vec::new());
        let (dw, db) = params.split_at_mut(wlen);
        for (i, img) in range.enumerate() {
            let grad_n = &grad[img * grad_len..(img + 1) * grad_len];
            let dout: &[f32] = if route.is_empty() {
                grad_n
            } else {
                dpre.resize(g.out_image_len(), 0.0);
                let route_n = &route[img * grad_len..(img + 1) * grad_len];
                unpool_image(g, p, grad_n, route_n, &mut dpre);
                &dpre
            };
            if input_grad {
                let dx_n = &mut dx[i * in_len..(i + 1) * in_len];
                grad_input_image(g, dout, w, &mut dcol, dx_n, par);
            }
            let x_n = &x[img * in_len..(img + 1) * in_len];
            grad_weight_image(g, dout, x_n, &mut cols, dw, db, i > 0, par);
        }
    };
    let (dx, params) = out.split_at_mut(dx_len);
    let parts = g.batch_threads();
    // [dW in channels-last order, db], summed over the batch.
    let mut total = vec![0f32; plen];
    if parts > 1 {
        let bounds: Vec<usize> = (0..=parts).map(|part| part * g.n / parts).collect();
        let mut chunks = Vec::with_capacity(parts);
        let mut rest = dx;
        for part in 0..parts {
            let images = bounds[part + 1] - bounds[part];
            let (chunk, tail) = rest.split_at_mut(if input_grad { images * in_len } else { 0 });
            chunks.push(chunk);
            rest = tail;
        }
        let sums = chunks
            .into_par_iter()
            .enumerate()
            .map(|(part, chunk)| {
                let mut partial = vec![0f32; plen];
                sweep(bounds[part]..bounds[part + 1], chunk, &mut partial);
                partial
            })
            .collect::<Vec<_>>();
        for partial in sums {
            for (total, value) in total.iter_mut().zip(&partial) {
                *total += *value;
            }
        }
    } else {
        sweep(0..g.n, dx, &mut total);
    }
    let (dw, db) = params.split_at_mut(wlen);
    if g.c < CHANNELS_LAST_FROM {
        dw.copy_from_slice(&total[..wlen]);
    } else {
        weights_from_channels_last(g, &total[..wlen], dw);
    }
    db.copy_from_slice(&total[wlen..]);
    out
}

// ---------------------------------------------------------------------------------------------
// The ops

/// The forward op: convolution, optional bias, ReLU and pooling. It keeps the forward's route
/// bytes for its backward (the op lives in the graph as long as its output does).
struct Conv {
    stride: usize,
    padding: (usize, usize),
    tail: Tail,
    route: Mutex<Arc<Vec<u8>>>,
}

impl Conv {
    fn new(stride: usize, padding: (usize, usize), tail: Tail) -> Conv {
        Conv {
            stride,
            padding,
            tail,
            route: Mutex::default(),
        }
    }

    fn run(
        &self,
        (s1, l1): (&CpuStorage, &Layout),
        (s2, l2): (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geom::new(l1.dims(), l2.dims(), self.stride, self.padding)?;
        let p = Pool::new(&g, self.tail.pool)?;
        let x = f32_data(s1, l1)?;
        let w = f32_data(s2, l2)?;
        let b = match bias {
            Some((s3, l3)) => {
                if l3.dims() != [g.o] {
                    bail!(
                        "conv2d: bias {:?} does not match {} outputs",
                        l3.dims(),
                        g.o
                    );
                }
                Some(f32_data(s3, l3)?)
            }
            None => None,
        };
        let (out, route) = forward(&g, &p, self.tail, &x, &w, b.as_deref());
        *self.route.lock().map_err(|_| poisoned())? = Arc::new(route);
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, p.ph, p.pw))))
    }

    /// `(dx, dW, db)` for the op's inputs, from the gradient of its output.
    fn grads(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
        with_bias: bool,
    ) -> Result<(Option<Tensor>, Tensor, Option<Tensor>)> {
        let (n, c, h, wd) = x.dims4()?;
        let (o, _, kh, kw) = w.dims4()?;
        let route = self.route.lock().map_err(|_| poisoned())?.clone();
        // The first layer's input (the images) needs no gradient.
        let input_grad = x.track_op();
        let all = grad.apply_op3_no_bwd(
            x,
            w,
            &ConvBackward {
                stride: self.stride,
                padding: self.padding,
                pool: self.tail.pool,
                route,
                input_grad,
                with_bias,
            },
        )?;
        let dx_len = if input_grad { n * c * h * wd } else { 0 };
        let wlen = o * c * kh * kw;
        let dx = if input_grad {
            Some(all.narrow(0, 0, dx_len)?.reshape((n, c, h, wd))?)
        } else {
            None
        };
        let dw = all.narrow(0, dx_len, wlen)?.reshape((o, c, kh, kw))?;
        let db = if with_bias {
            Some(all.narrow(0, dx_len + wlen, o)?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("conv2d: a thread panicked while holding the route lock".into())
}

struct ConvNoBias(Conv);

impl CustomOp2 for ConvNoBias {
    fn name(&self) -> &'static str {
        "fast-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.0.run((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.0.grads(x, w, grad, false)?;
        Ok((dx, Some(dw)))
    }
}

struct ConvBias(Conv);

impl CustomOp3 for ConvBias {
    fn name(&self) -> &'static str {
        "fast-conv2d-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.0.run((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = self.0.grads(x, w, grad, true)?;
        Ok((dx, Some(dw), db))
    }
}

/// `(grad, x, weight) → [dx (if input_grad), dW, db (if with_bias)]`, flattened.
struct ConvBackward {
    stride: usize,
    padding: (usize, usize),
    pool: usize,
    route: Arc<Vec<u8>>,
    input_grad: bool,
    with_bias: bool,
}

impl CustomOp3 for ConvBackward {
    fn name(&self) -> &'static str {
        "fast-conv2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geom::new(l2.dims(), l3.dims(), self.stride, self.padding)?;
        let p = Pool::new(&g, self.pool)?;
        if l1.dims() != [g.n, g.o, p.ph, p.pw] {
            bail!("conv2d grad: output gradient {:?} does not fit", l1.dims());
        }
        if !self.route.is_empty() && self.route.len() != g.n * p.image_len(&g) {
            bail!("conv2d grad: the forward's routes do not fit the gradient");
        }
        let grad = f32_data(s1, l1)?;
        let x = f32_data(s2, l2)?;
        let w = f32_data(s3, l3)?;
        let out = backward(
            &g,
            &p,
            &self.route,
            &grad,
            &x,
            &w,
            self.input_grad,
            self.with_bias,
        );
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{max_abs, max_diff, seeded_normal};
    use candle_core::Var;

    fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor) {
        assert_eq!(ours.dims(), theirs.dims(), "{what}: shapes");
        let d = max_diff(ours, theirs);
        let scale = max_abs(theirs).max(1.0);
        assert!(d <= 1e-4 * scale, "{what}: max diff {d} (scale {scale})");
    }

    /// Compares the gradients of Σ probe·ours and Σ probe·theirs (a loss with a different
    /// weight per output element, so every gradient entry matters) with respect to `vars`.
    fn assert_grads_close(
        label: &str,
        ours: &Tensor,
        theirs: &Tensor,
        probe: &Tensor,
        vars: &[(&str, &Var)],
    ) {
        let grads = |t: &Tensor| (t * probe).unwrap().sum_all().unwrap().backward().unwrap();
        let (g_ours, g_theirs) = (grads(ours), grads(theirs));
        for (name, var) in vars {
            assert_close(
                &format!("{label}: {name}"),
                g_ours.get(var.as_tensor()).unwrap(),
                g_theirs.get(var.as_tensor()).unwrap(),
            );
        }
    }

    /// Compares forward and both gradients (and the bias gradient, with and without ReLU)
    /// against candle's conv2d. `view` turns the stored input into the one convolved (to test
    /// non-contiguous layouts).
    fn check(
        input_dims: &[usize],
        weight_dims: (usize, usize, usize, usize),
        stride: usize,
        padding: (usize, usize),
        view: impl Fn(&Tensor) -> Tensor,
    ) {
        let seed = case_seed(input_dims, weight_dims, stride);
        let x = Var::from_tensor(&seeded_normal(seed, input_dims, 1.0)).unwrap();
        let w = Var::from_tensor(&seeded_normal(seed + 1, weight_dims, 0.3)).unwrap();
        let b = Var::from_tensor(&seeded_normal(seed + 2, weight_dims.0, 0.3)).unwrap();
        let xv = view(x.as_tensor());
        let label = format!(
            "input {input_dims:?} weight {weight_dims:?} stride {stride} padding {padding:?}"
        );

        // Plain convolution.
        let ours = conv2d(&xv, w.as_tensor(), stride, padding).unwrap();
        let theirs = portable_conv2d(&xv, w.as_tensor(), stride, padding).unwrap();
        assert_close(&format!("{label}: forward"), &ours, &theirs);
        let probe = seeded_normal(seed + 3, theirs.dims(), 1.0);
        assert_grads_close(
            &label,
            &ours,
            &theirs,
            &probe,
            &[("grad input", &x), ("grad weight", &w)],
        );

        // Fused bias, with and without ReLU.
        for relu in [false, true] {
            let ours =
                conv2d_bias(&xv, w.as_tensor(), b.as_tensor(), stride, padding, relu).unwrap();
            let mut theirs = theirs
                .broadcast_add(&b.as_tensor().reshape((1, weight_dims.0, 1, 1)).unwrap())
                .unwrap();
            if relu {
                theirs = theirs.relu().unwrap();
            }
            assert_close(
                &format!("{label}: forward bias relu={relu}"),
                &ours,
                &theirs,
            );
            assert_grads_close(
                &format!("{label} bias relu={relu}"),
                &ours,
                &theirs,
                &probe,
                &[("grad input", &x), ("grad weight", &w), ("grad bias", &b)],
            );
        }
    }

    /// A seed per test case, so that each case draws its own fixed inputs.
    fn case_seed(
        input_dims: &[usize],
        weight_dims: (usize, usize, usize, usize),
        extra: usize,
    ) -> u64 {
        let (o, i, kh, kw) = weight_dims;
        input_dims
            .iter()
            .chain(&[o, i, kh, kw, extra])
            .fold(17u64, |h, &d| h.wrapping_mul(31).wrapping_add(d as u64))
            * 8
    }

    fn same(t: &Tensor) -> Tensor {
        t.clone()
    }

    #[test]
    fn kernels_conv_3x3_stride_1_pad_1() {
        check(&[1, 3, 9, 11], (5, 3, 3, 3), 1, (1, 1), same);
        check(&[3, 4, 8, 8], (6, 4, 3, 3), 1, (1, 1), same);
        // CHANNELS_LAST_FROM channels and more: channels-last patches, whole kernel rows
        // copied at once inside the image, tap by tap at its border.
        check(&[2, 8, 7, 9], (5, 8, 3, 3), 1, (1, 1), same);
        check(&[2, 9, 9, 11], (4, 9, 3, 3), 2, (1, 1), same);
    }

    #[test]
    fn kernels_conv_3x3_no_padding_and_stride_2() {
        // (candle's own backward needs (H + 2p − k) and (W + 2p − k) alike modulo the stride.)
        check(&[3, 3, 13, 15], (8, 3, 3, 3), 2, (0, 0), same);
        check(&[1, 4, 10, 9], (4, 4, 3, 3), 1, (0, 0), same);
        check(&[3, 5, 11, 11], (7, 5, 3, 3), 2, (1, 1), same);
    }

    #[test]
    fn kernels_conv_asymmetric_1x7_and_7x1() {
        check(&[3, 6, 9, 10], (5, 6, 1, 7), 1, (0, 3), same);
        check(&[1, 6, 10, 9], (5, 6, 7, 1), 1, (3, 0), same);
    }

    #[test]
    fn kernels_conv_1x1() {
        check(&[3, 8, 5, 7], (4, 8, 1, 1), 1, (0, 0), same);
        check(&[1, 8, 5, 7], (4, 8, 1, 1), 2, (0, 0), same);
    }

    #[test]
    fn kernels_conv_large_batch_runs_in_parallel() {
        // Batch ≥ 2 × threads takes the batch-parallel path with per-thread weight sums.
        check(&[9, 5, 7, 6], (6, 5, 3, 3), 1, (1, 1), same);
        check(&[8, 6, 9, 9], (5, 6, 1, 7), 1, (0, 3), same);
    }

    #[test]
    fn kernels_conv_non_contiguous_input() {
        // A transposed input (H and W swapped) and a narrowed one (a window of channels).
        check(&[3, 4, 7, 9], (5, 4, 3, 3), 1, (1, 1), |t| {
            t.transpose(2, 3).unwrap()
        });
        check(&[2, 7, 8, 8], (5, 4, 3, 3), 2, (1, 1), |t| {
            t.narrow(1, 2, 4).unwrap()
        });
    }

    /// The fused conv + bias + ReLU + max-pool op against the same computation written with
    /// candle's own ops (conv2d, broadcast add, relu, pooling by reshape and `max`), forward
    /// and all three gradients, for a loss weighting every output differently.
    fn check_pooled(input_dims: &[usize], weight_dims: (usize, usize, usize, usize), pool: usize) {
        let seed = case_seed(input_dims, weight_dims, pool);
        let x = Var::from_tensor(&seeded_normal(seed, input_dims, 1.0)).unwrap();
        let w = Var::from_tensor(&seeded_normal(seed + 1, weight_dims, 0.3)).unwrap();
        let b = Var::from_tensor(&seeded_normal(seed + 2, weight_dims.0, 0.3)).unwrap();
        let label = format!("input {input_dims:?} weight {weight_dims:?} pool {pool}");
        let ours =
            conv2d_bias_relu_pool(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1, (1, 1), pool)
                .unwrap();
        let theirs = portable_conv2d(x.as_tensor(), w.as_tensor(), 1, (1, 1))
            .unwrap()
            .broadcast_add(&b.as_tensor().reshape((1, weight_dims.0, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap();
        let theirs = crate::kernels::pool::max_pool2d_by_reduction(&theirs, pool).unwrap();
        assert_close(&format!("{label}: forward"), &ours, &theirs);
        let probe = seeded_normal(seed + 3, theirs.dims(), 1.0);
        assert_grads_close(
            &label,
            &ours,
            &theirs,
            &probe,
            &[("grad input", &x), ("grad weight", &w), ("grad bias", &b)],
        );
    }

    #[test]
    fn kernels_conv_relu_pool_matches_candle_ops() {
        // Whole windows, one image at a time (GEMMs threaded).
        check_pooled(&[1, 3, 8, 8], (5, 3, 3, 3), 2);
        // Rows and columns dropped by the pooling; a window of 3; rows of more than 8
        // windows (the vector loop plus its remainder).
        check_pooled(&[2, 4, 9, 11], (6, 4, 3, 3), 2);
        check_pooled(&[1, 2, 20, 38], (3, 2, 3, 3), 2);
        check_pooled(&[2, 3, 10, 8], (4, 3, 3, 3), 3);
        // Batch ≥ 2 × threads: images spread over threads, per-thread weight sums.
        check_pooled(&[9, 3, 12, 18], (5, 3, 3, 3), 2);
    }

    #[test]
    fn kernels_transpose_and_sum_handle_ragged_edges() {
        for (rows, cols) in [(1, 1), (8, 8), (3, 17), (27, 4096 / 64), (19, 9)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let mut dst = vec![-1f32; rows * cols];
            transpose(&src, rows, cols, &mut dst);
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(
                        dst[j * rows + i],
                        src[i * cols + j],
                        "{rows}×{cols} at ({i}, {j})"
                    );
                }
            }
        }
        // Integers, so every order of summation is exact: n(n − 1)/2.
        for n in [0usize, 1, 7, 8, 9, 100] {
            let values: Vec<f32> = (0..n).map(|v| v as f32).collect();
            assert_eq!(
                sum(&values),
                (n * n.saturating_sub(1) / 2) as f32,
                "n = {n}"
            );
        }
    }

    #[test]
    fn kernels_pool_routes_to_the_maximum_and_back() {
        // One channel, 4×5 convolution output (the last column is dropped by a 2×2 pool).
        #[rustfmt::skip]
        let pre = [
            1f32, 5., 0., -1., 100.,
            2., 3., 4., 4., 100.,  // a tie in the second window: the first 4 wins
            -3., -2., f32::NAN, 8., 100.,
            -4., -1., 7., 6., 100.,
        ];
        let g = Geom::new(&[1, 1, 4, 5], &[1, 1, 1, 1], 1, (0, 0)).unwrap();
        let p = Pool::new(&g, 2).unwrap();
        let (mut dst, mut route) = ([0f32; 4], [0u8; 4]);
        pool_image(&g, &p, true, None, &pre, &mut dst, &mut route);
        assert_eq!(&dst[..2], &[5., 4.]);
        assert_eq!(dst[2], 0.0, "ReLU of −1");
        assert!(dst[3].is_nan(), "NaN propagates: {dst:?}");
        assert_eq!(&route[..3], &[1, 2, INACTIVE]);
        // Without the ReLU the negative window keeps its maximum.
        pool_image(&g, &p, false, None, &pre, &mut dst, &mut route);
        assert_eq!((dst[2], route[2]), (-1.0, 3));

        let mut dpre = [9f32; 20];
        pool_image(&g, &p, true, None, &pre, &mut dst, &mut route);
        unpool_image(&g, &p, &[10., 20., 30., 40.], &route, &mut dpre);
        #[rustfmt::skip]
        let expected = [
            0f32, 10., 0., 0., 0.,
            0., 0., 20., 0., 0.,
            0., 0., 0., 0., 0.,
            0., 0., 0., 0., 0.,
        ];
        // The NaN window's gradient lands somewhere inside that window; where does not matter.
        let mut got = dpre;
        let nan_window = [12, 13, 17, 18];
        assert_eq!(nan_window.iter().map(|&i| got[i]).sum::<f32>(), 40.0);
        for i in nan_window {
            got[i] = 0.0;
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn kernels_2x2_pool_equals_the_generic_loop() {
        // Three channels of 5×37 (a dropped row and column; 18 windows a row: one vector
        // block of 16 and two left over), values from {−1, 0, 1, 2} so that most windows tie,
        // a NaN in the vector block and one in the remainder.
        let g = Geom::new(&[1, 3, 5, 37], &[3, 3, 1, 1], 1, (0, 0)).unwrap();
        let p = Pool::new(&g, 2).unwrap();
        let mut pre: Vec<f32> = (0..3 * 5 * 37)
            .map(|i| ((i * 7 + i / 3) % 4) as f32 - 1.0)
            .collect();
        pre[37 + 9] = f32::NAN;
        pre[2 * 5 * 37 + 35] = f32::NAN;
        let plane_len = p.ph * p.pw;
        for relu in [true, false] {
            for bias in [0.0, -1.5] {
                let (mut fast, mut generic) =
                    (vec![0f32; 3 * plane_len], vec![0f32; 3 * plane_len]);
                let (mut fast_route, mut generic_route) =
                    (vec![0u8; 3 * plane_len], vec![0u8; 3 * plane_len]);
                for c in 0..3 {
                    let plane = &pre[c * g.l()..(c + 1) * g.l()];
                    let out = c * plane_len..(c + 1) * plane_len;
                    pool_plane_2x2(
                        g.ow,
                        &p,
                        relu,
                        bias,
                        plane,
                        &mut fast[out.clone()],
                        &mut fast_route[out.clone()],
                    );
                    pool_plane(
                        2,
                        g.ow,
                        &p,
                        relu,
                        bias,
                        plane,
                        &mut generic[out.clone()],
                        &mut generic_route[out],
                    );
                }
                let bits = |v: &[f32]| {
                    v.iter()
                        .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    bits(&fast),
                    bits(&generic),
                    "relu {relu} bias {bias}: values"
                );
                // A NaN window's route may differ (its gradient is meaningless); every other must not.
                for (i, (a, b)) in fast_route.iter().zip(&generic_route).enumerate() {
                    assert!(
                        fast[i].is_nan() || a == b,
                        "relu {relu} bias {bias}: route {i}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn kernels_conv_falls_back_for_other_dtypes() {
        let x = seeded_normal(11, (1, 2, 5, 5), 1.0);
        let w = seeded_normal(12, (3, 2, 3, 3), 1.0);
        let ours = conv2d(
            &x.to_dtype(DType::F64).unwrap(),
            &w.to_dtype(DType::F64).unwrap(),
            1,
            (1, 1),
        )
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
        assert_close("f64 fallback", &ours, &conv2d(&x, &w, 1, (1, 1)).unwrap());
    }
}
