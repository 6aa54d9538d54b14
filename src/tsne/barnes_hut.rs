//! Fast Barnes–Hut t-SNE for the live embedding projector.
//!
//! Pipeline (van der Maaten 2014, with the openTSNE / Belkina et al. 2019 defaults):
//!
//! 1. exact k-nearest neighbours (`k = ⌊3·perplexity⌋`) by blocked dot products, in parallel;
//! 2. per-point Gaussian bandwidths by bisection on the entropy (target `ln perplexity`);
//! 3. symmetrised sparse affinities `P = (P_{j|i} + P_{i|j}) / 2N`;
//! 4. PCA initialisation (orthogonal power iteration on the covariance), scaled so the first
//!    coordinate has standard deviation `1e-4`;
//! 5. gradient descent with momentum 0.8, per-coordinate gains and openTSNE's step-length
//!    clip (5); learning rate `N / exaggeration` per phase unless set; attractive forces
//!    from the sparse `P`, repulsive forces from a compressed Barnes–Hut quadtree built
//!    each iteration over Morton-sorted points and walked without a stack.
//!
//! The optimiser is stepwise ([`Tsne::step`]) so a UI can animate it. Every parallel
//! reduction uses fixed chunks summed in a fixed order, so results depend only on the input
//! and the seed, not on the number of threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Configuration of a t-SNE run. Missing fields deserialise to their defaults.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TsneConfig {
    /// Effective number of neighbours (default 30). Must be below `N - 1`.
    pub perplexity: f32,
    /// Total number of gradient iterations, exaggeration phase included (default 750).
    pub iterations: usize,
    /// Step size. `None` (default) means `N / exaggeration` of the current phase: `N / 12`
    /// during early exaggeration (Belkina et al. 2019; scikit-learn's "auto" is the same
    /// step for its factor-4 gradient), then `N` — openTSNE's "auto" rule, which gives
    /// clearly better neighbourhood preservation than keeping `N / 12` at N = 10,000.
    pub learning_rate: Option<f32>,
    /// Factor on `P` during the first `exaggeration_iterations` iterations (default 12).
    pub early_exaggeration: f32,
    /// Length of the early-exaggeration phase (default 250).
    pub exaggeration_iterations: usize,
    /// Barnes–Hut opening angle: a cell whose points' bounding box has longest side `w`
    /// is summarised when `w / distance < theta` (default 0.5; 0 = exact).
    pub theta: f32,
    /// Seed for the (only) random choices: the power-iteration start and degenerate inits.
    pub seed: u64,
}

/// Most iterations a run may ask for.
pub const MAX_ITERATIONS: usize = 100_000;

impl TsneConfig {
    /// The checks that do not depend on the data (the perplexity's upper bound does).
    pub fn check(&self) -> Result<(), TsneError> {
        let p = self.perplexity;
        if !p.is_finite() || p <= 0.0 {
            return Err(TsneError::InvalidConfig(
                "perplexity must be finite and > 0",
            ));
        }
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return Err(TsneError::InvalidConfig(
                "iterations must be between 1 and 100000",
            ));
        }
        if self.exaggeration_iterations > MAX_ITERATIONS {
            return Err(TsneError::InvalidConfig(
                "exaggeration_iterations must be at most 100000",
            ));
        }
        if !self.theta.is_finite() || self.theta < 0.0 {
            return Err(TsneError::InvalidConfig("theta must be finite and >= 0"));
        }
        if !self.early_exaggeration.is_finite() || self.early_exaggeration <= 0.0 {
            return Err(TsneError::InvalidConfig(
                "early_exaggeration must be finite and > 0",
            ));
        }
        if let Some(lr) = self.learning_rate
            && (!lr.is_finite() || lr <= 0.0)
        {
            return Err(TsneError::InvalidConfig(
                "learning_rate must be finite and > 0",
            ));
        }
        Ok(())
    }
}

impl Default for TsneConfig {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 750,
            learning_rate: None,
            early_exaggeration: 12.0,
            exaggeration_iterations: 250,
            theta: 0.5,
            seed: 0,
        }
    }
}

/// Why a t-SNE run could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TsneError {
    #[error("t-SNE needs at least 4 points, got {0}")]
    TooFewPoints(usize),
    #[error("the input dimension must be at least 1")]
    ZeroDimension,
    #[error("data length {len} is not a multiple of the dimension {dim}")]
    LengthMismatch { len: usize, dim: usize },
    #[error("non-finite input value at point {point}, coordinate {coord}")]
    NonFinite { point: usize, coord: usize },
    #[error(
        "perplexity {perplexity} is invalid for {n} points: it must be finite, positive and less than N - 1 = {}",
        n.saturating_sub(1)
    )]
    InvalidPerplexity { perplexity: f32, n: usize },
    #[error("invalid t-SNE configuration: {0}")]
    InvalidConfig(&'static str),
}

/// A standard normal draw.
fn normal<R: rand::Rng>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

const MIN_GAIN: f32 = 0.01;
/// Longest step a point may take in one iteration (openTSNE's `max_step_norm`).
const MAX_STEP: f32 = 5.0;
/// Points per Barnes–Hut leaf.
const LEAF_SIZE: usize = 12;
/// Points per parallel task in the gradient loops.
const GRAD_CHUNK: usize = 256;

/// Stepwise optimiser so a UI can animate: [`Tsne::new`] does kNN + P + PCA init;
/// [`Tsne::step`] runs one iteration.
pub struct Tsne {
    cfg: TsneConfig,
    n: usize,
    learning_rate: Option<f32>,
    /// Symmetric affinities in CSR form, summing to 1.
    row_ptr: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f32>,
    /// Row-major N×2 positions in input order.
    y: Vec<f32>,
    update: Vec<f32>,
    gains: Vec<f32>,
    /// Attractive force per point (input order), reused between iterations.
    attr: Vec<[f32; 2]>,
    iter: usize,
    tree: BhTree,
}

impl Tsne {
    /// Validates the input, computes neighbours, affinities and the PCA initialisation.
    pub fn new(data: &[f32], dim: usize, cfg: &TsneConfig) -> Result<Tsne, TsneError> {
        Tsne::starting_from(data, dim, cfg, None)
    }

    /// As [`Tsne::new`], but starting from `init` (row-major N×2, e.g. the previous layout of
    /// the same points, so a projection that follows training moves its points instead of
    /// jumping); the PCA start when `init` is missing, of another size or not finite.
    pub fn starting_from(
        data: &[f32],
        dim: usize,
        cfg: &TsneConfig,
        init: Option<&[f32]>,
    ) -> Result<Tsne, TsneError> {
        let n = validate(data, dim, cfg)?;
        let k = ((3.0 * cfg.perplexity).floor() as usize).clamp(1, n - 1);
        let (nbr, d2) = knn_exact(data, n, dim, k);
        let cond = conditional_p(&d2, n, k, cfg.perplexity);
        let (row_ptr, cols, vals) = symmetrise(&nbr, &cond, n, k);
        let y = match init {
            Some(init) if init.len() == 2 * n && init.iter().all(|v| v.is_finite()) => {
                init.to_vec()
            }
            _ => pca_init(data, n, dim, cfg.seed),
        };
        Ok(Tsne {
            cfg: cfg.clone(),
            n,
            learning_rate: cfg.learning_rate,
            row_ptr,
            cols,
            vals,
            y,
            update: vec![0.0; 2 * n],
            gains: vec![1.0; 2 * n],
            attr: vec![[0.0; 2]; n],
            iter: 0,
            tree: BhTree::new(n),
        })
    }

    /// One gradient iteration (a no-op once [`Tsne::is_done`]).
    pub fn step(&mut self) {
        if self.is_done() {
            return;
        }
        let exaggerating = self.iter < self.cfg.exaggeration_iterations;
        let exaggeration = if exaggerating {
            self.cfg.early_exaggeration
        } else {
            1.0
        };
        // openTSNE's momentum (0.8 in both phases); 0.5 during exaggeration, as in the
        // original bhtsne, measured marginally worse kNN preservation here.
        let momentum = 0.8;

        // Repulsion: grad <- sum_j q_ij^2 (y_i - y_j) (unnormalised), returns Z.
        // Attraction sum_j p_ij q_ij (y_i - y_j), rows in input order so the sparse P is
        // streamed sequentially.
        let (row_ptr, cols, vals, y) = (&self.row_ptr, &self.cols, &self.vals, &self.y);
        self.attr
            .par_chunks_mut(GRAD_CHUNK)
            .enumerate()
            .for_each(|(c, a)| {
                for (r, ai) in a.iter_mut().enumerate() {
                    let i = c * GRAD_CHUNK + r;
                    let e = row_ptr[i]..row_ptr[i + 1];
                    *ai = attraction(y, i, &cols[e.clone()], &vals[e]);
                }
            });
        // Repulsion (Barnes–Hut), in Morton order.
        let z = self.tree.forces(y, self.cfg.theta);
        let inv_z = if z > 0.0 { (1.0 / z) as f32 } else { 0.0 };

        // grad = exag * attr - rep / Z; momentum + gains (van der Maaten); then re-centre.
        let lr = self.learning_rate.unwrap_or(self.n as f32 / exaggeration);
        let (mut sx, mut sy) = (0.0f64, 0.0f64);
        for (k, rep) in self.tree.keys.iter().zip(&self.tree.force) {
            let i = k.1 as usize;
            let att = self.attr[i];
            let mut u = [0.0f32; 2];
            for d in 0..2 {
                let g = exaggeration * att[d] - rep[d] * inv_z;
                let prev = self.update[2 * i + d];
                let gain = if (g > 0.0) != (prev > 0.0) {
                    self.gains[2 * i + d] + 0.2
                } else {
                    self.gains[2 * i + d] * 0.8
                }
                .max(MIN_GAIN);
                self.gains[2 * i + d] = gain;
                u[d] = momentum * prev - lr * gain * g;
            }
            // Clip the step length (openTSNE's max_step_norm) so a large learning rate
            // cannot fling points away.
            let norm2 = u[0] * u[0] + u[1] * u[1];
            if norm2 > MAX_STEP * MAX_STEP {
                let f = MAX_STEP / norm2.sqrt();
                u = [u[0] * f, u[1] * f];
            }
            self.update[2 * i..2 * i + 2].copy_from_slice(&u);
            self.y[2 * i] += u[0];
            self.y[2 * i + 1] += u[1];
            sx += f64::from(self.y[2 * i]);
            sy += f64::from(self.y[2 * i + 1]);
        }
        let (mx, my) = ((sx / self.n as f64) as f32, (sy / self.n as f64) as f32);
        for p in self.y.chunks_exact_mut(2) {
            p[0] -= mx;
            p[1] -= my;
        }
        self.iter += 1;
    }

    /// Number of iterations run so far.
    pub fn iteration(&self) -> usize {
        self.iter
    }

    /// Whether all configured iterations have run.
    pub fn is_done(&self) -> bool {
        self.iter >= self.cfg.iterations
    }

    /// Current embedding, row-major N×2, in input order.
    pub fn positions(&self) -> &[f32] {
        &self.y
    }

    /// Steps until done and returns the final positions.
    pub fn run(&mut self) -> &[f32] {
        while !self.is_done() {
            self.step();
        }
        &self.y
    }
}

/// `sum_j p_ij q_ij (y_i - y_j)` over row `i`'s neighbours, four edges at a time so the
/// divisions vectorise.
#[inline]
fn attraction(y: &[f32], i: usize, cols: &[u32], vals: &[f32]) -> [f32; 2] {
    let (yx, yy) = (y[2 * i], y[2 * i + 1]);
    let (c4, ct) = cols.as_chunks::<4>();
    let (v4, vt) = vals.as_chunks::<4>();
    let (mut ax, mut ay) = ([0.0f32; 4], [0.0f32; 4]);
    for (c, v) in c4.iter().zip(v4) {
        let mut dx = [0.0f32; 4];
        let mut dy = [0.0f32; 4];
        for l in 0..4 {
            let j = c[l] as usize;
            dx[l] = yx - y[2 * j];
            dy[l] = yy - y[2 * j + 1];
        }
        for l in 0..4 {
            let w = v[l] / (1.0 + dx[l] * dx[l] + dy[l] * dy[l]);
            ax[l] += w * dx[l];
            ay[l] += w * dy[l];
        }
    }
    let mut out = [ax.iter().sum::<f32>(), ay.iter().sum::<f32>()];
    for (&j, &v) in ct.iter().zip(vt) {
        let j = j as usize;
        let dx = yx - y[2 * j];
        let dy = yy - y[2 * j + 1];
        let w = v / (1.0 + dx * dx + dy * dy);
        out[0] += w * dx;
        out[1] += w * dy;
    }
    out
}

/// One-shot t-SNE: returns the row-major N×2 embedding.
pub fn tsne(data: &[f32], dim: usize, cfg: &TsneConfig) -> Result<Vec<f32>, TsneError> {
    let mut t = Tsne::new(data, dim, cfg)?;
    t.run();
    Ok(t.y)
}

/// Mean share of each point's k nearest neighbours in `high` (dim d) that are among its k
/// nearest in `low` (dim 2). Exact (ties broken by index). Returns 0 when there is nothing
/// to compare (fewer than 2 points, `k == 0`, or mismatched inputs).
pub fn knn_preservation(high: &[f32], dim: usize, low: &[f32], k: usize) -> f64 {
    if dim == 0 || !high.len().is_multiple_of(dim) || !low.len().is_multiple_of(2) {
        return 0.0;
    }
    let n = high.len() / dim;
    if n != low.len() / 2 || n < 2 || k == 0 {
        return 0.0;
    }
    let k = k.min(n - 1);
    let (hi, _) = knn_exact(high, n, dim, k);
    let (lo, _) = knn_exact(low, n, 2, k);
    let hits: usize = hi
        .par_chunks(k)
        .zip(lo.par_chunks(k))
        .map(|(h, l)| h.iter().filter(|j| l.contains(j)).count())
        .sum();
    hits as f64 / (n * k) as f64
}

/// Share of points whose nearest other point in the 2-D layout `low` has the same label.
/// Returns 0 for fewer than 2 points or mismatched inputs.
pub fn nearest_neighbour_label_agreement(low: &[f32], labels: &[usize]) -> f64 {
    let n = labels.len();
    if n < 2 || low.len() != 2 * n {
        return 0.0;
    }
    let (nn, _) = knn_exact(low, n, 2, 1);
    let same = nn
        .iter()
        .enumerate()
        .filter(|&(i, &j)| labels[i] == labels[j as usize])
        .count();
    same as f64 / n as f64
}

fn validate(data: &[f32], dim: usize, cfg: &TsneConfig) -> Result<usize, TsneError> {
    if dim == 0 {
        return Err(TsneError::ZeroDimension);
    }
    if !data.len().is_multiple_of(dim) {
        return Err(TsneError::LengthMismatch {
            len: data.len(),
            dim,
        });
    }
    let n = data.len() / dim;
    if n < 4 {
        return Err(TsneError::TooFewPoints(n));
    }
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        return Err(TsneError::NonFinite {
            point: pos / dim,
            coord: pos % dim,
        });
    }
    let p = cfg.perplexity;
    if !p.is_finite() || p <= 0.0 || p >= (n - 1) as f32 {
        return Err(TsneError::InvalidPerplexity { perplexity: p, n });
    }
    cfg.check()?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// Exact k-nearest neighbours
// ---------------------------------------------------------------------------------------

/// Rows handled by one parallel task.
const KNN_ROW_BLOCK: usize = 32;
/// Columns per dot-product tile.
const KNN_COL_BLOCK: usize = 128;

/// Exact k nearest neighbours (self excluded) by squared Euclidean distance, ordered by
/// (distance, index). Returns flat `n*k` index and squared-distance arrays.
fn knn_exact(data: &[f32], n: usize, dim: usize, k: usize) -> (Vec<u32>, Vec<f32>) {
    let mut idx = vec![0u32; n * k];
    let mut dist = vec![0.0f32; n * k];
    if k == 0 {
        return (idx, dist);
    }
    let norms: Vec<f32> = data.par_chunks(dim).map(|r| dot(r, r)).collect();
    let packed = pack_columns(data, n, dim);
    idx.par_chunks_mut(KNN_ROW_BLOCK * k)
        .zip(dist.par_chunks_mut(KNN_ROW_BLOCK * k))
        .enumerate()
        .for_each(|(b, (idx_out, dist_out))| {
            let r0 = b * KNN_ROW_BLOCK;
            let rows = idx_out.len() / k;
            let cap = 4 * k + KNN_COL_BLOCK;
            let mut cands: Vec<Vec<(f32, u32)>> =
                (0..rows).map(|_| Vec::with_capacity(cap)).collect();
            let mut thresh = vec![f32::INFINITY; rows];
            let mut tile = vec![0.0f32; KNN_ROW_BLOCK * KNN_COL_BLOCK];
            let mut c0 = 0;
            while c0 < n {
                let cols = KNN_COL_BLOCK.min(n - c0);
                let b = c0 / KNN_COL_BLOCK;
                let block = &packed[b * dim * KNN_COL_BLOCK..(b + 1) * dim * KNN_COL_BLOCK];
                dot_tile(data, dim, r0, rows, block, &mut tile);
                for r in 0..rows {
                    let i = r0 + r;
                    let ni = norms[i];
                    let th = thresh[r];
                    let cand = &mut cands[r];
                    for (c, &dp) in tile[r * KNN_COL_BLOCK..r * KNN_COL_BLOCK + cols]
                        .iter()
                        .enumerate()
                    {
                        let j = c0 + c;
                        let d = (ni + norms[j] - 2.0 * dp).max(0.0);
                        if d < th && j != i {
                            cand.push((d, j as u32));
                        }
                    }
                    if cand.len() >= 4 * k {
                        cand.select_nth_unstable_by(k - 1, cmp_cand);
                        cand.truncate(k);
                        thresh[r] = cand[k - 1].0;
                    }
                }
                c0 += cols;
            }
            for (r, cand) in cands.iter_mut().enumerate() {
                cand.sort_unstable_by(cmp_cand);
                for (t, &(d, j)) in cand.iter().take(k).enumerate() {
                    idx_out[r * k + t] = j;
                    dist_out[r * k + t] = d;
                }
            }
        });
    (idx, dist)
}

fn cmp_cand(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Copies `data` into column blocks of `KNN_COL_BLOCK` points, each stored dimension-major
/// (`packed[block][t][c]`), zero-padded, so the tile kernel streams contiguous lanes.
fn pack_columns(data: &[f32], n: usize, dim: usize) -> Vec<f32> {
    let blocks = n.div_ceil(KNN_COL_BLOCK);
    let mut packed = vec![0.0f32; blocks * dim * KNN_COL_BLOCK];
    packed
        .par_chunks_mut(dim * KNN_COL_BLOCK)
        .enumerate()
        .for_each(|(b, blk)| {
            let c0 = b * KNN_COL_BLOCK;
            for c in 0..KNN_COL_BLOCK.min(n - c0) {
                let row = &data[(c0 + c) * dim..(c0 + c + 1) * dim];
                for (t, &v) in row.iter().enumerate() {
                    blk[t * KNN_COL_BLOCK + c] = v;
                }
            }
        });
    packed
}

/// `tile[r * KNN_COL_BLOCK + c] = <row r0+r, column c of the packed block>` for all
/// `KNN_COL_BLOCK` columns (padding columns give 0), with a 4-row × 8-column register block.
#[allow(clippy::needless_range_loop)] // lane-indexed kernel, written for the vectoriser
fn dot_tile(data: &[f32], dim: usize, r0: usize, rows: usize, block: &[f32], tile: &mut [f32]) {
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let mut r = 0;
    while r < rows {
        let take = (rows - r).min(4);
        // Rows beyond `take` repeat the last one; their results are discarded.
        let a = [
            row(r0 + r),
            row(r0 + r + 1.min(take - 1)),
            row(r0 + r + 2.min(take - 1)),
            row(r0 + r + 3.min(take - 1)),
        ];
        for c8 in (0..KNN_COL_BLOCK).step_by(8) {
            let mut acc = [[0.0f32; 8]; 4];
            for t in 0..dim {
                let b: &[f32; 8] = lane8(block, t * KNN_COL_BLOCK + c8);
                for (q, accq) in acc.iter_mut().enumerate() {
                    let s = a[q][t];
                    for l in 0..8 {
                        accq[l] += s * b[l];
                    }
                }
            }
            for (q, accq) in acc.iter().enumerate().take(take) {
                let o = (r + q) * KNN_COL_BLOCK + c8;
                tile[o..o + 8].copy_from_slice(accq);
            }
        }
        r += take;
    }
}

#[inline(always)]
fn lane8(s: &[f32], at: usize) -> &[f32; 8] {
    let (chunks, _) = s[at..at + 8].as_chunks::<8>();
    &chunks[0]
}

// ---------------------------------------------------------------------------------------
// Affinities
// ---------------------------------------------------------------------------------------

/// Conditional `p_{j|i}` over each row's k neighbours, bandwidth by bisection on entropy.
fn conditional_p(d2: &[f32], n: usize, k: usize, perplexity: f32) -> Vec<f32> {
    let target = f64::from(perplexity).ln();
    let mut p = vec![0.0f32; n * k];
    p.par_chunks_mut(k)
        .zip(d2.par_chunks(k))
        .for_each(|(out, d)| {
            // Distances relative to the nearest neighbour, for numerical stability.
            let dmin = f64::from(d[0]);
            let rel: Vec<f64> = d.iter().map(|&v| f64::from(v) - dmin).collect();
            let mean = rel.iter().sum::<f64>() / k as f64;
            let mut beta = if mean > 0.0 { 1.0 / mean } else { 1.0 };
            let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
            let mut w = vec![0.0f64; k];
            for _ in 0..200 {
                let mut sum = 0.0;
                let mut wd = 0.0;
                for (wi, &r) in w.iter_mut().zip(&rel) {
                    *wi = (-beta * r).exp();
                    sum += *wi;
                    wd += *wi * r;
                }
                // sum >= 1 because rel[0] == 0.
                let entropy = sum.ln() + beta * wd / sum;
                let diff = entropy - target;
                if diff.abs() < 1e-5 {
                    break;
                }
                if diff > 0.0 {
                    lo = beta;
                    beta = if hi.is_finite() {
                        0.5 * (beta + hi)
                    } else {
                        beta * 2.0
                    };
                } else {
                    hi = beta;
                    beta = 0.5 * (beta + lo);
                }
            }
            let sum: f64 = w.iter().sum();
            for (o, wi) in out.iter_mut().zip(&w) {
                *o = (wi / sum) as f32;
            }
        });
    p
}

/// `P = (P_{j|i} + P_{i|j}) / 2N` as CSR (row pointers, columns, values).
fn symmetrise(nbr: &[u32], cond: &[f32], n: usize, k: usize) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
    let mut count = vec![0usize; n + 1];
    for (i, row) in nbr.chunks_exact(k).enumerate() {
        count[i + 1] += k;
        for &j in row {
            count[j as usize + 1] += 1;
        }
    }
    for i in 0..n {
        count[i + 1] += count[i];
    }
    let mut fill = count.clone();
    let mut entries = vec![(0u32, 0.0f32); count[n]];
    for (i, (row, pr)) in nbr.chunks_exact(k).zip(cond.chunks_exact(k)).enumerate() {
        for (&j, &p) in row.iter().zip(pr) {
            let j = j as usize;
            entries[fill[i]] = (j as u32, p);
            fill[i] += 1;
            entries[fill[j]] = (i as u32, p);
            fill[j] += 1;
        }
    }
    let scale = 1.0 / (2.0 * n as f32);
    // Sort and merge each row in parallel, then compact.
    let mut rows: Vec<&mut [(u32, f32)]> = Vec::with_capacity(n);
    let mut rest: &mut [(u32, f32)] = &mut entries;
    for i in 0..n {
        let (head, tail) = rest.split_at_mut(count[i + 1] - count[i]);
        rows.push(head);
        rest = tail;
    }
    let merged: Vec<Vec<(u32, f32)>> = rows
        .into_par_iter()
        .map(|row| {
            row.sort_unstable_by_key(|e| e.0);
            let mut out: Vec<(u32, f32)> = Vec::with_capacity(row.len());
            for &(j, p) in row.iter() {
                match out.last_mut() {
                    Some(last) if last.0 == j => last.1 += p,
                    _ => out.push((j, p)),
                }
            }
            out
        })
        .collect();
    let mut row_ptr = Vec::with_capacity(n + 1);
    row_ptr.push(0);
    let total: usize = merged.iter().map(Vec::len).sum();
    let mut cols = Vec::with_capacity(total);
    let mut vals = Vec::with_capacity(total);
    for row in merged {
        for (j, p) in row {
            cols.push(j);
            vals.push(p * scale);
        }
        row_ptr.push(cols.len());
    }
    (row_ptr, cols, vals)
}

// ---------------------------------------------------------------------------------------
// PCA initialisation
// ---------------------------------------------------------------------------------------

fn pca_init(data: &[f32], n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Column means.
    let mut mean = vec![0.0f64; dim];
    for row in data.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    // Covariance (unnormalised), accumulated per fixed chunk then summed in order.
    const CHUNK: usize = 512;
    let partials: Vec<Vec<f64>> = data
        .par_chunks(CHUNK * dim)
        .map(|block| {
            let mut c = vec![0.0f32; dim * dim];
            let mut centred = vec![0.0f32; dim];
            for row in block.chunks_exact(dim) {
                for ((o, &v), &m) in centred.iter_mut().zip(row).zip(&mean32) {
                    *o = v - m;
                }
                for (a, crow) in centred.iter().zip(c.chunks_exact_mut(dim)) {
                    for (cv, &b) in crow.iter_mut().zip(&centred) {
                        *cv += a * b;
                    }
                }
            }
            c.into_iter().map(f64::from).collect()
        })
        .collect();
    let mut cov = vec![0.0f64; dim * dim];
    for p in &partials {
        for (c, v) in cov.iter_mut().zip(p) {
            *c += v;
        }
    }
    // Orthogonal iteration for the top two eigenvectors.
    let mut v: Vec<Vec<f64>> = (0..2)
        .map(|_| (0..dim).map(|_| normal(&mut rng)).collect())
        .collect();
    let mut w = vec![vec![0.0f64; dim]; 2];
    for _ in 0..200 {
        for (vi, wi) in v.iter().zip(w.iter_mut()) {
            for (o, crow) in wi.iter_mut().zip(cov.chunks_exact(dim)) {
                *o = crow.iter().zip(vi).map(|(a, b)| a * b).sum();
            }
        }
        gram_schmidt(&mut w);
        std::mem::swap(&mut v, &mut w);
    }
    let mut y = vec![0.0f32; 2 * n];
    for (row, out) in data.chunks_exact(dim).zip(y.chunks_exact_mut(2)) {
        for (c, vc) in v.iter().enumerate() {
            let s: f64 = row
                .iter()
                .zip(&mean)
                .zip(vc)
                .map(|((&x, m), e)| (f64::from(x) - m) * e)
                .sum();
            out[c] = s as f32;
        }
    }
    // Scale so column 0 has std 1e-4 (openTSNE); replace degenerate columns by noise.
    let std0 = column_std(&y, 0);
    let scale = if std0 > 1e-12 { 1e-4 / std0 } else { 0.0 };
    for v in &mut y {
        *v = (f64::from(*v) * scale) as f32;
    }
    for c in 0..2 {
        if column_std(&y, c) < 1e-10 {
            for row in y.chunks_exact_mut(2) {
                row[c] = (1e-4 * normal(&mut rng)) as f32;
            }
        }
    }
    y
}

fn gram_schmidt(w: &mut [Vec<f64>]) {
    for i in 0..w.len() {
        for j in 0..i {
            let d: f64 = w[i].iter().zip(&w[j]).map(|(a, b)| a * b).sum();
            let (head, tail) = w.split_at_mut(i);
            for (a, b) in tail[0].iter_mut().zip(&head[j]) {
                *a -= d * b;
            }
        }
        let norm = w[i].iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-300 {
            for a in &mut w[i] {
                *a /= norm;
            }
        }
    }
}

fn column_std(y: &[f32], c: usize) -> f64 {
    let n = (y.len() / 2) as f64;
    let mean = y.chunks_exact(2).map(|r| f64::from(r[c])).sum::<f64>() / n;
    let var = y
        .chunks_exact(2)
        .map(|r| (f64::from(r[c]) - mean).powi(2))
        .sum::<f64>()
        / n;
    var.sqrt()
}

// ---------------------------------------------------------------------------------------
// Barnes–Hut repulsion
// ---------------------------------------------------------------------------------------

/// A node of the compressed quadtree, stored in depth-first pre-order: the first child
/// (if any) is the next node, and `skip` is the node after the whole subtree.
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    cx: f32,
    cy: f32,
    mass: f32,
    /// (longest side of the points' bounding box / theta)^2; the cell is summarised when
    /// this is below the squared distance to its centre of mass.
    open2: f32,
    skip: u32,
    /// Leaf point range in Morton order; `lo == hi` for internal nodes.
    lo: u32,
    hi: u32,
}

/// Reusable buffers for the per-iteration quadtree.
struct BhTree {
    /// (Morton code, point index), kept between iterations so re-sorting is nearly linear.
    keys: Vec<(u32, u32)>,
    pts: Vec<[f32; 2]>,
    nodes: Vec<Node>,
    force: Vec<[f32; 2]>,
    zpart: Vec<f64>,
}

struct Summary {
    min: [f32; 2],
    max: [f32; 2],
    sum: [f64; 2],
    count: usize,
}

impl BhTree {
    fn new(n: usize) -> Self {
        Self {
            keys: (0..n as u32).map(|i| (0, i)).collect(),
            pts: vec![[0.0; 2]; n],
            nodes: Vec::with_capacity(n),
            force: vec![[0.0; 2]; n],
            zpart: Vec::new(),
        }
    }

    /// Builds the tree over `y` and, in one parallel pass over the points in Morton order,
    /// stores for sorted slot `s` (point `keys[s].1`) the repulsion
    /// `sum_{j != i} q_ij^2 (y_i - y_j)` in `force[s]`.
    /// Returns `Z = sum_{i != j} q_ij`, with `q_ij = 1 / (1 + |y_i - y_j|^2)`.
    fn forces(&mut self, y: &[f32], theta: f32) -> f64 {
        let n = self.keys.len();
        // Morton codes over the square bounding box.
        let (mut min, mut max) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in y.chunks_exact(2) {
            for d in 0..2 {
                min[d] = min[d].min(p[d]);
                max[d] = max[d].max(p[d]);
            }
        }
        let side = (max[0] - min[0]).max(max[1] - min[1]);
        let scale = if side > 0.0 { 65535.0 / side } else { 0.0 };
        for key in &mut self.keys {
            let i = key.1 as usize;
            let qx = ((y[2 * i] - min[0]) * scale).clamp(0.0, 65535.0) as u32;
            let qy = ((y[2 * i + 1] - min[1]) * scale).clamp(0.0, 65535.0) as u32;
            key.0 = spread(qx) | (spread(qy) << 1);
        }
        // Stable sort: adaptive on the nearly sorted order of the previous iteration.
        self.keys.sort_by_key(|k| k.0);
        for (p, k) in self.pts.iter_mut().zip(&self.keys) {
            let i = k.1 as usize;
            *p = [y[2 * i], y[2 * i + 1]];
        }
        self.nodes.clear();
        let inv_theta2 = if theta > 0.0 {
            1.0 / (theta * theta)
        } else {
            f32::INFINITY
        };
        build(&self.keys, &self.pts, 0, n, inv_theta2, &mut self.nodes);

        let (nodes, pts) = (&self.nodes, &self.pts);
        self.zpart.resize(n.div_ceil(GRAD_CHUNK), 0.0);
        self.force
            .par_chunks_mut(GRAD_CHUNK)
            .zip(self.zpart.par_iter_mut())
            .enumerate()
            .for_each(|(c, (f, z))| {
                let mut zs = 0.0f64;
                for (r, fi) in f.iter_mut().enumerate() {
                    let (fx, fy, zi) = walk(nodes, pts, pts[c * GRAD_CHUNK + r]);
                    *fi = [fx, fy];
                    // The point itself contributed q = 1 (and no force) in its leaf.
                    zs += f64::from(zi) - 1.0;
                }
                *z = zs;
            });
        self.zpart.iter().sum()
    }

    /// Repulsion only, scattered to input order in `out` (row-major); returns Z.
    #[cfg(test)]
    fn repulsion(&mut self, y: &[f32], theta: f32, out: &mut [f32]) -> f64 {
        let z = self.forces(y, theta);
        for (k, f) in self.keys.iter().zip(&self.force) {
            let i = k.1 as usize;
            out[2 * i] = f[0];
            out[2 * i + 1] = f[1];
        }
        z
    }
}

/// Spreads the low 16 bits of `v` to the even bit positions.
#[inline]
fn spread(v: u32) -> u32 {
    let mut x = v & 0xffff;
    x = (x | (x << 8)) & 0x00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f;
    x = (x | (x << 2)) & 0x3333_3333;
    x = (x | (x << 1)) & 0x5555_5555;
    x
}

/// Builds the subtree over Morton-sorted points `lo..hi` and returns its summary.
#[allow(clippy::needless_range_loop)] // x/y loops over `d in 0..2`
fn build(
    keys: &[(u32, u32)],
    pts: &[[f32; 2]],
    lo: usize,
    hi: usize,
    inv_theta2: f32,
    nodes: &mut Vec<Node>,
) -> Summary {
    let me = nodes.len();
    nodes.push(Node::default());
    let first = keys[lo].0;
    let last = keys[hi - 1].0;
    let summary = if hi - lo <= LEAF_SIZE || first == last {
        let mut s = Summary {
            min: [f32::INFINITY; 2],
            max: [f32::NEG_INFINITY; 2],
            sum: [0.0; 2],
            count: hi - lo,
        };
        for p in &pts[lo..hi] {
            for d in 0..2 {
                s.min[d] = s.min[d].min(p[d]);
                s.max[d] = s.max[d].max(p[d]);
                s.sum[d] += f64::from(p[d]);
            }
        }
        nodes[me].lo = lo as u32;
        nodes[me].hi = hi as u32;
        s
    } else {
        // Highest differing bit pair: all codes in range share the bits above it.
        let shift = (31 - (first ^ last).leading_zeros()) & !1;
        let mut s = Summary {
            min: [f32::INFINITY; 2],
            max: [f32::NEG_INFINITY; 2],
            sum: [0.0; 2],
            count: 0,
        };
        let mut start = lo;
        for digit in 0..4u32 {
            let end = start + keys[start..hi].partition_point(|k| (k.0 >> shift) & 3 <= digit);
            if end > start {
                let c = build(keys, pts, start, end, inv_theta2, nodes);
                for d in 0..2 {
                    s.min[d] = s.min[d].min(c.min[d]);
                    s.max[d] = s.max[d].max(c.max[d]);
                    s.sum[d] += c.sum[d];
                }
                s.count += c.count;
            }
            start = end;
        }
        s
    };
    let w = (summary.max[0] - summary.min[0]).max(summary.max[1] - summary.min[1]);
    let m = summary.count as f64;
    let node = &mut nodes[me];
    node.cx = (summary.sum[0] / m) as f32;
    node.cy = (summary.sum[1] / m) as f32;
    node.mass = summary.count as f32;
    node.open2 = w * w * inv_theta2;
    // A zero-width cell (coincident points) is always summarised when seen from outside.
    if w == 0.0 {
        node.open2 = 0.0;
    }
    let skip = nodes.len() as u32;
    nodes[me].skip = skip;
    summary
}

/// Stackless traversal for one point: returns (Σ q² dx, Σ q² dy, Σ q) including self.
#[inline]
fn walk(nodes: &[Node], pts: &[[f32; 2]], p: [f32; 2]) -> (f32, f32, f32) {
    let (mut fx, mut fy, mut z) = (0.0f32, 0.0f32, 0.0f32);
    let (mut lx, mut ly, mut lz) = ([0.0f32; 4], [0.0f32; 4], [0.0f32; 4]);
    let mut i = 0usize;
    while i < nodes.len() {
        let nd = &nodes[i];
        let dx = p[0] - nd.cx;
        let dy = p[1] - nd.cy;
        let d2 = dx * dx + dy * dy;
        if nd.open2 < d2 {
            let q = 1.0 / (1.0 + d2);
            let mq = nd.mass * q;
            z += mq;
            let mqq = mq * q;
            fx += mqq * dx;
            fy += mqq * dy;
            i = nd.skip as usize;
        } else if nd.hi > nd.lo {
            let (quads, rest) = pts[nd.lo as usize..nd.hi as usize].as_chunks::<4>();
            for quad in quads {
                // Four points at a time so the divisions vectorise.
                let mut dx = [0.0f32; 4];
                let mut dy = [0.0f32; 4];
                for l in 0..4 {
                    dx[l] = p[0] - quad[l][0];
                    dy[l] = p[1] - quad[l][1];
                }
                for l in 0..4 {
                    let q = 1.0 / (1.0 + dx[l] * dx[l] + dy[l] * dy[l]);
                    lz[l] += q;
                    lx[l] += q * q * dx[l];
                    ly[l] += q * q * dy[l];
                }
            }
            for o in rest {
                let dx = p[0] - o[0];
                let dy = p[1] - o[1];
                let q = 1.0 / (1.0 + dx * dx + dy * dy);
                z += q;
                let qq = q * q;
                fx += qq * dx;
                fy += qq * dy;
            }
            i = nd.skip as usize;
        } else {
            i += 1;
        }
    }
    (
        fx + lx.iter().sum::<f32>(),
        fy + ly.iter().sum::<f32>(),
        z + lz.iter().sum::<f32>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// `clusters` Gaussian blobs of `per` points in `dim` dimensions; centre `c` sits at
    /// `spacing` along axis `c` (so centres are `spacing·√2` apart), noise sd 1.
    fn blobs(
        clusters: usize,
        per: usize,
        dim: usize,
        spacing: f32,
        seed: u64,
    ) -> (Vec<f32>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for i in 0..clusters * per {
            let c = i % clusters;
            labels.push(c);
            for d in 0..dim {
                let centre = if d == c { spacing } else { 0.0 };
                data.push(centre + normal(&mut rng) as f32);
            }
        }
        (data, labels)
    }

    fn small_cfg() -> TsneConfig {
        TsneConfig {
            perplexity: 20.0,
            iterations: 400,
            exaggeration_iterations: 150,
            seed: 7,
            ..TsneConfig::default()
        }
    }

    #[test]
    fn separated_clusters_stay_apart() {
        let (data, labels) = blobs(5, 60, 10, 20.0, 1);
        let y = tsne(&data, 10, &small_cfg()).unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
        let agree = nearest_neighbour_label_agreement(&y, &labels);
        assert!(agree >= 0.99, "label agreement {agree}");

        // Separation ratio: closest pair of 2-D cluster centroids vs the largest RMS radius.
        let k = 5;
        let mut cent = vec![[0.0f64; 2]; k];
        let mut cnt = vec![0usize; k];
        for (p, &l) in y.chunks_exact(2).zip(&labels) {
            cent[l][0] += f64::from(p[0]);
            cent[l][1] += f64::from(p[1]);
            cnt[l] += 1;
        }
        for (c, &m) in cent.iter_mut().zip(&cnt) {
            c[0] /= m as f64;
            c[1] /= m as f64;
        }
        let mut rad = vec![0.0f64; k];
        for (p, &l) in y.chunks_exact(2).zip(&labels) {
            rad[l] +=
                (f64::from(p[0]) - cent[l][0]).powi(2) + (f64::from(p[1]) - cent[l][1]).powi(2);
        }
        let max_rad = rad
            .iter()
            .zip(&cnt)
            .map(|(r, &m)| (r / m as f64).sqrt())
            .fold(0.0, f64::max);
        let mut min_sep = f64::INFINITY;
        for a in 0..k {
            for b in a + 1..k {
                let d =
                    ((cent[a][0] - cent[b][0]).powi(2) + (cent[a][1] - cent[b][1]).powi(2)).sqrt();
                min_sep = min_sep.min(d);
            }
        }
        let ratio = min_sep / max_rad;
        assert!(
            ratio >= 3.0,
            "separation ratio {ratio} (sep {min_sep}, radius {max_rad})"
        );
    }

    #[test]
    fn knn_preservation_identical_layout_is_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let low: Vec<f32> = (0..2 * 50).map(|_| rng.random::<f32>()).collect();
        assert_eq!(knn_preservation(&low, 2, &low, 5), 1.0);
        // Same neighbourhoods after a similarity transform (rotation by 90°, scale 3, shift).
        let moved: Vec<f32> = low
            .chunks_exact(2)
            .flat_map(|p| [-3.0 * p[1] + 10.0, 3.0 * p[0] - 4.0])
            .collect();
        assert_eq!(knn_preservation(&low, 2, &moved, 5), 1.0);
    }

    #[test]
    fn knn_preservation_hand_made_permutation() {
        // High (1-D): p0 = 0, p1 = 1, p2 = 3, p3 = 7 (all pair distances distinct).
        // Low (2-D, on the x axis): the positions permuted to p0 = 0, p1 = 7, p2 = 1, p3 = 3.
        //
        // k = 1. High nearest: p0→p1 (1), p1→p0 (1 < 2), p2→p1 (2 < 3), p3→p2 (4).
        //        Low nearest:  p0→p2 (1), p1→p3 (4), p2→p0 (1 < 2), p3→p2 (2).
        //        Matches: only p3 → 1/4 = 0.25.
        // k = 2. High: p0 {p1, p2}, p1 {p0, p2}, p2 {p1, p0}, p3 {p2, p1}.
        //        Low:  p0 {p2, p3}, p1 {p3, p2}, p2 {p0, p3}, p3 {p2, p0}.
        //        Overlaps 1 + 1 + 1 + 1 = 4 of 4·2 = 8 → 0.5.
        // k = 3 covers everyone → 1.
        let high = [0.0f32, 1.0, 3.0, 7.0];
        let low = [0.0f32, 0.0, 7.0, 0.0, 1.0, 0.0, 3.0, 0.0];
        assert_eq!(knn_preservation(&high, 1, &low, 1), 0.25);
        assert_eq!(knn_preservation(&high, 1, &low, 2), 0.5);
        assert_eq!(knn_preservation(&high, 1, &low, 3), 1.0);
        // Labels [0, 1, 0, 1]: 2-D nearest p0→p2 ✓, p1→p3 ✓, p2→p0 ✓, p3→p2 ✗ → 0.75.
        assert_eq!(nearest_neighbour_label_agreement(&low, &[0, 1, 0, 1]), 0.75);
        // Degenerate inputs.
        assert_eq!(knn_preservation(&high, 1, &low[..6], 1), 0.0);
        assert_eq!(nearest_neighbour_label_agreement(&low, &[0, 1]), 0.0);
    }

    #[test]
    fn exact_knn_matches_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // 301 points so the 128-column blocks and 4-row blocks both have remainders.
        let (n, dim, k) = (301, 13, 7);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let (idx, d2) = knn_exact(&data, n, dim, k);
        for i in 0..n {
            let mut all: Vec<(f32, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let d: f32 = (0..dim)
                        .map(|t| (data[i * dim + t] - data[j * dim + t]).powi(2))
                        .sum();
                    (d, j as u32)
                })
                .collect();
            all.sort_by(cmp_cand);
            for t in 0..k {
                assert_eq!(idx[i * k + t], all[t].1, "point {i} rank {t}");
                assert!((d2[i * k + t] - all[t].0).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn affinities_are_symmetric_and_normalised() {
        let (data, _) = blobs(3, 40, 5, 5.0, 2);
        let t = Tsne::new(&data, 5, &small_cfg()).unwrap();
        let total: f64 = t.vals.iter().map(|&v| f64::from(v)).sum();
        assert!((total - 1.0).abs() < 1e-4, "sum P = {total}");
        let get = |i: usize, j: usize| {
            (t.row_ptr[i]..t.row_ptr[i + 1])
                .find(|&e| t.cols[e] as usize == j)
                .map(|e| t.vals[e])
        };
        for i in 0..t.n {
            for e in t.row_ptr[i]..t.row_ptr[i + 1] {
                let j = t.cols[e] as usize;
                assert_ne!(i, j);
                assert_eq!(get(j, i), Some(t.vals[e]));
            }
        }
    }

    #[test]
    fn barnes_hut_matches_exact_repulsion() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 400;
        let y: Vec<f32> = (0..2 * n).map(|_| 10.0 * normal(&mut rng) as f32).collect();
        let mut exact = vec![0.0f32; 2 * n];
        let z_exact = BhTree::new(n).repulsion(&y, 0.0, &mut exact);
        // Brute force.
        let mut z_brute = 0.0f64;
        for i in 0..n {
            let (mut fx, mut fy) = (0.0f64, 0.0f64);
            for j in 0..n {
                if i != j {
                    let dx = f64::from(y[2 * i] - y[2 * j]);
                    let dy = f64::from(y[2 * i + 1] - y[2 * j + 1]);
                    let q = 1.0 / (1.0 + dx * dx + dy * dy);
                    z_brute += q;
                    fx += q * q * dx;
                    fy += q * q * dy;
                }
            }
            assert!((f64::from(exact[2 * i]) - fx).abs() < 1e-4 * (1.0 + fx.abs()));
            assert!((f64::from(exact[2 * i + 1]) - fy).abs() < 1e-4 * (1.0 + fy.abs()));
        }
        assert!((z_exact - z_brute).abs() < 1e-4 * z_brute);
        // Barnes–Hut at theta 0.5: Z within 2%, forces within 5% of the typical magnitude.
        let mut approx = vec![0.0f32; 2 * n];
        let z_bh = BhTree::new(n).repulsion(&y, 0.5, &mut approx);
        assert!(
            (z_bh - z_brute).abs() < 0.02 * z_brute,
            "Z {z_bh} vs {z_brute}"
        );
        let rms = (exact.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n as f64).sqrt();
        let err = (exact
            .iter()
            .zip(&approx)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt();
        assert!(err < 0.05 * rms, "rms error {err} vs rms force {rms}");
    }

    #[test]
    fn deterministic_for_a_seed_and_thread_count() {
        let (data, _) = blobs(4, 50, 8, 8.0, 4);
        let cfg = TsneConfig {
            iterations: 120,
            exaggeration_iterations: 50,
            ..small_cfg()
        };
        let a = tsne(&data, 8, &cfg).unwrap();
        let b = tsne(&data, 8, &cfg).unwrap();
        assert_eq!(a, b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| tsne(&data, 8, &cfg).unwrap());
        assert_eq!(a, c, "result must not depend on the number of threads");
        // Stepwise API reaches the same result.
        let mut t = Tsne::new(&data, 8, &cfg).unwrap();
        assert_eq!(t.iteration(), 0);
        assert!(!t.is_done());
        t.step();
        assert_eq!(t.iteration(), 1);
        assert_eq!(t.run(), &a[..]);
        assert!(t.is_done());
        t.step();
        assert_eq!(t.iteration(), cfg.iterations);
        assert_eq!(t.positions().len(), 2 * 200);
    }

    #[test]
    fn pca_init_is_tiny_and_follows_the_main_axis() {
        // Points spread along (1, 1, 0) with small noise: the first init coordinate must
        // carry that spread, with std 1e-4.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut data = Vec::new();
        for _ in 0..100 {
            let s = 5.0 * normal(&mut rng) as f32;
            data.extend([
                s + 0.01 * normal(&mut rng) as f32,
                s,
                0.1 * normal(&mut rng) as f32,
            ]);
        }
        let y = pca_init(&data, 100, 3, 0);
        assert!((column_std(&y, 0) - 1e-4).abs() < 1e-7);
        assert!(column_std(&y, 1) < 0.05 * column_std(&y, 0));
        // Degenerate data (all points equal) still gives a finite, non-collapsed init.
        let y = pca_init(&[1.0; 40], 20, 2, 0);
        assert!(y.iter().all(|v| v.is_finite()));
        assert!(column_std(&y, 0) > 0.0 && column_std(&y, 1) > 0.0);
    }

    #[test]
    fn bad_input_is_rejected() {
        let cfg = TsneConfig {
            perplexity: 2.0,
            ..TsneConfig::default()
        };
        let ok = vec![0.5f32; 10 * 3];
        assert_eq!(
            Tsne::new(&ok[..9], 3, &cfg).err(),
            Some(TsneError::TooFewPoints(3))
        );
        assert_eq!(
            Tsne::new(&ok, 0, &cfg).err(),
            Some(TsneError::ZeroDimension)
        );
        assert_eq!(
            Tsne::new(&ok[..29], 3, &cfg).err(),
            Some(TsneError::LengthMismatch { len: 29, dim: 3 })
        );
        let mut bad = ok.clone();
        bad[7] = f32::NAN;
        assert_eq!(
            Tsne::new(&bad, 3, &cfg).err(),
            Some(TsneError::NonFinite { point: 2, coord: 1 })
        );
        bad[7] = f32::INFINITY;
        assert!(Tsne::new(&bad, 3, &cfg).is_err());
        let too_high = TsneConfig {
            perplexity: 9.0,
            ..TsneConfig::default()
        };
        let err = Tsne::new(&ok, 3, &too_high).err();
        assert_eq!(
            err,
            Some(TsneError::InvalidPerplexity {
                perplexity: 9.0,
                n: 10
            })
        );
        assert!(err.unwrap().to_string().contains("less than N - 1 = 9"));
        for p in [0.0, -1.0, f32::NAN] {
            let c = TsneConfig {
                perplexity: p,
                ..TsneConfig::default()
            };
            assert!(matches!(
                Tsne::new(&ok, 3, &c),
                Err(TsneError::InvalidPerplexity { .. })
            ));
        }
        let neg_theta = TsneConfig {
            theta: -0.1,
            ..cfg.clone()
        };
        assert!(matches!(
            tsne(&ok, 3, &neg_theta),
            Err(TsneError::InvalidConfig(_))
        ));
        let zero_lr = TsneConfig {
            learning_rate: Some(0.0),
            ..cfg.clone()
        };
        assert!(matches!(
            tsne(&ok, 3, &zero_lr),
            Err(TsneError::InvalidConfig(_))
        ));
        // Identical points are valid input and give a finite layout.
        let y = tsne(&ok, 3, &cfg).unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn config_defaults_and_serde() {
        let d = TsneConfig::default();
        assert_eq!(d.perplexity, 30.0);
        assert_eq!(d.iterations, 750);
        assert_eq!(d.learning_rate, None);
        assert_eq!(d.early_exaggeration, 12.0);
        assert_eq!(d.exaggeration_iterations, 250);
        assert_eq!(d.theta, 0.5);
        let partial: TsneConfig = serde_json::from_str(r#"{"perplexity": 10.0}"#).unwrap();
        assert_eq!(
            partial,
            TsneConfig {
                perplexity: 10.0,
                ..d.clone()
            }
        );
        let back: TsneConfig = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }
}
