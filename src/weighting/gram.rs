//! The T×T Gram matrix K = G Gᵀ of the per-task gradients, and the small dense
//! linear algebra that the weighting rules share.
//!
//! Every rule in this crate sees the gradients only through K (and sometimes the
//! losses), so the trainer never has to hand D-dimensional vectors to a rule.
//! [`Gram`] validates K once (finite, symmetric, non-negative diagonal, positive
//! semi-definite up to rounding) so the rules can rely on it.
//!
//! The solvers here are exact for small T (2 ≤ T ≤ [`MAX_TASKS`]): they enumerate
//! faces / active sets (at most 2^8 = 256) and solve each small linear system
//! directly, instead of running an iterative method to a stopping tolerance.
//!
//! Choices:
//! * Asymmetry up to [`SYMMETRY_REL_TOL`] × max diagonal is accepted and averaged
//!   away, because a GPU GEMM in f32 computes both triangles separately.
//! * A most-negative eigenvalue down to −[`PSD_REL_TOL`] × trace is accepted (same
//!   reason); below that the matrix cannot be a Gram matrix and is rejected.
//! * A row is "zero" when its squared norm is below `f64::MIN_POSITIVE`, i.e.
//!   exactly zero for all practical purposes; rules then define what such a task gets.

use thiserror::Error;

/// Fewest tasks a multi-task rule is defined for.
pub const MIN_TASKS: usize = 2;
/// Most tasks: the exact solvers enumerate 2^T active sets.
pub const MAX_TASKS: usize = 8;
/// Accepted |K_ij − K_ji| relative to the largest diagonal entry.
pub const SYMMETRY_REL_TOL: f64 = 1e-6;
/// Accepted most-negative eigenvalue relative to the trace.
pub const PSD_REL_TOL: f64 = 1e-6;
/// Pivots below this fraction of the local scale count as singular.
const SINGULAR_REL_TOL: f64 = 1e-12;

/// Everything a rule can refuse, with the cause in the message.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GramError {
    /// T outside 2..=8.
    #[error("need between {MIN_TASKS} and {MAX_TASKS} tasks, got {tasks}")]
    TaskCount {
        /// Number of tasks supplied.
        tasks: usize,
    },
    /// Rows of G (or of K) of different lengths.
    #[error("row {row} has {len} entries but {expected} were expected")]
    RaggedRows {
        /// Offending row.
        row: usize,
        /// Its length.
        len: usize,
        /// Length of the other rows.
        expected: usize,
    },
    /// NaN or ±inf in G or K (or K overflowed).
    #[error("non-finite value {value} at ({row}, {col})")]
    NonFinite {
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The value itself.
        value: f64,
    },
    /// K is not symmetric within tolerance.
    #[error(
        "Gram matrix is not symmetric: K[{row}][{col}] = {upper} but K[{col}][{row}] = {lower}"
    )]
    Asymmetric {
        /// Row of the upper entry.
        row: usize,
        /// Column of the upper entry.
        col: usize,
        /// K[row][col].
        upper: f64,
        /// K[col][row].
        lower: f64,
    },
    /// A squared norm cannot be negative.
    #[error(
        "negative diagonal K[{task}][{task}] = {value}: a squared gradient norm cannot be negative"
    )]
    NegativeDiagonal {
        /// Task index.
        task: usize,
        /// The diagonal entry.
        value: f64,
    },
    /// K has a clearly negative eigenvalue, so it is not G Gᵀ for any G.
    #[error(
        "Gram matrix is not positive semi-definite: eigenvalue {eigenvalue} with trace {trace}"
    )]
    NotPositiveSemidefinite {
        /// Most negative eigenvalue.
        eigenvalue: f64,
        /// Trace of K.
        trace: f64,
    },
    /// Number of losses does not match T.
    #[error("expected {expected} losses (one per task), got {got}")]
    LossCount {
        /// T.
        expected: usize,
        /// Losses supplied.
        got: usize,
    },
    /// A loss is NaN/inf, or not above its lower bound where a logarithm needs it.
    #[error(
        "loss of task {task} is {loss}, which is not finite or not above its lower bound {lower_bound}"
    )]
    InvalidLoss {
        /// Task index.
        task: usize,
        /// The loss.
        loss: f64,
        /// The bound it must exceed.
        lower_bound: f64,
    },
    /// A hyper-parameter outside its domain.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Its value.
        value: f64,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A PCGrad order that is not a permutation of the other tasks.
    #[error("projection order for task {task} must list every other task exactly once")]
    InvalidOrder {
        /// Task whose order is wrong.
        task: usize,
    },
    /// Nash-MTL has no solution when 0 is in the hull of the non-zero gradients.
    #[error(
        "no Nash-MTL solution: the non-zero task gradients cancel (0 lies in their convex hull), so no α > 0 satisfies Kα = 1/α"
    )]
    NashInfeasible,
    /// An iterative solve failed to reach its accuracy (should not happen).
    #[error("{solver} did not converge (residual {residual})")]
    NotConverged {
        /// Which solver.
        solver: &'static str,
        /// Final residual.
        residual: f64,
    },
}

/// Symmetric, validated T×T Gram matrix in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    tasks: usize,
    entries: Vec<f64>,
}

impl Gram {
    /// K = G Gᵀ from the task gradients (rows of G), accumulated in f64.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self, GramError> {
        check_task_count(rows.len())?;
        let dimension = rows[0].len();
        for (row, values) in rows.iter().enumerate() {
            check_row(row, values, dimension)?;
        }
        let tasks = rows.len();
        let mut entries = vec![0.0; tasks * tasks];
        for i in 0..tasks {
            for j in i..tasks {
                let dot: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
                entries[i * tasks + j] = dot;
                entries[j * tasks + i] = dot;
            }
        }
        Self::validated(tasks, entries)
    }

    /// K given directly (e.g. computed on the GPU); symmetrised after validation.
    pub fn from_matrix(matrix: &[Vec<f64>]) -> Result<Self, GramError> {
        check_task_count(matrix.len())?;
        let tasks = matrix.len();
        for (row, values) in matrix.iter().enumerate() {
            check_row(row, values, tasks)?;
        }
        let entries = matrix.iter().flatten().copied().collect();
        Self::validated(tasks, entries)
    }

    /// A principal sub-matrix of an already validated Gram (any size ≥ 1).
    pub(crate) fn submatrix(&self, indices: &[usize]) -> Self {
        let tasks = indices.len();
        let mut entries = Vec::with_capacity(tasks * tasks);
        for &i in indices {
            entries.extend(indices.iter().map(|&j| self.at(i, j)));
        }
        Self { tasks, entries }
    }

    /// Wraps a matrix that is symmetric PSD by construction (e.g. a cosine
    /// matrix of a validated Gram); no checks, any size ≥ 1.
    pub(crate) fn from_trusted(matrix: &[Vec<f64>]) -> Self {
        Self {
            tasks: matrix.len(),
            entries: matrix.iter().flatten().copied().collect(),
        }
    }

    fn validated(tasks: usize, mut entries: Vec<f64>) -> Result<Self, GramError> {
        if let Some(index) = entries.iter().position(|v| !v.is_finite()) {
            let (row, col) = (index / tasks, index % tasks);
            return Err(GramError::NonFinite {
                row,
                col,
                value: entries[index],
            });
        }
        let max_diagonal = (0..tasks)
            .map(|i| entries[i * tasks + i])
            .fold(0.0, f64::max);
        for i in 0..tasks {
            let value = entries[i * tasks + i];
            if value < 0.0 {
                return Err(GramError::NegativeDiagonal { task: i, value });
            }
            for j in (i + 1)..tasks {
                let (upper, lower) = (entries[i * tasks + j], entries[j * tasks + i]);
                if (upper - lower).abs() > SYMMETRY_REL_TOL * max_diagonal {
                    return Err(GramError::Asymmetric {
                        row: i,
                        col: j,
                        upper,
                        lower,
                    });
                }
                let mean = 0.5 * (upper + lower);
                entries[i * tasks + j] = mean;
                entries[j * tasks + i] = mean;
            }
        }
        let gram = Self { tasks, entries };
        gram.check_positive_semidefinite()?;
        Ok(gram)
    }

    fn check_positive_semidefinite(&self) -> Result<(), GramError> {
        let trace = self.trace();
        let eigen = symmetric_eigen(&self.to_rows());
        let eigenvalue = eigen.values.last().copied().unwrap_or(0.0);
        if eigenvalue < -PSD_REL_TOL * trace {
            return Err(GramError::NotPositiveSemidefinite { eigenvalue, trace });
        }
        Ok(())
    }

    /// Number of tasks T.
    pub fn tasks(&self) -> usize {
        self.tasks
    }

    /// K[i][j] = g_i · g_j.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.entries[i * self.tasks + j]
    }

    /// ‖g_i‖.
    pub fn norm(&self, i: usize) -> f64 {
        self.at(i, i).max(0.0).sqrt()
    }

    /// Whether g_i is (numerically exactly) the zero vector.
    pub fn is_zero_row(&self, i: usize) -> bool {
        self.at(i, i) < f64::MIN_POSITIVE
    }

    /// Σ_i ‖g_i‖² = ‖G‖_F².
    pub fn trace(&self) -> f64 {
        (0..self.tasks).map(|i| self.at(i, i)).sum()
    }

    /// max_i ‖g_i‖², the scale used by relative tolerances.
    pub fn max_diagonal(&self) -> f64 {
        (0..self.tasks).map(|i| self.at(i, i)).fold(0.0, f64::max)
    }

    /// K v, i.e. the dot products g_i · (Gᵀ v).
    pub fn apply(&self, v: &[f64]) -> Vec<f64> {
        (0..self.tasks)
            .map(|i| (0..self.tasks).map(|j| self.at(i, j) * v[j]).sum())
            .collect()
    }

    /// vᵀ K v = ‖Gᵀ v‖² (clamped at 0 against rounding).
    pub fn quadratic_form(&self, v: &[f64]) -> f64 {
        dot(v, &self.apply(v)).max(0.0)
    }

    /// K as nested rows.
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        self.entries
            .chunks(self.tasks)
            .map(<[f64]>::to_vec)
            .collect()
    }

    /// Indices of the tasks whose gradient is not zero.
    pub fn nonzero_tasks(&self) -> Vec<usize> {
        (0..self.tasks).filter(|&i| !self.is_zero_row(i)).collect()
    }
}

fn check_task_count(tasks: usize) -> Result<(), GramError> {
    if (MIN_TASKS..=MAX_TASKS).contains(&tasks) {
        Ok(())
    } else {
        Err(GramError::TaskCount { tasks })
    }
}

fn check_row(row: usize, values: &[f64], expected: usize) -> Result<(), GramError> {
    if values.len() != expected {
        return Err(GramError::RaggedRows {
            row,
            len: values.len(),
            expected,
        });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(col) => Err(GramError::NonFinite {
            row,
            col,
            value: values[col],
        }),
        None => Ok(()),
    }
}

/// a · b.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves A x = b by Gaussian elimination with partial pivoting; `None` when a
/// pivot's magnitude is ≤ `singular_below` (the caller knows the matrix's scale).
pub fn solve(matrix: &[Vec<f64>], rhs: &[f64], singular_below: f64) -> Option<Vec<f64>> {
    let n = rhs.len();
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut b = rhs.to_vec();
    for col in 0..n {
        let pivot_row = (col..n).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        if a[pivot_row][col].abs() <= singular_below || !a[pivot_row][col].is_finite() {
            return None;
        }
        a.swap(col, pivot_row);
        b.swap(col, pivot_row);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot = &upper[col];
        for (offset, target) in lower.iter_mut().enumerate() {
            let factor = target[col] / pivot[col];
            for (t, p) in target[col..].iter_mut().zip(&pivot[col..]) {
                *t -= factor * p;
            }
            b[col + 1 + offset] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = ((row + 1)..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Eigen-decomposition of a symmetric matrix: `values` in descending order and
/// `vectors[k]` the unit eigenvector of `values[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// Matching orthonormal eigenvectors.
    pub vectors: Vec<Vec<f64>>,
}

/// Cyclic Jacobi eigen-decomposition (accurate and simple for n ≤ 8).
///
/// A rotation is skipped when |a_pq| ≤ ε √|a_pp a_qq| (Demmel & Veselić's
/// criterion), which gives small eigenvalues of a PSD Gram matrix with high
/// RELATIVE accuracy whenever its cosine matrix is well conditioned (LAPACK's
/// `eigh` only gets them to ε · λ_max absolutely).
pub fn symmetric_eigen(matrix: &[Vec<f64>]) -> SymmetricEigen {
    let n = matrix.len();
    let mut a = matrix.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| unit_vector(n, i)).collect();
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..n {
            for q in (p + 1)..n {
                if a[p][q].abs() > f64::EPSILON * (a[p][p] * a[q][q]).abs().sqrt() {
                    jacobi_rotate(&mut a, &mut v, p, q);
                    rotated = true;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]));
    SymmetricEigen {
        values: order.iter().map(|&k| a[k][k]).collect(),
        vectors: order
            .iter()
            .map(|&k| (0..n).map(|r| v[r][k]).collect())
            .collect(),
    }
}

/// One Jacobi rotation JᵀAJ that zeroes A[p][q] (Golub & Van Loan, sym.schur2).
fn jacobi_rotate(a: &mut [Vec<f64>], v: &mut [Vec<f64>], p: usize, q: usize) {
    if a[p][q] == 0.0 {
        return;
    }
    let tau = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
    let t = tau.signum() / (tau.abs() + tau.hypot(1.0));
    let t = if tau == 0.0 { 1.0 } else { t };
    let c = 1.0 / t.hypot(1.0);
    let s = t * c;
    for row in a.iter_mut() {
        let (akp, akq) = (row[p], row[q]);
        row[p] = c * akp - s * akq;
        row[q] = s * akp + c * akq;
    }
    let (head, tail) = a.split_at_mut(q);
    rotate_pair(&mut head[p], &mut tail[0], c, s);
    a[p][q] = 0.0;
    a[q][p] = 0.0;
    for row in v.iter_mut() {
        let (vkp, vkq) = (row[p], row[q]);
        row[p] = c * vkp - s * vkq;
        row[q] = s * vkp + c * vkq;
    }
}

/// e_i in R^n.
pub fn unit_vector(n: usize, i: usize) -> Vec<f64> {
    let mut e = vec![0.0; n];
    e[i] = 1.0;
    e
}

/// Minimum-norm least-squares solution x = A⁺ b, by one-sided (Hestenes)
/// Jacobi SVD; singular values below `rel_tol` × the largest are treated as 0.
pub fn min_norm_least_squares(matrix: &[Vec<f64>], rhs: &[f64], rel_tol: f64) -> Vec<f64> {
    let rows = matrix.len();
    let cols = matrix.first().map_or(0, Vec::len);
    // Columns of A are orthogonalised in place: A V = U Σ.
    let mut u: Vec<Vec<f64>> = (0..cols)
        .map(|c| (0..rows).map(|r| matrix[r][c]).collect())
        .collect();
    let mut v: Vec<Vec<f64>> = (0..cols).map(|c| unit_vector(cols, c)).collect();
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..cols {
            for q in (p + 1)..cols {
                rotated |= hestenes_rotate(&mut u, &mut v, p, q);
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma: Vec<f64> = u.iter().map(|column| dot(column, column).sqrt()).collect();
    let sigma_max = sigma.iter().copied().fold(0.0, f64::max);
    let mut x = vec![0.0; cols];
    for (k, &s) in sigma.iter().enumerate() {
        if s > rel_tol * sigma_max && s > 0.0 {
            let coefficient = dot(&u[k], rhs) / (s * s);
            for (xi, vi) in x.iter_mut().zip(&v[k]) {
                *xi += coefficient * vi;
            }
        }
    }
    x
}

/// Rotates columns p, q of U (and of V) to make them orthogonal; false if they
/// already were (to working precision).
fn hestenes_rotate(u: &mut [Vec<f64>], v: &mut [Vec<f64>], p: usize, q: usize) -> bool {
    let alpha = dot(&u[p], &u[p]);
    let beta = dot(&u[q], &u[q]);
    let gamma = dot(&u[p], &u[q]);
    if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
        return false;
    }
    let zeta = (beta - alpha) / (2.0 * gamma);
    let t = zeta.signum() / (zeta.abs() + zeta.hypot(1.0));
    let t = if zeta == 0.0 { 1.0 } else { t };
    let c = 1.0 / t.hypot(1.0);
    let s = c * t;
    for columns in [u, v] {
        let (head, tail) = columns.split_at_mut(q);
        rotate_pair(&mut head[p], &mut tail[0], c, s);
    }
    true
}

/// (x, y) ← (c x − s y, s x + c y) element-wise: a plane rotation of two vectors.
fn rotate_pair(x: &mut [f64], y: &mut [f64], c: f64, s: f64) {
    for (a, b) in x.iter_mut().zip(y.iter_mut()) {
        let (xa, yb) = (*a, *b);
        *a = c * xa - s * yb;
        *b = s * xa + c * yb;
    }
}

/// All non-empty subsets of 0..n as index lists (n ≤ MAX_TASKS).
pub fn nonempty_subsets(n: usize) -> impl Iterator<Item = Vec<usize>> {
    (1u32..(1u32 << n)).map(move |mask| (0..n).filter(|&i| mask & (1 << i) != 0).collect())
}

/// The point of the affine hull of {g_i : i ∈ support} nearest to a target y,
/// as weights λ (zero off the support, Σ λ = 1). `target_dots[i]` = y · g_i.
///
/// Writes p = g_a + Σ_k μ_k (g_k − g_a), anchored at the shortest g_a of the
/// support (so each difference is dominated by its own vector and computed
/// without cancellation), and solves the normal equations on the differences,
/// A_kl = K_kl − K_ka − K_al + K_aa, after scaling A to unit diagonal so that the
/// singularity test measures angles, not lengths (a big and two tiny vertices form
/// a perfectly good triangle). `None` when the support is affinely dependent
/// (a difference below rounding of its K entries, or an equilibrated pivot
/// ≤ 1e-12): then a smaller support reaches the same points.
pub fn affine_face_weights(k: &Gram, support: &[usize], target_dots: &[f64]) -> Option<Vec<f64>> {
    let anchor = support
        .iter()
        .copied()
        .min_by(|&i, &j| k.at(i, i).total_cmp(&k.at(j, j)))?;
    let others: Vec<usize> = support.iter().copied().filter(|&i| i != anchor).collect();
    let mut lambda = vec![0.0; k.tasks()];
    lambda[anchor] = 1.0;
    if others.is_empty() {
        return Some(lambda);
    }
    let difference_gram =
        |p: usize, q: usize| k.at(p, q) - k.at(p, anchor) - k.at(anchor, q) + k.at(anchor, anchor);
    let mut inverse_scale = Vec::with_capacity(others.len());
    for &p in &others {
        let length_sq = difference_gram(p, p);
        if length_sq <= 1e-13 * (k.at(p, p) + k.at(anchor, anchor)) {
            return None;
        }
        inverse_scale.push(1.0 / length_sq.sqrt());
    }
    let equilibrated: Vec<Vec<f64>> = others
        .iter()
        .zip(&inverse_scale)
        .map(|(&p, sp)| {
            others
                .iter()
                .zip(&inverse_scale)
                .map(|(&q, sq)| sp * sq * difference_gram(p, q))
                .collect()
        })
        .collect();
    let rhs: Vec<f64> = others
        .iter()
        .zip(&inverse_scale)
        .map(|(&p, sp)| {
            sp * ((target_dots[p] - target_dots[anchor]) - (k.at(p, anchor) - k.at(anchor, anchor)))
        })
        .collect();
    let scaled_mu = solve(&equilibrated, &rhs, SINGULAR_REL_TOL)?;
    for ((&p, m), sp) in others.iter().zip(&scaled_mu).zip(&inverse_scale) {
        lambda[p] = m * sp;
        lambda[anchor] -= m * sp;
    }
    Some(lambda)
}

/// Weights λ on the simplex of the minimum-norm point of conv{g_i}, i.e.
/// argmin_{λ ≥ 0, Σλ = 1} λᵀKλ, solved exactly by enumerating faces.
///
/// The minimiser lies in the relative interior of some face whose vertices are
/// affinely independent; on that face it is the nearest point of the affine hull
/// to 0. Each face candidate inside the simplex is checked against the optimality
/// condition g_j · d ≥ ‖d‖² for all j; among candidates that pass, the smallest
/// ‖d‖² wins (ties: the first face in enumeration order). If rounding rejects
/// every candidate, the smallest ‖d‖² among feasible ones is used.
pub fn min_norm_hull_weights(k: &Gram) -> Vec<f64> {
    let tasks = k.tasks();
    let zero_target = vec![0.0; tasks];
    let mut best_kkt: Option<(f64, Vec<f64>)> = None;
    let mut best_any: Option<(f64, Vec<f64>)> = None;
    for support in nonempty_subsets(tasks) {
        let Some(lambda) = affine_face_weights(k, &support, &zero_target) else {
            continue;
        };
        let Some(lambda) = clamp_to_simplex(&lambda) else {
            continue;
        };
        let norm_sq = k.quadratic_form(&lambda);
        if hull_kkt_holds(k, &lambda, norm_sq) {
            keep_smaller(&mut best_kkt, norm_sq, &lambda);
        }
        keep_smaller(&mut best_any, norm_sq, &lambda);
    }
    best_kkt
        .or(best_any)
        .map_or_else(|| vec![1.0 / tasks as f64; tasks], |(_, lambda)| lambda)
}

/// Accepts weights within rounding of the simplex and removes the rounding.
fn clamp_to_simplex(lambda: &[f64]) -> Option<Vec<f64>> {
    if lambda.iter().any(|&x| x < -1e-12) {
        return None;
    }
    let clamped: Vec<f64> = lambda.iter().map(|&x| x.max(0.0)).collect();
    let total: f64 = clamped.iter().sum();
    (total > 0.0).then(|| clamped.iter().map(|x| x / total).collect())
}

/// Optimality of λ for the min-norm problem: g_j · d ≥ ‖d‖² for every j, up to
/// the rounding of g_j · d = (Kλ)_j, i.e. relative 1e-10 of ‖g_j‖ Σ_i λ_i ‖g_i‖.
fn hull_kkt_holds(k: &Gram, lambda: &[f64], norm_sq: f64) -> bool {
    let dots = k.apply(lambda);
    let term_scale: f64 = lambda
        .iter()
        .enumerate()
        .map(|(i, l)| l.abs() * k.norm(i))
        .sum();
    (0..k.tasks()).all(|j| dots[j] - norm_sq >= -1e-10 * k.norm(j) * term_scale)
}

fn keep_smaller(best: &mut Option<(f64, Vec<f64>)>, value: f64, candidate: &[f64]) {
    if best.as_ref().is_none_or(|(v, _)| value < *v) {
        *best = Some((value, candidate.to_vec()));
    }
}

/// argmin_{v ≥ lower} vᵀKv for lower ≥ 0, solved exactly by active-set enumeration.
///
/// Zero rows do not affect the objective, so their v stays at its lower bound.
/// The rest is solved in norm-scaled coordinates y_i = ‖g_i‖ v_i, where the matrix
/// is the cosine matrix C (unit diagonal), so that hugely unequal norms do not
/// spoil the singularity test. For each free set F the stationary point
/// C_FF y_F = −C_FB ℓ_B (bound set at its bound) is a candidate; it is optimal iff
/// y_F ≥ ℓ_F and the multipliers (C y)_B ≥ 0. A minimiser with a minimal free set
/// has C_FF non-singular, so enumeration always finds it.
pub fn min_quadratic_above(k: &Gram, lower: &[f64]) -> Vec<f64> {
    let active = k.nonzero_tasks();
    let mut v = lower.to_vec();
    if active.is_empty() {
        return v;
    }
    let norms: Vec<f64> = active.iter().map(|&i| k.norm(i)).collect();
    let cosine = cosine_matrix(k, &active);
    let scaled_lower: Vec<f64> = active
        .iter()
        .zip(&norms)
        .map(|(&i, n)| n * lower[i])
        .collect();
    let y = box_qp_cosine(&cosine, &scaled_lower);
    for ((&i, n), yi) in active.iter().zip(&norms).zip(&y) {
        v[i] = yi / n;
    }
    v
}

/// C_ij = K_ij / (‖g_i‖ ‖g_j‖) over the given (non-zero) tasks.
pub fn cosine_matrix(k: &Gram, tasks: &[usize]) -> Vec<Vec<f64>> {
    tasks
        .iter()
        .map(|&i| {
            tasks
                .iter()
                .map(|&j| k.at(i, j) / (k.norm(i) * k.norm(j)))
                .collect()
        })
        .collect()
}

fn box_qp_cosine(cosine: &[Vec<f64>], lower: &[f64]) -> Vec<f64> {
    let n = lower.len();
    let scale = lower.iter().copied().fold(0.0, f64::max);
    let mut best_kkt: Option<(f64, Vec<f64>)> = None;
    let mut best_any: Option<(f64, Vec<f64>)> = None;
    for mask in 0u32..(1u32 << n) {
        let Some(y) = box_candidate(cosine, lower, mask) else {
            continue;
        };
        if y.iter().zip(lower).any(|(yi, li)| *yi < li - 1e-12 * scale) {
            continue;
        }
        let y: Vec<f64> = y.iter().zip(lower).map(|(yi, li)| yi.max(*li)).collect();
        let gradient = mat_vec(cosine, &y);
        let objective = dot(&y, &gradient);
        let y_scale = y.iter().map(|x| x.abs()).fold(scale, f64::max);
        let kkt = (0..n).all(|i| mask & (1 << i) != 0 || gradient[i] >= -1e-10 * y_scale);
        if kkt {
            keep_smaller(&mut best_kkt, objective, &y);
        }
        keep_smaller(&mut best_any, objective, &y);
    }
    best_kkt
        .or(best_any)
        .map_or_else(|| lower.to_vec(), |(_, y)| y)
}

/// Stationary point with the coordinates in `free_mask` free, the rest at bound.
fn box_candidate(cosine: &[Vec<f64>], lower: &[f64], free_mask: u32) -> Option<Vec<f64>> {
    let n = lower.len();
    let free: Vec<usize> = (0..n).filter(|&i| free_mask & (1 << i) != 0).collect();
    let mut y = lower.to_vec();
    if free.is_empty() {
        return Some(y);
    }
    let system: Vec<Vec<f64>> = free
        .iter()
        .map(|&i| free.iter().map(|&j| cosine[i][j]).collect())
        .collect();
    let rhs: Vec<f64> = free
        .iter()
        .map(|&i| {
            -(0..n)
                .filter(|j| free_mask & (1 << j) == 0)
                .map(|j| cosine[i][j] * lower[j])
                .sum::<f64>()
        })
        .collect();
    let solution = solve(&system, &rhs, SINGULAR_REL_TOL)?;
    for (&i, value) in free.iter().zip(solution) {
        y[i] = value;
    }
    Some(y)
}

/// A x for a small dense matrix.
pub fn mat_vec(matrix: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    matrix.iter().map(|row| dot(row, x)).collect()
}

/// d = Σ_i λ_i g_i: the update direction for given gradient rows and coefficients (what
/// `cari-mtl aggregate` prints, and the tests' reference combination).
///
/// Rows and coefficients are zipped, so a shorter coefficient slice ignores the trailing rows;
/// all rows are expected to share one length.
pub fn direction(g_rows: &[Vec<f64>], coefficients: &[f64]) -> Vec<f64> {
    let dimension = g_rows.first().map_or(0, Vec::len);
    let mut d = vec![0.0; dimension];
    for (row, &lambda) in g_rows.iter().zip(coefficients) {
        for (di, gi) in d.iter_mut().zip(row) {
            *di += lambda * gi;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_inputs() {
        assert_eq!(
            Gram::from_rows(&[vec![1.0]]),
            Err(GramError::TaskCount { tasks: 1 })
        );
        assert!(matches!(
            Gram::from_rows(&[vec![1.0, f64::NAN], vec![1.0, 2.0]]),
            Err(GramError::NonFinite { row: 0, col: 1, .. })
        ));
        assert!(matches!(
            Gram::from_matrix(&[vec![1.0, 0.5], vec![0.4, 1.0]]),
            Err(GramError::Asymmetric { .. })
        ));
        assert!(matches!(
            Gram::from_matrix(&[vec![-1.0, 0.0], vec![0.0, 1.0]]),
            Err(GramError::NegativeDiagonal { task: 0, .. })
        ));
        assert!(matches!(
            Gram::from_matrix(&[vec![1.0, 2.0], vec![2.0, 1.0]]),
            Err(GramError::NotPositiveSemidefinite { .. })
        ));
        assert!(matches!(
            Gram::from_rows(&[vec![1.0, 2.0], vec![1.0]]),
            Err(GramError::RaggedRows { row: 1, .. })
        ));
    }

    #[test]
    fn eigen_reconstructs_matrix() {
        let m = vec![
            vec![4.0, 1.0, -2.0],
            vec![1.0, 3.0, 0.5],
            vec![-2.0, 0.5, 1.0],
        ];
        let eigen = symmetric_eigen(&m);
        for (i, row) in m.iter().enumerate() {
            for (j, &value) in row.iter().enumerate() {
                let rebuilt: f64 = eigen
                    .values
                    .iter()
                    .zip(&eigen.vectors)
                    .map(|(l, v)| l * v[i] * v[j])
                    .sum();
                assert!((rebuilt - value).abs() < 1e-13);
            }
        }
        assert!(eigen.values.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn least_squares_matches_solve_and_handles_rank_deficiency() {
        let a = vec![vec![2.0, 1.0], vec![1.0, 3.0]];
        let x = min_norm_least_squares(&a, &[1.0, 2.0], 1e-12);
        let y = solve(&a, &[1.0, 2.0], 1e-12).unwrap();
        assert!((x[0] - y[0]).abs() < 1e-14 && (x[1] - y[1]).abs() < 1e-14);
        let singular = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        let x = min_norm_least_squares(&singular, &[2.0, 2.0], 1e-12);
        assert!((x[0] - 1.0).abs() < 1e-14 && (x[1] - 1.0).abs() < 1e-14);
    }

    #[test]
    fn box_qp_projects_onto_dual_cone() {
        let k = Gram::from_rows(&[vec![1.0, 0.0], vec![-1.0, 1.0]]).unwrap();
        let v = min_quadratic_above(&k, &[1.0, 0.0]);
        // g1 conflicts with g2: w = e1 + t e2 with t = −g1·g2/‖g2‖² = 0.5.
        assert!((v[0] - 1.0).abs() < 1e-15 && (v[1] - 0.5).abs() < 1e-15);
    }
}
