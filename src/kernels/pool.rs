//! Max pooling with a square window equal to its stride, as a candle custom op whose backward
//! sends each window's gradient to the window's maximum (the first one in row-major order on
//! ties, as PyTorch does), in one parallel pass.
//!
//! candle 0.11's own `max_pool2d` backward takes about ten full-size passes and multiplies the
//! gradient by (number of maxima in the window) / k², so a 2×2 pool passes on only a quarter of
//! the gradient; this op passes all of it, like PyTorch. Off the CPU,
//! [`max_pool2d_by_reduction`] does the same with candle's reshape and `max`.

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

/// The same pooling from candle's own ops, for other devices and dtypes: each window becomes
/// two axes of a reshaped tensor and is reduced with `max`, whose backward sends the whole
/// gradient to the maximum (to every one of tied maxima). candle's `max_pool2d` is not used
/// because its backward scales the gradient by (maxima in the window) / k².
pub fn max_pool2d_by_reduction(x: &Tensor, k: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if k == 0 || h < k || w < k {
        bail!("max_pool2d: window {k} does not fit {h}×{w}");
    }
    let (oh, ow) = (h / k, w / k);
    x.narrow(2, 0, oh * k)?
        .narrow(3, 0, ow * k)?
        .contiguous()?
        .reshape((n, c, oh, k, ow, k))?
        .max_keepdim(5)?
        .max_keepdim(3)?
        .reshape((n, c, oh, ow))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::max_diff;
    use candle_core::{Device, Var};

    #[test]
    fn kernels_max_pool_forward_matches_candle() {
        let dev = Device::Cpu;
        for dims in [[2, 3, 8, 8], [1, 2, 7, 9], [3, 1, 4, 6]] {
            let x = Tensor::randn(0f32, 1.0, &dims, &dev).unwrap();
            for k in [2, 3] {
                let ours = max_pool2d(&x, k).unwrap();
                let theirs = x.max_pool2d(k).unwrap();
                assert_eq!(ours.dims(), theirs.dims());
                assert_eq!(max_diff(&ours, &theirs), 0.0, "{dims:?} k {k}");
            }
        }
        // Non-contiguous input.
        let x = Tensor::randn(0f32, 1.0, (2, 3, 6, 8), &dev)
            .unwrap()
            .transpose(2, 3)
            .unwrap();
        let d = max_diff(&max_pool2d(&x, 2).unwrap(), &x.max_pool2d(2).unwrap());
        assert_eq!(d, 0.0);
    }

    #[test]
    fn kernels_max_pool_by_reduction_matches_the_kernel() {
        // The fallback used off the CPU, checked on the CPU against the kernel: forward and
        // gradient, with a dropped row and column.
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 9, 7), &dev).unwrap()).unwrap();
        for k in [2, 3] {
            let ours = max_pool2d(x.as_tensor(), k).unwrap();
            let theirs = max_pool2d_by_reduction(x.as_tensor(), k).unwrap();
            let probe = Tensor::randn(0f32, 1.0, ours.dims(), &dev).unwrap();
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
}
