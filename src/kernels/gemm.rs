//! The one GEMM every kernel calls: the `gemm` crate's f32 GEMM behind a bounds-checked safe
//! wrapper. The roofline (`cari-mtl bench --roofline`) measures the machine's rate through the
//! same function, so the kernels are compared with what their own GEMM can do.

use gemm::Parallelism;
use rayon::prelude::*;
use std::time::Instant;

/// A read-only matrix view: element (i, j) at `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

/// Index one past the last element a `rows × cols` view with these strides touches.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    (rows - 1) * rs + (cols - 1) * cs + 1
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` if `accumulate`), `dst` an `m × n` row-major
/// matrix with row stride `dst_rs ≥ n`, `lhs` `m × k`, `rhs` `k × n`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
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

/// How a measured GEMM uses the threads: the kernels' two ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmThreads {
    /// One GEMM spread over all of rayon's threads (`Parallelism::Rayon`): a layer whose batch
    /// is too small to spread images over the threads.
    Shared,
    /// One single-threaded GEMM (`Parallelism::None`) on each of rayon's threads at once: the
    /// batch-parallel layers, one image per thread.
    PerThread,
}

/// The rate of [`matmul`] in FLOP/s on `size × size` by `size × size` products (2·size³
/// FLOP each; row-major operands, all rayon threads busy as `threads` says): the best of
/// `repeats` timed rounds after one untimed one.
pub fn measured_rate(size: usize, threads: GemmThreads, repeats: usize) -> f64 {
    let count = rayon::current_num_threads();
    let products = match threads {
        GemmThreads::Shared => 1,
        GemmThreads::PerThread => count,
    };
    let len = size * size;
    // Fixed, finite operands: the rate of a GEMM does not depend on the values.
    let lhs: Vec<f32> = (0..len).map(|i| (i % 7) as f32 * 0.25 - 0.75).collect();
    let rhs: Vec<f32> = (0..len).map(|i| (i % 5) as f32 * 0.5 - 1.0).collect();
    let mut outputs = vec![vec![0f32; len]; products];
    let view = |data| Mat {
        data,
        rs: size,
        cs: 1,
    };
    let round = |outputs: &mut [Vec<f32>]| {
        let started = Instant::now();
        match threads {
            GemmThreads::Shared => matmul(
                size,
                size,
                size,
                &mut outputs[0],
                size,
                false,
                view(&lhs),
                view(&rhs),
                Parallelism::Rayon(count),
            ),
            GemmThreads::PerThread => outputs.par_iter_mut().for_each(|dst| {
                matmul(
                    size,
                    size,
                    size,
                    dst,
                    size,
                    false,
                    view(&lhs),
                    view(&rhs),
                    Parallelism::None,
                )
            }),
        }
        started.elapsed().as_secs_f64()
    };
    round(&mut outputs);
    let best = (0..repeats.max(1))
        .map(|_| round(&mut outputs))
        .fold(f64::INFINITY, f64::min);
    2.0 * (size as f64).powi(3) * products as f64 / best.max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_gemm_multiplies_strided_views_and_accumulates() {
        // [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]]; the right-hand side read
        // column-major (its transpose stored row-major), the result into rows of stride 3.
        let lhs = [1f32, 2., 3., 4.];
        let rhs_t = [5f32, 7., 6., 8.];
        let mut dst = [0f32, 0., -1., 0., 0., -1.];
        let l = Mat {
            data: &lhs,
            rs: 2,
            cs: 1,
        };
        let r = Mat {
            data: &rhs_t,
            rs: 1,
            cs: 2,
        };
        matmul(2, 2, 2, &mut dst, 3, false, l, r, Parallelism::None);
        assert_eq!(dst, [19., 22., -1., 43., 50., -1.]);
        matmul(2, 2, 2, &mut dst, 3, true, l, r, Parallelism::None);
        assert_eq!(dst, [38., 44., -1., 86., 100., -1.]);
    }
}
