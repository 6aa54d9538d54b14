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
//! A 1×1 convolution with stride 1 and no padding has `col_n = x_n` and skips the copies.
//! Images are spread over rayon's threads (one single-threaded GEMM each) when the batch is
//! at least twice the thread count; otherwise images go one by one and each GEMM uses all
//! threads.
//!
//! On other devices or dtypes, [`conv2d`] and [`conv2d_bias`] fall back to candle's own ops.

use std::borrow::Cow;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor, bail};
use gemm::Parallelism;
use rayon::prelude::*;

/// `x` `[N, C, H, W]` convolved with `weight` `[O, C, kh, kw]`, no bias.
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: (usize, usize),
) -> Result<Tensor> {
    if use_fast_path(x, weight) {
        x.apply_op2(weight, Conv2d { stride, padding })
    } else {
        candle_conv2d(x, weight, stride, padding)
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
    if use_fast_path(x, weight) && bias.device().is_cpu() && bias.dtype() == DType::F32 {
        x.apply_op3(
            weight,
            bias,
            Conv2dBias {
                stride,
                padding,
                relu,
            },
        )
    } else {
        let out_channels = bias.dim(0)?;
        let y = candle_conv2d(x, weight, stride, padding)?.broadcast_add(&bias.reshape((
            1,
            out_channels,
            1,
            1,
        ))?)?;
        if relu { y.relu() } else { Ok(y) }
    }
}

fn use_fast_path(x: &Tensor, weight: &Tensor) -> bool {
    x.device().is_cpu()
        && weight.device().is_cpu()
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
}

/// candle's conv2d; candle pads both axes alike, so asymmetric padding (1×7 kernels) is done
/// by hand.
fn candle_conv2d(
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
// GEMM

/// A read-only matrix view: element (i, j) at `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
struct Mat<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

/// Index one past the last element a `rows × cols` view with these strides touches.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    (rows - 1) * rs + (cols - 1) * cs + 1
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` if `accumulate`), `dst` an `m × n` row-major
/// matrix with row stride `dst_rs ≥ n`, `lhs` `m × k`, `rhs` `k × n`.
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    parallelism: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst_rs >= n, "matmul: destination rows overlap");
    assert!(
        span(m, n, dst_rs, 1) <= dst.len(),
        "matmul: destination too short"
    );
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_rs).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    assert!(
        span(m, k, lhs.rs, lhs.cs) <= lhs.data.len(),
        "matmul: lhs too short"
    );
    assert!(
        span(k, n, rhs.rs, rhs.cs) <= rhs.data.len(),
        "matmul: rhs too short"
    );
    // SAFETY: the asserts above check that every element the GEMM reads from `lhs` and `rhs`
    // and writes to `dst` (indices up to (rows−1)·rs + (cols−1)·cs for the given strides) lies
    // inside the borrowed slices; `dst_rs ≥ n` with column stride 1 makes the written
    // elements distinct; `dst` is borrowed mutably, so it cannot alias `lhs` or `rhs`, and
    // the borrows outlive the call. The element type f32 is one gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The three computations

/// Output `[N, O, OH, OW]` of the convolution, bias added and ReLU applied if asked.
fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    let (k, l) = (g.k(), g.l());
    let mut out = vec![0f32; g.n * g.out_image_len()];
    let par = g.gemm_parallelism();
    let image = |col: &mut Vec<f32>, dst: &mut [f32], src: &[f32]| {
        let col: &[f32] = if g.pointwise() {
            src
        } else {
            col.resize(k * l, 0.0);
            im2col(g, src, col);
            col
        };
        if let Some(bias) = bias {
            for (row, &b) in dst.chunks_exact_mut(l).zip(bias) {
                row.fill(b);
            }
        }
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
        matmul(g.o, l, k, dst, l, bias.is_some(), lhs, rhs, par);
        if relu {
            for v in dst.iter_mut() {
                *v = v.max(0.0);
            }
        }
    };
    let (in_len, out_len) = (g.image_len(), g.out_image_len());
    if g.batch_threads() > 1 {
        out.par_chunks_mut(out_len)
            .zip(x.par_chunks(in_len))
            .for_each_init(Vec::new, |col, (dst, src)| image(col, dst, src));
    } else {
        let mut col = Vec::new();
        for (dst, src) in out.chunks_mut(out_len).zip(x.chunks(in_len)) {
            image(&mut col, dst, src);
        }
    }
    out
}

/// Gradient with respect to the input, `[N, C, H, W]`, from `dout` `[N, O, OH, OW]`.
fn grad_input(g: &Geom, dout: &[f32], w: &[f32]) -> Vec<f32> {
    let (k, l) = (g.k(), g.l());
    let mut dx = vec![0f32; g.n * g.image_len()];
    let par = g.gemm_parallelism();
    // Wᵀ: element (kk, o) of the [K, O] matrix is w[o·K + kk].
    let wt = Mat {
        data: w,
        rs: 1,
        cs: k,
    };
    let image = |col: &mut Vec<f32>, dst: &mut [f32], src: &[f32]| {
        let rhs = Mat {
            data: src,
            rs: l,
            cs: 1,
        };
        if g.pointwise() {
            matmul(k, l, g.o, dst, l, false, wt, rhs, par);
        } else {
            col.resize(k * l, 0.0);
            matmul(k, l, g.o, col, l, false, wt, rhs, par);
            col2im(g, col, dst);
        }
    };
    let (in_len, out_len) = (g.image_len(), g.out_image_len());
    if g.batch_threads() > 1 {
        dx.par_chunks_mut(in_len)
            .zip(dout.par_chunks(out_len))
            .for_each_init(Vec::new, |col, (dst, src)| image(col, dst, src));
    } else {
        let mut col = Vec::new();
        for (dst, src) in dx.chunks_mut(in_len).zip(dout.chunks(out_len)) {
            image(&mut col, dst, src);
        }
    }
    dx
}

/// Gradient with respect to the weight (`[O, K]` flattened), followed by the bias gradient
/// (`[O]`) if `with_bias`.
fn grad_weight(g: &Geom, dout: &[f32], x: &[f32], with_bias: bool) -> Vec<f32> {
    let (k, l) = (g.k(), g.l());
    let (in_len, out_len) = (g.image_len(), g.out_image_len());
    let len = g.o * k + if with_bias { g.o } else { 0 };
    let par = g.gemm_parallelism();
    // Partial sums over images `range`.
    let partial = |range: std::ops::Range<usize>| -> Vec<f32> {
        let mut acc = vec![0f32; len];
        let mut col = Vec::new();
        let (dw, db) = acc.split_at_mut(g.o * k);
        for (i, img) in range.enumerate() {
            let src = &x[img * in_len..(img + 1) * in_len];
            let d = &dout[img * out_len..(img + 1) * out_len];
            let col: &[f32] = if g.pointwise() {
                src
            } else {
                col.resize(k * l, 0.0);
                im2col(g, src, &mut col);
                &col
            };
            let lhs = Mat {
                data: d,
                rs: l,
                cs: 1,
            };
            // col_nᵀ: element (p, kk) of the [L, K] matrix is col[kk·L + p].
            let rhs = Mat {
                data: col,
                rs: 1,
                cs: l,
            };
            matmul(g.o, k, l, dw, k, i > 0, lhs, rhs, par);
            if with_bias {
                for (b, row) in db.iter_mut().zip(d.chunks_exact(l)) {
                    *b += row.iter().sum::<f32>();
                }
            }
        }
        acc
    };
    let parts = g.batch_threads();
    if parts > 1 {
        let ranges: Vec<_> = (0..parts)
            .map(|p| p * g.n / parts..(p + 1) * g.n / parts)
            .collect();
        ranges
            .into_par_iter()
            .map(partial)
            .reduce_with(|mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += *y;
                }
                a
            })
            .unwrap_or_else(|| vec![0f32; len])
    } else {
        partial(0..g.n)
    }
}

// ---------------------------------------------------------------------------------------------
// Storage helpers

/// The f32 elements of a storage in row-major order of `layout`, borrowed when contiguous.
pub(super) fn f32_data<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<Cow<'a, [f32]>> {
    let CpuStorage::F32(data) = storage else {
        bail!("conv kernels take f32 tensors")
    };
    if let Some((start, end)) = layout.contiguous_offsets() {
        return Ok(Cow::Borrowed(&data[start..end]));
    }
    // Strided: walk the index like an odometer.
    let dims = layout.dims();
    let strides = layout.stride();
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return Ok(Cow::Owned(out));
    }
    let mut index = vec![0usize; dims.len()];
    let mut offset = layout.start_offset();
    for _ in 0..total {
        out.push(data[offset]);
        for axis in (0..dims.len()).rev() {
            index[axis] += 1;
            offset += strides[axis];
            if index[axis] < dims[axis] {
                break;
            }
            offset -= strides[axis] * dims[axis];
            index[axis] = 0;
        }
    }
    Ok(Cow::Owned(out))
}

// ---------------------------------------------------------------------------------------------
// The ops

/// Backward of a convolution given the gradient of its (pre-ReLU) output.
fn conv_backward(
    x: &Tensor,
    w: &Tensor,
    dout: &Tensor,
    stride: usize,
    padding: (usize, usize),
    with_bias: bool,
) -> Result<(Option<Tensor>, Tensor, Option<Tensor>)> {
    let (_, _, h, wd) = x.dims4()?;
    let (o, c, kh, kw) = w.dims4()?;
    // The first layer's input (the images) needs no gradient.
    let dx = if x.track_op() {
        Some(dout.apply_op2_no_bwd(
            w,
            &GradInput {
                stride,
                padding,
                h,
                w: wd,
            },
        )?)
    } else {
        None
    };
    let all = dout.apply_op2_no_bwd(
        x,
        &GradWeight {
            stride,
            padding,
            kh,
            kw,
            with_bias,
        },
    )?;
    let wlen = o * c * kh * kw;
    let dw = all.narrow(0, 0, wlen)?.reshape((o, c, kh, kw))?;
    let db = if with_bias {
        Some(all.narrow(0, wlen, o)?)
    } else {
        None
    };
    Ok((dx, dw, db))
}

struct Conv2d {
    stride: usize,
    padding: (usize, usize),
}

impl CustomOp2 for Conv2d {
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
        let g = Geom::new(l1.dims(), l2.dims(), self.stride, self.padding)?;
        let x = f32_data(s1, l1)?;
        let w = f32_data(s2, l2)?;
        let out = forward(&g, &x, &w, None, false);
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.oh, g.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = conv_backward(x, w, grad, self.stride, self.padding, false)?;
        Ok((dx, Some(dw)))
    }
}

struct Conv2dBias {
    stride: usize,
    padding: (usize, usize),
    relu: bool,
}

impl CustomOp3 for Conv2dBias {
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
        let g = Geom::new(l1.dims(), l2.dims(), self.stride, self.padding)?;
        if l3.dims() != [g.o] {
            bail!(
                "conv2d: bias {:?} does not match {} outputs",
                l3.dims(),
                g.o
            );
        }
        let x = f32_data(s1, l1)?;
        let w = f32_data(s2, l2)?;
        let b = f32_data(s3, l3)?;
        let out = forward(&g, &x, &w, Some(&b), self.relu);
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.oh, g.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dout = if self.relu {
            grad.apply_op2_no_bwd(res, &ReluMask)?
        } else {
            grad.clone()
        };
        let (dx, dw, db) = conv_backward(x, w, &dout, self.stride, self.padding, true)?;
        Ok((dx, Some(dw), db))
    }
}

/// `grad · [res > 0]`: the gradient through a ReLU, given the ReLU's output.
struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "relu-mask"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            bail!(
                "relu-mask: shapes {:?} and {:?} differ",
                l1.dims(),
                l2.dims()
            );
        }
        let grad = f32_data(s1, l1)?;
        let res = f32_data(s2, l2)?;
        let mut out = vec![0f32; grad.len()];
        const CHUNK: usize = 1 << 14;
        out.par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK).zip(res.par_chunks(CHUNK)))
            .for_each(|(o, (g, r))| {
                for ((o, &g), &r) in o.iter_mut().zip(g).zip(r) {
                    *o = if r > 0.0 { g } else { 0.0 };
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `(dout, weight) → dx`.
struct GradInput {
    stride: usize,
    padding: (usize, usize),
    h: usize,
    w: usize,
}

impl CustomOp2 for GradInput {
    fn name(&self) -> &'static str {
        "fast-conv2d-grad-input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let &[n, _, oh, ow] = l1.dims() else {
            bail!("conv2d grad: output gradient must have rank 4")
        };
        let &[_, c, _, _] = l2.dims() else {
            bail!("conv2d grad: weight must have rank 4")
        };
        let g = Geom::new(
            &[n, c, self.h, self.w],
            l2.dims(),
            self.stride,
            self.padding,
        )?;
        if (g.o, g.oh, g.ow) != (l1.dims()[1], oh, ow) {
            bail!("conv2d grad: output gradient {:?} does not fit", l1.dims());
        }
        let dout = f32_data(s1, l1)?;
        let w = f32_data(s2, l2)?;
        let dx = grad_input(&g, &dout, &w);
        Ok((CpuStorage::F32(dx), Shape::from((n, c, self.h, self.w))))
    }
}

/// `(dout, x) → [dW flattened, db]`.
struct GradWeight {
    stride: usize,
    padding: (usize, usize),
    kh: usize,
    kw: usize,
    with_bias: bool,
}

impl CustomOp2 for GradWeight {
    fn name(&self) -> &'static str {
        "fast-conv2d-grad-weight"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let &[_, o, oh, ow] = l1.dims() else {
            bail!("conv2d grad: output gradient must have rank 4")
        };
        let &[_, c, _, _] = l2.dims() else {
            bail!("conv2d grad: input must have rank 4")
        };
        let g = Geom::new(
            l2.dims(),
            &[o, c, self.kh, self.kw],
            self.stride,
            self.padding,
        )?;
        if (g.n, g.oh, g.ow) != (l1.dims()[0], oh, ow) {
            bail!("conv2d grad: output gradient {:?} does not fit", l1.dims());
        }
        let dout = f32_data(s1, l1)?;
        let x = f32_data(s2, l2)?;
        let out = grad_weight(&g, &dout, &x, self.with_bias);
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
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

    fn max_abs(a: &Tensor) -> f32 {
        a.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor) {
        assert_eq!(ours.dims(), theirs.dims(), "{what}: shapes");
        let d = max_diff(ours, theirs);
        let scale = max_abs(theirs).max(1.0);
        assert!(d <= 1e-4 * scale, "{what}: max diff {d} (scale {scale})");
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
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, input_dims, &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 0.3, weight_dims, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, weight_dims.0, &dev).unwrap()).unwrap();
        let xv = view(x.as_tensor());
        let label = format!(
            "input {input_dims:?} weight {weight_dims:?} stride {stride} padding {padding:?}"
        );

        // Plain convolution.
        let ours = conv2d(&xv, w.as_tensor(), stride, padding).unwrap();
        let theirs = candle_conv2d(&xv, w.as_tensor(), stride, padding).unwrap();
        assert_close(&format!("{label}: forward"), &ours, &theirs);
        // A loss with a different weight per output element, so every gradient entry matters.
        let probe = Tensor::randn(0f32, 1.0, theirs.dims(), &dev).unwrap();
        let g_ours = (&ours * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_theirs = (&theirs * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for (name, var) in [("grad input", &x), ("grad weight", &w)] {
            assert_close(
                &format!("{label}: {name}"),
                g_ours.get(var.as_tensor()).unwrap(),
                g_theirs.get(var.as_tensor()).unwrap(),
            );
        }

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
            let g_ours = (&ours * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g_theirs = (&theirs * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (name, var) in [("grad input", &x), ("grad weight", &w), ("grad bias", &b)] {
                assert_close(
                    &format!("{label}: {name} bias relu={relu}"),
                    g_ours.get(var.as_tensor()).unwrap(),
                    g_theirs.get(var.as_tensor()).unwrap(),
                );
            }
        }
    }

    fn same(t: &Tensor) -> Tensor {
        t.clone()
    }

    #[test]
    fn kernels_conv_3x3_stride_1_pad_1() {
        check(&[1, 3, 9, 11], (5, 3, 3, 3), 1, (1, 1), same);
        check(&[3, 4, 8, 8], (6, 4, 3, 3), 1, (1, 1), same);
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

    #[test]
    fn kernels_conv_falls_back_for_other_dtypes() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 2, 5, 5), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (3, 2, 3, 3), &dev).unwrap();
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
