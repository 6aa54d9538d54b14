//! Max pooling as candle custom ops whose backward sends each window's gradient to the window's
//! maximum (the first one in row-major order on ties, as PyTorch does), in one parallel pass:
//!
//! - [`max_pool2d`]: square windows equal to their stride (the tiny preset's 2×2/2 pools);
//! - [`max_pool2d_strided`]: `k × k` windows every `stride` pixels with VALID padding, windows
//!   overlapping when `stride < k` (Inception-ResNet's 3×3/2 pools in the stem and reductions).
//!
//! candle 0.11's own `max_pool2d` backward takes about ten full-size passes and multiplies the
//! gradient by (number of maxima in the window) / k², so a 2×2 pool passes on only a quarter of
//! the gradient; these ops pass all of it, like PyTorch. Off the CPU,
//! [`max_pool2d_by_reduction`] and [`max_pool2d_strided_by_gather`] do the same with candle ops.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::storage::f32_data;

/// `x` `[N, C, H, W]` max-pooled over `k × k` windows with stride `k` (the rows and columns
/// left over at the bottom and right are dropped). Falls back to candle off the CPU or for
/// dtypes other than f32.
pub fn max_pool2d(x: &Tensor, k: usize) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.apply_op1(MaxPool { k })
    } else {
        max_pool2d_by_reduction(x, k)
    }
}

/// The same pooling from candle's own ops, for other devices and dtypes: each window's pixels
/// become one axis of a reshaped tensor (row-major inside the window), reduced with `argmax`,
/// and the value is gathered there, so the whole gradient goes to the window's first maximum,
/// as in the kernel and PyTorch. `max` is not used because its backward feeds every tied
/// maximum, and ties are common (flat image regions, windows of ReLU zeros); candle's
/// `max_pool2d` is not used because its backward scales the gradient by (maxima) / k².
pub fn max_pool2d_by_reduction(x: &Tensor, k: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if k == 0 || h < k || w < k {
        bail!("max_pool2d: window {k} does not fit {h}×{w}");
    }
    let (oh, ow) = (h / k, w / k);
    let windows = x
        .narrow(2, 0, oh * k)?
        .narrow(3, 0, ow * k)?
        .contiguous()?
        .reshape((n, c, oh, k, ow, k))?
        .permute((0, 1, 2, 4, 3, 5))?
        .contiguous()?
        .reshape((n, c, oh, ow, k * k))?;
    let first_max = windows.argmax_keepdim(4)?;
    windows.gather(&first_max, 4)?.reshape((n, c, oh, ow))
}

struct MaxPool {
    k: usize,
}

fn dims(layout: &Layout, k: usize) -> Result<(usize, usize, usize, usize)> {
    let &[n, c, h, w] = layout.dims() else {
        bail!(
            "max_pool2d: input must have rank 4, got {:?}",
            layout.dims()
        )
    };
    if k == 0 || h < k || w < k {
        bail!("max_pool2d: window {k} does not fit {h}×{w}");
    }
    Ok((n * c, h, w, k))
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "fast-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (planes, h, w, k) = dims(l, self.k)?;
        let (oh, ow) = (h / k, w / k);
        let x = f32_data(s, l)?;
        let mut out = vec![0f32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(x.par_chunks(h * w))
            .for_each(|(dst, src)| {
                for oy in 0..oh {
                    let drow = &mut dst[oy * ow..(oy + 1) * ow];
                    drow.fill(f32::NEG_INFINITY);
                    for ky in 0..k {
                        let srow = &src[(oy * k + ky) * w..(oy * k + ky) * w + ow * k];
                        for (d, win) in drow.iter_mut().zip(srow.chunks_exact(k)) {
                            let mut nan = false;
                            for &v in win {
                                // A select, not a branch (which is mispredicted half the
                                // time); NaN is tracked apart, which keeps this loop fast.
                                *d = if v > *d { v } else { *d };
                                nan |= v.is_nan();
                            }
                            // NaN propagates, as in candle and PyTorch.
                            if nan {
                                *d = f32::NAN;
                            }
                        }
                    }
                }
            });
        let &[n, c, _, _] = l.dims() else {
            unreachable!("rank checked above")
        };
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(grad, &MaxPoolGrad { k: self.k })?))
    }
}

/// `(x, dout) → dx`.
struct MaxPoolGrad {
    k: usize,
}

impl CustomOp2 for MaxPoolGrad {
    fn name(&self) -> &'static str {
        "fast-max-pool2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (planes, h, w, k) = dims(l1, self.k)?;
        let (oh, ow) = (h / k, w / k);
        if l2.dims().iter().product::<usize>() != planes * oh * ow {
            bail!("max_pool2d grad: gradient {:?} does not fit", l2.dims());
        }
        let x = f32_data(s1, l1)?;
        let dout = f32_data(s2, l2)?;
        let mut dx = vec![0f32; planes * h * w];
        dx.par_chunks_mut(h * w)
            .zip(x.par_chunks(h * w).zip(dout.par_chunks(oh * ow)))
            .for_each(|(dst, (src, d))| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut best = (oy * k) * w + ox * k;
                        let mut top = src[best];
                        for ky in 0..k {
                            let row = (oy * k + ky) * w + ox * k;
                            for (i, &v) in src[row..row + k].iter().enumerate() {
                                let better = (v > top) | (v.is_nan() & !top.is_nan());
                                top = if better { v } else { top };
                                best = if better { row + i } else { best };
                            }
                        }
                        dst[best] += d[oy * ow + ox];
                    }
                }
            });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// `x` `[N, C, H, W]` max-pooled over `k × k` windows placed every `stride` pixels, VALID
/// padding (windows never hang over the border): output `(H − k)/stride + 1` per axis. With
/// `stride < k` the windows overlap, as in Inception-ResNet's 3×3/2 pools; the backward sends
/// each window's gradient to its first maximum in row-major order and adds up where windows
/// share a pixel. Falls back to candle ops off the CPU or for dtypes other than f32.
pub fn max_pool2d_strided(x: &Tensor, k: usize, stride: usize) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.apply_op1(StridedMaxPool { k, stride })
    } else {
        max_pool2d_strided_by_gather(x, k, stride)
    }
}

/// The same pooling from candle's own ops: every window's k² pixels are picked with one
/// `index_select` (whose backward adds up, so overlapping windows accumulate), and `gather` at
/// the `argmax` keeps the first maximum of each window, so exactly one pixel per window gets
/// its gradient. (`max` is not used because its backward feeds every tied maximum; candle's
/// `max_pool2d` has no stride parameter for its backward and scales the gradient by 1/k².)
pub fn max_pool2d_strided_by_gather(x: &Tensor, k: usize, stride: usize) -> Result<Tensor> {
    let window = Window::new(x.dims(), k, stride)?;
    let (n, c) = (x.dim(0)?, x.dim(1)?);
    let taps = window.tap_offsets();
    let index = Tensor::from_vec(taps, k * k * window.out_len(), x.device())?;
    let picked = x
        .contiguous()?
        .reshape((n * c, window.h * window.w))?
        .index_select(&index, 1)?
        .reshape((n * c, k * k, window.out_len()))?;
    let first_max = picked.argmax_keepdim(1)?;
    picked
        .gather(&first_max, 1)?
        .reshape((n, c, window.oh, window.ow))
}

/// The geometry of a strided max-pool over one `h × w` plane.
#[derive(Clone, Copy, Debug)]
struct Window {
    k: usize,
    stride: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Window {
    fn new(dims: &[usize], k: usize, stride: usize) -> Result<Window> {
        let &[_, _, h, w] = dims else {
            bail!("max_pool2d_strided: input must have rank 4, got {dims:?}")
        };
        if k == 0 || stride == 0 {
            bail!("max_pool2d_strided: window {k} and stride {stride} must be at least 1");
        }
        if h < k || w < k {
            bail!("max_pool2d_strided: window {k} does not fit {h}×{w}");
        }
        Ok(Window {
            k,
            stride,
            h,
            w,
            oh: (h - k) / stride + 1,
            ow: (w - k) / stride + 1,
        })
    }

    fn out_len(&self) -> usize {
        self.oh * self.ow
    }

    /// Offset in the plane of the window's top-left pixel for output `o` (row-major).
    fn origin(&self, o: usize) -> usize {
        (o / self.ow) * self.stride * self.w + (o % self.ow) * self.stride
    }

    /// For tap t = ky·k + kx (row-major inside the window) and output o, the plane offset of the
    /// pixel, laid out `[t][o]`.
    fn tap_offsets(&self) -> Vec<u32> {
        let mut offsets = Vec::with_capacity(self.k * self.k * self.out_len());
        for ky in 0..self.k {
            for kx in 0..self.k {
                offsets.extend(
                    (0..self.out_len()).map(|o| (self.origin(o) + ky * self.w + kx) as u32),
                );
            }
        }
        offsets
    }

    /// The plane offset of the first maximum (row-major) of output `o`'s window; a NaN wins,
    /// so a NaN input gets the gradient of the NaN it produced.
    fn first_max(&self, plane: &[f32], o: usize) -> usize {
        let origin = self.origin(o);
        let mut best = origin;
        let mut top = plane[origin];
        for ky in 0..self.k {
            let row = origin + ky * self.w;
            for (i, &v) in plane[row..row + self.k].iter().enumerate() {
                let better = (v > top) | (v.is_nan() & !top.is_nan());
                top = if better { v } else { top };
                best = if better { row + i } else { best };
            }
        }
        best
    }
}

struct StridedMaxPool {
    k: usize,
    stride: usize,
}

impl CustomOp1 for StridedMaxPool {
    fn name(&self) -> &'static str {
        "strided-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let window = Window::new(l.dims(), self.k, self.stride)?;
        let x = f32_data(s, l)?;
        let plane = window.h * window.w;
        let mut out = vec![0f32; x.len() / plane * window.out_len()];
        out.par_chunks_mut(window.out_len())
            .zip(x.par_chunks(plane))
            .for_each(|(dst, src)| {
                for (o, d) in dst.iter_mut().enumerate() {
                    *d = src[window.first_max(src, o)];
                }
            });
        let &[n, c, _, _] = l.dims() else {
            unreachable!("rank checked by Window::new")
        };
        Ok((
            CpuStorage::F32(out),
            Shape::from((n, c, window.oh, window.ow)),
        ))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let op = StridedMaxPoolGrad {
            k: self.k,
            stride: self.stride,
        };
        Ok(Some(x.apply_op2_no_bwd(grad, &op)?))
    }
}

/// `(x, dout) → dx` for [`StridedMaxPool`].
struct StridedMaxPoolGrad {
    k: usize,
    stride: usize,
}

impl CustomOp2 for StridedMaxPoolGrad {
    fn name(&self) -> &'static str {
        "strided-max-pool2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let window = Window::new(l1.dims(), self.k, self.stride)?;
        let plane = window.h * window.w;
        let planes = l1.dims().iter().product::<usize>() / plane;
        if l2.dims().iter().product::<usize>() != planes * window.out_len() {
            bail!(
                "max_pool2d_strided grad: gradient {:?} does not fit",
                l2.dims()
            );
        }
        let x = f32_data(s1, l1)?;
        let dout = f32_data(s2, l2)?;
        let mut dx = vec![0f32; planes * plane];
        // One plane per task: windows that overlap add into the same pixel within a plane only.
        dx.par_chunks_mut(plane)
            .zip(x.par_chunks(plane).zip(dout.par_chunks(window.out_len())))
            .for_each(|(dst, (src, d))| {
                for (o, &g) in d.iter().enumerate() {
                    dst[window.first_max(src, o)] += g;
                }
            });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{max_diff, seeded_normal};
    use candle_core::{Device, Var};

    #[test]
    fn kernels_max_pool_forward_matches_candle() {
        for (seed, dims) in [[2, 3, 8, 8], [1, 2, 7, 9], [3, 1, 4, 6]]
            .into_iter()
            .enumerate()
        {
            let x = seeded_normal(seed as u64, &dims, 1.0);
            for k in [2, 3] {
                let ours = max_pool2d(&x, k).unwrap();
                let theirs = x.max_pool2d(k).unwrap();
                assert_eq!(ours.dims(), theirs.dims());
                assert_eq!(max_diff(&ours, &theirs), 0.0, "{dims:?} k {k}");
            }
        }
        // Non-contiguous input.
        let x = seeded_normal(3, (2, 3, 6, 8), 1.0).transpose(2, 3).unwrap();
        let d = max_diff(&max_pool2d(&x, 2).unwrap(), &x.max_pool2d(2).unwrap());
        assert_eq!(d, 0.0);
    }

    #[test]
    fn kernels_max_pool_by_reduction_matches_the_kernel() {
        // The fallback used off the CPU, checked on the CPU against the kernel: forward and
        // gradient, with a dropped row and column.
        let x = Var::from_tensor(&seeded_normal(20, (2, 3, 9, 7), 1.0)).unwrap();
        for k in [2, 3] {
            let ours = max_pool2d(x.as_tensor(), k).unwrap();
            let theirs = max_pool2d_by_reduction(x.as_tensor(), k).unwrap();
            let probe = seeded_normal(21 + k as u64, ours.dims(), 1.0);
            assert_eq!(max_diff(&ours, &theirs), 0.0, "forward k {k}");
            let g1 = (&ours * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (&theirs * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let (g1, g2) = (
                g1.get(x.as_tensor()).unwrap(),
                g2.get(x.as_tensor()).unwrap(),
            );
            assert_eq!(max_diff(g1, g2), 0.0, "gradient k {k}");
        }
    }

    #[test]
    fn kernels_max_pool_gradient_goes_to_the_maximum() {
        let dev = Device::Cpu;
        // One 2×2 window per quarter of a 4×4 plane (plus a dropped last row for a 5×4 plane).
        let values = [
            1f32, 5., 0., -1., //
            2., 3., 4., 4., // a tie: the first 4 takes the gradient
            -3., -2., 9., 8., //
            -4., -1., 7., 6., //
            100., 100., 100., 100., // dropped row
        ];
        let x =
            Var::from_tensor(&Tensor::from_slice(&values, (1, 1, 5, 4), &dev).unwrap()).unwrap();
        let y = max_pool2d(x.as_tensor(), 2).unwrap();
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [5., 4., -1., 9.]
        );
        let probe = Tensor::from_slice(&[10f32, 20., 30., 40.], (1, 1, 2, 2), &dev).unwrap();
        let grads = (y * probe).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = grads
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        #[rustfmt::skip]
        let expected = [
            0f32, 10., 0., 0.,
            0., 0., 20., 0.,
            0., 0., 40., 0.,
            0., 30., 0., 0.,
            0., 0., 0., 0.,
        ];
        assert_eq!(dx, expected);
    }

    /// The plane pair of `kernels_strided_max_pool_forward_matches_numpy`: values
    /// (17·i mod 89) − 44, distinct, shape 1×2×7×6.
    fn numpy_input() -> Vec<f32> {
        (0..2 * 7 * 6)
            .map(|i| ((i * 17) % 89) as f32 - 44.0)
            .collect()
    }

    #[test]
    fn kernels_strided_max_pool_forward_matches_numpy() {
        // Reference from numpy (3×3 windows, stride 2, VALID: 7×6 → 3×2, the last column
        // dropped):
        //   import numpy as np
        //   x = ((np.arange(2 * 7 * 6) * 17) % 89).astype(np.float32).reshape(1, 2, 7, 6) - 44
        //   oh, ow = (7 - 3) // 2 + 1, (6 - 3) // 2 + 1
        //   y = [[[x[0, c, 2*i:2*i+3, 2*j:2*j+3].max() for j in range(ow)] for i in range(oh)]
        //        for c in range(2)]
        //   print(np.array(y).astype(int).tolist())
        // → [[[16, 37], [42, 42], [42, 42]], [[18, 39], [44, 44], [44, 44]]]
        let dev = Device::Cpu;
        let x = Tensor::from_vec(numpy_input(), (1, 2, 7, 6), &dev).unwrap();
        let expected = [16f32, 37., 42., 42., 42., 42., 18., 39., 44., 44., 44., 44.];
        for (name, y) in [
            ("kernel", max_pool2d_strided(&x, 3, 2).unwrap()),
            ("fallback", max_pool2d_strided_by_gather(&x, 3, 2).unwrap()),
        ] {
            assert_eq!(y.dims(), [1, 2, 3, 2], "{name}");
            assert_eq!(
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                expected,
                "{name}"
            );
        }
        // With stride = k it is the plain pool.
        let r = seeded_normal(30, (2, 3, 9, 8), 1.0);
        let d = max_diff(
            &max_pool2d_strided(&r, 2, 2).unwrap(),
            &max_pool2d(&r, 2).unwrap(),
        );
        assert_eq!(d, 0.0);
    }

    #[test]
    fn kernels_strided_max_pool_gradients_accumulate_where_windows_overlap() {
        // In the numpy example the 42 at row 4, column 2 of the first plane is the maximum of
        // four overlapping windows (outputs (1,0), (1,1), (2,0), (2,1)): it receives the sum of
        // their gradients, 3 + 4 + 5 + 6; the 16 and the 37 receive 1 and 2.
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::from_vec(numpy_input(), (1, 2, 7, 6), &dev).unwrap())
            .unwrap();
        let probe: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let probe = Tensor::from_vec(probe, (1, 2, 3, 2), &dev).unwrap();
        let y = max_pool2d_strided(x.as_tensor(), 3, 2).unwrap();
        let grads = (y * probe).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = grads.get(x.as_tensor()).unwrap().flatten_all().unwrap();
        let dx = dx.to_vec1::<f32>().unwrap();
        let at = |c: usize, row: usize, col: usize| dx[c * 42 + row * 6 + col];
        assert_eq!(at(0, 4, 2), 3. + 4. + 5. + 6.);
        assert_eq!(at(0, 2, 2), 1.);
        assert_eq!(at(0, 1, 4), 2.);
        assert_eq!(dx.iter().sum::<f32>(), (1..=12).sum::<i32>() as f32);
    }

    /// Σ y·probe for a strided pool of `values`, summed in f64 on the host so that rounding
    /// does not swamp the finite difference.
    fn probed_pool(values: &[f32], dims: (usize, usize, usize, usize), probe: &[f32]) -> f64 {
        let x = Tensor::from_slice(values, dims, &Device::Cpu).unwrap();
        let y = max_pool2d_strided(&x, 3, 2).unwrap();
        let y = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        y.iter()
            .zip(probe)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum()
    }

    #[test]
    fn kernels_strided_max_pool_gradient_matches_finite_differences() {
        // Every number here is exact in f32 and in f64, so the central difference equals the
        // analytic gradient exactly, not up to rounding: the pixels are distinct multiples of
        // 1/8 (|x| ≤ 23), the step is h = 2⁻⁷ (so x ± h is exact and never changes which pixel
        // is a window's maximum), and the probe holds multiples of 1/64 below 4 (so each
        // product y·probe and their f64 sum are exact, and so is their difference over 2h).
        let dev = Device::Cpu;
        let dims = (2, 2, 9, 8);
        let count = 2 * 2 * 9 * 8;
        let values: Vec<f32> = (0..count)
            .map(|i| ((i * 101) % 293) as f32 * 0.125 - 14.0)
            .collect();
        let x = Var::from_tensor(&Tensor::from_slice(&values, dims, &dev).unwrap()).unwrap();
        let y = max_pool2d_strided(x.as_tensor(), 3, 2).unwrap();
        let probe_host: Vec<f32> = (0..y.elem_count())
            .map(|i| ((i * 37) % 251) as f32 / 64.0 - 1.953125)
            .collect();
        let probe = Tensor::from_slice(&probe_host, y.dims(), &dev).unwrap();
        let grads = (&y * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let analytic = grads.get(x.as_tensor()).unwrap().flatten_all().unwrap();
        let analytic = analytic.to_vec1::<f32>().unwrap();
        let h = 2f32.powi(-7);
        for i in 0..count {
            let mut plus = values.clone();
            plus[i] += h;
            let mut minus = values.clone();
            minus[i] -= h;
            let fd = (probed_pool(&plus, dims, &probe_host)
                - probed_pool(&minus, dims, &probe_host))
                / (2.0 * h as f64);
            assert_eq!(
                fd, analytic[i] as f64,
                "pixel {i}: analytic {} vs finite difference {fd}",
                analytic[i]
            );
        }
    }

    #[test]
    fn kernels_strided_max_pool_fallback_matches_the_kernel() {
        // The fallback used off the CPU, checked on the CPU against the kernel: forward and
        // gradient, overlapping windows and a non-contiguous input.
        let base = seeded_normal(40, (2, 3, 11, 9), 1.0);
        let x = Var::from_tensor(&base).unwrap();
        let xt = x.as_tensor().transpose(2, 3).unwrap();
        for (k, stride) in [(3, 2), (3, 1), (2, 2), (3, 3)] {
            let ours = max_pool2d_strided(&xt, k, stride).unwrap();
            let theirs = max_pool2d_strided_by_gather(&xt, k, stride).unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            assert_eq!(max_diff(&ours, &theirs), 0.0, "forward {k}/{stride}");
            let probe = seeded_normal(41 + (k * 10 + stride) as u64, ours.dims(), 1.0);
            let g1 = (&ours * &probe).unwrap().sum_all().unwrap();
            let g2 = (&theirs * &probe).unwrap().sum_all().unwrap();
            let (g1, g2) = (g1.backward().unwrap(), g2.backward().unwrap());
            let (g1, g2) = (
                g1.get(x.as_tensor()).unwrap(),
                g2.get(x.as_tensor()).unwrap(),
            );
            assert!(max_diff(g1, g2) < 1e-6, "gradient {k}/{stride}");
        }
    }

    #[test]
    fn kernels_strided_max_pool_rejects_a_window_that_does_not_fit() {
        let x = Tensor::zeros((1, 1, 2, 5), DType::F32, &Device::Cpu).unwrap();
        let message = max_pool2d_strided(&x, 3, 2).unwrap_err().to_string();
        assert!(message.contains("does not fit"), "{message}");
    }
}
