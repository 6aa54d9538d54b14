//! The portable path against the fast one, op by op, on the layer shapes of both presets:
//! forward values and every gradient to 1e-4 of the tensor's largest magnitude.

use super::*;
use crate::kernels::testing::{max_abs, max_diff, seeded_normal};
use candle_core::Var;

fn assert_relative(what: &str, fast: &Tensor, portable: &Tensor) {
    assert_eq!(fast.dims(), portable.dims(), "{what}: shapes");
    let diff = max_diff(fast, portable);
    let scale = max_abs(fast);
    assert!(
        diff <= 1e-4 * scale,
        "{what}: fast and portable differ by {diff} (largest value {scale})"
    );
}

/// Runs `op` on both kernels, then compares the outputs and the gradients of Σ probe·output
/// (a different weight per output, so every entry of every gradient matters) for `vars`.
fn assert_paths_agree(label: &str, vars: &[(&str, &Var)], op: impl Fn(Kernels) -> Tensor) {
    let (fast, portable) = (op(Kernels::Fast), op(Kernels::Portable));
    assert_relative(&format!("{label}: forward"), &fast, &portable);
    let probe = seeded_normal(7, fast.dims(), 1.0);
    let grads = |t: &Tensor| (t * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    let (g_fast, g_portable) = (grads(&fast), grads(&portable));
    for (name, var) in vars {
        let what = format!("{label}: gradient of {name}");
        let (Some(a), Some(b)) = (g_fast.get(var.as_tensor()), g_portable.get(var.as_tensor()))
        else {
            panic!("{what}: missing on one path");
        };
        assert_relative(&what, a, b);
    }
}

/// (input dims, weight dims, stride, padding) of the presets' convolutions, at small sides.
type ConvCase = (
    [usize; 4],
    (usize, usize, usize, usize),
    usize,
    (usize, usize),
);

const CONV_CASES: [ConvCase; 7] = [
    // tiny: 3×3, padding 1 (the first layer's channels).
    ([2, 3, 12, 12], (8, 3, 3, 3), 1, (1, 1)),
    // paper stem: 3×3/2 VALID on an odd side (a row and column left over), 3×3 VALID.
    ([2, 3, 15, 15], (6, 3, 3, 3), 2, (0, 0)),
    ([2, 5, 9, 9], (6, 5, 3, 3), 1, (0, 0)),
    // paper blocks: 1×1, 1×7 / 7×1 and 1×3 / 3×1 with one-sided padding.
    ([2, 8, 6, 6], (5, 8, 1, 1), 1, (0, 0)),
    ([2, 6, 8, 8], (4, 6, 1, 7), 1, (0, 3)),
    ([2, 6, 8, 8], (4, 6, 7, 1), 1, (3, 0)),
    ([2, 6, 5, 5], (4, 6, 3, 1), 1, (1, 0)),
];

#[test]
fn kernels_portable_convolutions_match_the_fast_ones() {
    for (case, (input, weight, stride, padding)) in CONV_CASES.into_iter().enumerate() {
        let seed = 100 + 10 * case as u64;
        let x = Var::from_tensor(&seeded_normal(seed, &input, 1.0)).unwrap();
        let w = Var::from_tensor(&seeded_normal(seed + 1, weight, 0.3)).unwrap();
        let b = Var::from_tensor(&seeded_normal(seed + 2, weight.0, 0.3)).unwrap();
        let label = format!("input {input:?} weight {weight:?} stride {stride}");
        let (xt, wt, bt) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
        assert_paths_agree(&format!("{label}, no bias"), &[("x", &x), ("w", &w)], |k| {
            k.conv2d(xt, wt, stride, padding).unwrap()
        });
        for relu in [false, true] {
            assert_paths_agree(
                &format!("{label}, bias, relu {relu}"),
                &[("x", &x), ("w", &w), ("b", &b)],
                |k| k.conv2d_bias(xt, wt, bt, stride, padding, relu).unwrap(),
            );
        }
    }
}

#[test]
fn kernels_portable_fused_conv_relu_pool_matches_the_fast_one() {
    // The tiny trunk's stages (and the reference workload's): 3×3 conv + bias + ReLU + 2×2
    // pool, one with a side the pool leaves a row and column of.
    for (case, (input, weight)) in [([2, 3, 12, 12], (8, 3, 3, 3)), ([3, 4, 9, 9], (6, 4, 3, 3))]
        .into_iter()
        .enumerate()
    {
        let seed = 200 + 10 * case as u64;
        let x = Var::from_tensor(&seeded_normal(seed, &input, 1.0)).unwrap();
        let w = Var::from_tensor(&seeded_normal(seed + 1, weight, 0.3)).unwrap();
        let b = Var::from_tensor(&seeded_normal(seed + 2, weight.0, 0.3)).unwrap();
        let (xt, wt, bt) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
        assert_paths_agree(
            &format!("input {input:?} weight {weight:?} pooled"),
            &[("x", &x), ("w", &w), ("b", &b)],
            |k| k.conv2d_bias_relu_pool(xt, wt, bt, 1, (1, 1), 2).unwrap(),
        );
    }
}

#[test]
fn kernels_portable_pools_match_the_fast_ones() {
    let x = Var::from_tensor(&seeded_normal(300, (2, 3, 9, 11), 1.0)).unwrap();
    for k in [2, 3] {
        assert_paths_agree(&format!("max_pool2d {k}"), &[("x", &x)], |kernels| {
            kernels.max_pool2d(x.as_tensor(), k).unwrap()
        });
    }
    // The paper's 3×3/2 pools (overlapping windows), on odd and even sides.
    for (seed, dims) in [(301, [2, 3, 9, 9]), (302, [1, 4, 8, 8])] {
        let x = Var::from_tensor(&seeded_normal(seed, &dims, 1.0)).unwrap();
        assert_paths_agree(
            &format!("max_pool2d_strided 3/2 on {dims:?}"),
            &[("x", &x)],
            |kernels| kernels.max_pool2d_strided(x.as_tensor(), 3, 2).unwrap(),
        );
    }
}

/// A seeded tensor of small whole numbers (−1, 0, 1, 2) with a block of zeros: ties in every
/// pooling window and exact zeros before the ReLU, as flat image regions and dead ReLUs give.
fn flat(seed: u64, dims: [usize; 4]) -> Tensor {
    let values = seeded_normal(seed, &dims, 1.5)
        .round()
        .unwrap()
        .clamp(-1f32, 2f32)
        .unwrap();
    let [n, c, h, w] = dims;
    let zeros = Tensor::zeros((n, c, h / 2, w / 2), DType::F32, values.device()).unwrap();
    values
        .slice_assign(&[0..n, 0..c, 0..h / 2, 0..w / 2], &zeros)
        .unwrap()
}

#[test]
fn kernels_portable_path_breaks_ties_and_zeros_as_the_fast_one() {
    // The whole gradient to the first maximum of a tied window, none through a ReLU whose
    // input is exactly 0 (candle's `max` feeds every tied maximum; its `relu` passes the
    // gradient at 0).
    let x = Var::from_tensor(&flat(400, [2, 3, 10, 10])).unwrap();
    for k in [2, 3] {
        assert_paths_agree(&format!("tied max_pool2d {k}"), &[("x", &x)], |kernels| {
            kernels.max_pool2d(x.as_tensor(), k).unwrap()
        });
    }
    assert_paths_agree("tied max_pool2d_strided 3/2", &[("x", &x)], |kernels| {
        kernels.max_pool2d_strided(x.as_tensor(), 3, 2).unwrap()
    });
    // Whole-number weights and a zero bias: exact zeros and exact ties after the convolution.
    let w = Var::from_tensor(&flat(401, [4, 3, 3, 3])).unwrap();
    let b = Var::from_tensor(&Tensor::zeros(4, DType::F32, x.device()).unwrap()).unwrap();
    let (xt, wt, bt) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
    let vars = [("x", &x), ("w", &w), ("b", &b)];
    assert_paths_agree("tied conv relu", &vars, |k| {
        k.conv2d_bias(xt, wt, bt, 1, (1, 1), true).unwrap()
    });
    assert_paths_agree("tied conv relu pool", &vars, |k| {
        k.conv2d_bias_relu_pool(xt, wt, bt, 1, (1, 1), 2).unwrap()
    });
}

#[test]
fn kernels_choice_parses_its_keys_and_says_where_the_hand_written_ones_run() {
    for kernels in Kernels::ALL {
        assert_eq!(Kernels::parse(kernels.key()), Ok(kernels));
    }
    let err = Kernels::parse("gpu").unwrap_err();
    assert!(err.contains("'gpu'") && err.contains("portable"), "{err}");
    let x = seeded_normal(1, (1, 1, 2, 2), 1.0);
    assert!(Kernels::Fast.hand_written_for(&x));
    assert!(!Kernels::Portable.hand_written_for(&x));
    let doubles = x.to_dtype(DType::F64).unwrap();
    assert!(!Kernels::Fast.hand_written_for(&doubles));
}
