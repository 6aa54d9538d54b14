//! Evaluation metrics for caricature–photo face recognition (Ming, Burie & Luqman, GREC 2019).
//!
//! Pure functions over `f32` data (no tensors). The protocol follows the authors' public code
//! (squared Euclidean distance between L2-normalised verification embeddings, 10-fold threshold
//! selection, VAL@FAR, AUC per fold, rank-k identification), with the authors' evaluation bugs fixed:
//!
//! * VAL@FAR: the threshold is chosen on the training folds but VAL is measured on the **held-out**
//!   fold (the authors measured it on the training folds again).
//! * CMC / rank-k: a probe counts as a hit at rank k iff its true identity is among the k nearest
//!   gallery **identities** (the authors' rank-10 aggregation gave ≈ 100 %).
//!
//! All standard deviations reported here are **sample** standard deviations (n − 1, i.e.
//! `statistics.stdev`, `numpy.std(ddof=1)`), taken over the folds; NaN for a single fold.

use rayon::prelude::*;
use std::cmp::Ordering;

use super::stats::mean_sd;
use crate::seeded::SplitMix64;

use std::collections::{BTreeMap, HashSet};

/// FAR target of [`Verification::val_far_0_1`]: 0.1 %.
pub const FAR_0_1_PERCENT: f64 = 0.001;
/// FAR target of [`Verification::val_far_1`]: 1 %.
pub const FAR_1_PERCENT: f64 = 0.01;
/// Largest number of points kept in [`Verification::roc`].
pub const MAX_ROC_POINTS: usize = 200;

/// Squared Euclidean distance between two equal-length vectors (embeddings are L2-normalised by the
/// caller). Accumulates in eight `f32` lanes (vectorisable; ample precision for unit vectors). If the
/// lengths differ (a caller bug, checked in debug builds), only the common prefix is compared.
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "squared_distance: length mismatch");
    const LANES: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        tail += d * d;
    }
    acc.iter().sum::<f32>() + tail
}

/// L2-normalise rows in place (row-major, dim `dim`); zero rows stay zero. A trailing partial row
/// (when `data.len()` is not a multiple of `dim`) is left untouched; `dim == 0` does nothing.
pub fn l2_normalise_rows(data: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    for row in data.chunks_exact_mut(dim) {
        let norm = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 && norm.is_finite() {
            for x in row.iter_mut() {
                *x = (f64::from(*x) / norm) as f32;
            }
        }
    }
}

/// A scored pair: distance and whether the pair is the same person, and its fold (0..folds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredPair {
    pub distance: f32,
    pub same: bool,
    pub fold: usize,
}

/// Assign folds `0..k` round-robin after a seeded shuffle (deterministic), for pair lists that come
/// without folds.
///
/// The assignment is stratified: same-person pairs are shuffled and dealt round-robin first, then the
/// different-person pairs are shuffled and dealt continuing the same round-robin, so every fold gets
/// `⌊n_same/k⌋` or `⌈n_same/k⌉` same pairs (likewise for different pairs) and fold sizes differ by at
/// most one. `k == 0` leaves the pairs untouched.
pub fn assign_folds(pairs: &mut [ScoredPair], k: usize, seed: u64) {
    let same: Vec<bool> = pairs.iter().map(|p| p.same).collect();
    if let Some(folds) = stratified_folds(&same, k, seed) {
        for (p, f) in pairs.iter_mut().zip(folds) {
            p.fold = f;
        }
    }
}

/// Fold of each item (see [`assign_folds`]); `None` when `k == 0`.
fn stratified_folds(same: &[bool], k: usize, seed: u64) -> Option<Vec<usize>> {
    if k == 0 {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut folds = vec![0; same.len()];
    let mut next = 0usize;
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..same.len()).filter(|&i| same[i] == class).collect();
        rng.shuffle(&mut idx);
        for i in idx {
            folds[i] = next;
            next = (next + 1) % k;
        }
    }
    Some(folds)
}

/// Result of the k-fold verification protocol (see [`verification`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// Mean held-out accuracy over folds.
    pub accuracy_mean: f64,
    /// Sample standard deviation (n − 1) of the held-out accuracies (NaN for one fold).
    pub accuracy_std: f64,
    /// Held-out accuracy of each fold.
    pub fold_accuracy: Vec<f64>,
    /// Accuracy-maximising threshold chosen on the other folds, for each fold.
    pub fold_threshold: Vec<f32>,
    /// VAL at FAR = 0.1 % ([`FAR_0_1_PERCENT`]), mean over folds, measured on the held-out folds.
    pub val_far_0_1: f64,
    /// VAL at FAR = 1 % ([`FAR_1_PERCENT`]), mean over folds, measured on the held-out folds.
    pub val_far_1: f64,
    /// Sample standard deviation (n − 1) of VAL at FAR = 0.1 % over folds.
    pub val_far_0_1_std: f64,
    /// Sample standard deviation (n − 1) of VAL at FAR = 1 % over folds.
    pub val_far_1_std: f64,
    /// Mean of the per-fold AUCs (each computed on the fold's own pairs).
    pub auc_mean: f64,
    /// Sample standard deviation (n − 1) of the per-fold AUCs.
    pub auc_std: f64,
    /// ROC curve over all pairs (at most [`MAX_ROC_POINTS`] points, from (0,0) to (1,1)), for plotting.
    pub roc: Vec<RocPoint>,
    /// Mean of `fold_threshold`.
    pub mean_threshold: f32,
}

/// One point of a ROC curve: false accept rate and true accept rate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RocPoint {
    pub far: f64,
    pub tar: f64,
}

/// Distances grouped by distinct value, in ascending order: (distance, same count, different count).
fn distance_groups<'a>(pairs: impl Iterator<Item = &'a ScoredPair>) -> Vec<(f32, usize, usize)> {
    let mut v: Vec<(f32, bool)> = pairs.map(|p| (p.distance, p.same)).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut groups: Vec<(f32, usize, usize)> = Vec::new();
    for (d, same) in v {
        match groups.last_mut() {
            Some(g) if g.0 == d => {
                if same {
                    g.1 += 1;
                } else {
                    g.2 += 1;
                }
            }
            _ => groups.push((d, usize::from(same), usize::from(!same))),
        }
    }
    groups
}

/// Candidate thresholds for grouped distances `d_0 < … < d_{m-1}`: the threshold after accepting the
/// first `j` groups (`j = 0..=m`), with "same" predicted when `distance < t`:
/// `j = 0` → `d_0` (the low end: accepts nothing), `0 < j < m` → midpoint of `d_{j-1}` and `d_j`,
/// `j = m` → the next `f32` above `d_{m-1}` (the high end: accepts everything).
fn candidate_threshold(groups: &[(f32, usize, usize)], j: usize) -> f32 {
    if j == 0 {
        groups.first().map_or(0.0, |g| g.0)
    } else if j >= groups.len() {
        groups.last().map_or(0.0, |g| g.0.next_up())
    } else {
        let lo = f64::from(groups[j - 1].0);
        let hi = f64::from(groups[j].0);
        let mid = (0.5 * (lo + hi)) as f32;
        // Keep `lo < mid <= hi` even if rounding lands on `lo`.
        if mid > groups[j - 1].0 {
            mid
        } else {
            groups[j].0
        }
    }
}

/// Accuracy-maximising threshold on `pairs` (predict "same" when `distance < t`). Candidates are the
/// midpoints between sorted distinct distances plus both ends (see
/// [`verification`]); among equally accurate candidates the smallest is taken (as `numpy.argmax`
/// does in the authors' code). Returns `None` for an empty input.
pub fn best_threshold(pairs: &[ScoredPair]) -> Option<f32> {
    let groups = distance_groups(pairs.iter());
    if groups.is_empty() {
        return None;
    }
    let n_diff: usize = groups.iter().map(|g| g.2).sum();
    // Correct predictions after accepting j groups = TP(j) + TN(j) = TP(j) + n_diff - FA(j).
    let (mut tp, mut fa) = (0usize, 0usize);
    let mut best = (n_diff, 0usize); // (correct, j)
    for (j, g) in groups.iter().enumerate() {
        tp += g.1;
        fa += g.2;
        let correct = tp + n_diff - fa;
        if correct > best.0 {
            best = (correct, j + 1);
        }
    }
    Some(candidate_threshold(&groups, best.1))
}

/// Largest candidate threshold (same candidates as [`best_threshold`]) whose false accept rate on
/// `pairs` (different pairs with `distance < t` / different pairs) is `<= target_far`. Returns `None`
/// when `pairs` is empty or has no different pairs.
pub fn threshold_at_far(pairs: &[ScoredPair], target_far: f64) -> Option<f32> {
    let groups = distance_groups(pairs.iter());
    let n_diff: usize = groups.iter().map(|g| g.2).sum();
    if n_diff == 0 {
        return None;
    }
    let mut fa = 0usize;
    let mut best_j = 0usize; // accepting nothing always has FAR 0
    for (j, g) in groups.iter().enumerate() {
        fa += g.2;
        if (fa as f64) <= target_far * n_diff as f64 {
            best_j = j + 1;
        } else {
            break;
        }
    }
    Some(candidate_threshold(&groups, best_j))
}

/// Exact area under the ROC curve for distances (smaller = more likely the same person), ties between
/// a same and a different pair counted one half (Mann–Whitney U). Equals
/// `sklearn.metrics.roc_auc_score(same, -distance)`. Errors when there is no same or no different
/// pair, or a distance is non-finite.
pub fn auc(pairs: &[ScoredPair]) -> Result<f64, String> {
    if let Some(p) = pairs.iter().find(|p| !p.distance.is_finite()) {
        return Err(format!("auc: non-finite distance {}", p.distance));
    }
    let groups = distance_groups(pairs.iter());
    let n_same: usize = groups.iter().map(|g| g.1).sum();
    let n_diff: usize = groups.iter().map(|g| g.2).sum();
    if n_same == 0 || n_diff == 0 {
        return Err(format!(
            "auc: needs both same and different pairs (got {n_same} same, {n_diff} different)"
        ));
    }
    // For each different pair: same pairs strictly closer count 1, same pairs at equal distance ½.
    let mut same_before = 0usize;
    let mut u2 = 0u128; // twice the U statistic, kept exact
    for &(_, s, d) in &groups {
        u2 += (d as u128) * (2 * same_before as u128 + s as u128);
        same_before += s;
    }
    Ok(u2 as f64 / (2.0 * n_same as f64 * n_diff as f64))
}

/// Full ROC over `pairs` (one point per distinct distance, from (0,0) to (1,1)), thinned to at most
/// `max_points` points, always keeping the first and the last.
fn roc_curve(pairs: &[ScoredPair], max_points: usize) -> Vec<RocPoint> {
    let groups = distance_groups(pairs.iter());
    let n_same: usize = groups.iter().map(|g| g.1).sum();
    let n_diff: usize = groups.iter().map(|g| g.2).sum();
    let rate = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let mut full = Vec::with_capacity(groups.len() + 1);
    full.push(RocPoint { far: 0.0, tar: 0.0 });
    let (mut ta, mut fa) = (0usize, 0usize);
    for &(_, s, d) in &groups {
        ta += s;
        fa += d;
        full.push(RocPoint {
            far: rate(fa, n_diff),
            tar: rate(ta, n_same),
        });
    }
    if full.len() <= max_points || max_points < 2 {
        return full;
    }
    let last = full.len() - 1;
    (0..max_points)
        .map(|i| full[(i * last + (max_points - 1) / 2) / (max_points - 1)])
        .collect()
}

/// k-fold verification protocol on pairs already carrying folds (`0..folds`, `folds >= 2`).
///
/// For each fold `f`:
/// * **accuracy**: the accuracy-maximising threshold ([`best_threshold`]: predict "same" when
///   `distance < t`; candidates = midpoints between sorted distinct distances of the training folds,
///   plus both ends — the smallest training distance, which accepts nothing, and the next `f32` above
///   the largest, which accepts everything; ties → smallest threshold) is chosen on the other folds
///   and applied to fold `f`;
/// * **VAL@FAR** ([`threshold_at_far`]): on the other folds the largest candidate threshold whose FAR
///   (false accepts / different pairs) is `<= target` is picked, then VAL (true accepts / same pairs)
///   is measured **on the held-out fold** (the authors measured it on the training folds: a bug);
/// * **AUC** ([`auc`]): exact, ties counted half (Mann–Whitney), on the fold's own pairs.
///
/// Reported as mean ± **sample** standard deviation (n − 1) over folds. The ROC is computed over
/// all pairs together.
///
/// Errors when `pairs` is empty, a distance is non-finite, there are fewer than 2 folds, or a fold
/// has no same or no different pairs.
pub fn verification(pairs: &[ScoredPair]) -> Result<Verification, String> {
    if pairs.is_empty() {
        return Err("verification: no pairs".to_string());
    }
    if let Some((i, p)) = pairs
        .iter()
        .enumerate()
        .find(|(_, p)| !p.distance.is_finite())
    {
        return Err(format!(
            "verification: pair {i} has a non-finite distance ({})",
            p.distance
        ));
    }
    let folds = pairs.iter().map(|p| p.fold).max().map_or(0, |m| m + 1);
    if folds < 2 {
        return Err(format!(
            "verification: needs at least 2 folds, got {folds} (assign folds with assign_folds)"
        ));
    }
    for f in 0..folds {
        let n_same = pairs.iter().filter(|p| p.fold == f && p.same).count();
        let n_diff = pairs.iter().filter(|p| p.fold == f && !p.same).count();
        if n_same == 0 || n_diff == 0 {
            return Err(format!(
                "verification: fold {f} of {folds} has {n_same} same and {n_diff} different pairs; \
                 every fold needs at least one of each"
            ));
        }
    }

    let mut fold_accuracy = Vec::with_capacity(folds);
    let mut fold_threshold = Vec::with_capacity(folds);
    let mut val_0_1 = Vec::with_capacity(folds);
    let mut val_1 = Vec::with_capacity(folds);
    let mut aucs = Vec::with_capacity(folds);
    for f in 0..folds {
        let train: Vec<ScoredPair> = pairs.iter().copied().filter(|p| p.fold != f).collect();
        let test: Vec<ScoredPair> = pairs.iter().copied().filter(|p| p.fold == f).collect();
        let t = best_threshold(&train)
            .ok_or_else(|| format!("verification: fold {f} has an empty training set"))?;
        let correct = test.iter().filter(|p| (p.distance < t) == p.same).count();
        fold_accuracy.push(correct as f64 / test.len() as f64);
        fold_threshold.push(t);
        for (target, out) in [(FAR_0_1_PERCENT, &mut val_0_1), (FAR_1_PERCENT, &mut val_1)] {
            let tf = threshold_at_far(&train, target).ok_or_else(|| {
                format!("verification: training folds of fold {f} have no different pairs")
            })?;
            out.push(val_on(&test, tf));
        }
        aucs.push(auc(&test)?);
    }

    let (accuracy_mean, accuracy_std) = mean_sd(&fold_accuracy);
    let (val_far_0_1, val_far_0_1_std) = mean_sd(&val_0_1);
    let (val_far_1, val_far_1_std) = mean_sd(&val_1);
    let (auc_mean, auc_std) = mean_sd(&aucs);
    let thresholds: Vec<f64> = fold_threshold.iter().map(|&t| f64::from(t)).collect();
    let mean_threshold = mean_sd(&thresholds).0 as f32;
    Ok(Verification {
        accuracy_mean,
        accuracy_std,
        fold_accuracy,
        fold_threshold,
        val_far_0_1,
        val_far_1,
        val_far_0_1_std,
        val_far_1_std,
        auc_mean,
        auc_std,
        roc: roc_curve(pairs, MAX_ROC_POINTS),
        mean_threshold,
    })
}

/// Verification of pairs whose thresholds are chosen on other pairs: a published protocol's
/// fold, scored with thresholds chosen on `calibration` (e.g. View 2's other folds).
///
/// The accuracy-maximising threshold ([`best_threshold`]) and the VAL@FAR thresholds
/// ([`threshold_at_far`]) are chosen once on `calibration` and applied to every fold of `test`
/// (the folds it lists, whatever their numbers); AUC is each test fold's own. Reported as mean ±
/// sample standard deviation over the test folds (NaN for one fold). The ROC is over `test`.
///
/// Errors when either set is empty, a distance is non-finite, a test fold has no same or no
/// different pair, or `calibration` has no different pair.
pub fn verification_calibrated(
    test: &[ScoredPair],
    calibration: &[ScoredPair],
) -> Result<Verification, String> {
    if test.is_empty() || calibration.is_empty() {
        return Err(format!(
            "verification: {} pairs to score and {} to choose thresholds on; both are needed",
            test.len(),
            calibration.len()
        ));
    }
    if let Some(p) = test
        .iter()
        .chain(calibration)
        .find(|p| !p.distance.is_finite())
    {
        return Err(format!(
            "verification: a pair has a non-finite distance ({})",
            p.distance
        ));
    }
    let folds: std::collections::BTreeSet<usize> = test.iter().map(|p| p.fold).collect();
    let t = best_threshold(calibration)
        .ok_or_else(|| "verification: no pair to choose the threshold on".to_string())?;
    let far_thresholds = [FAR_0_1_PERCENT, FAR_1_PERCENT].map(|target| {
        threshold_at_far(calibration, target)
            .ok_or_else(|| "verification: no different pair to choose thresholds on".to_string())
    });
    let [t_0_1, t_1] = far_thresholds;
    let (t_0_1, t_1) = (t_0_1?, t_1?);
    let mut fold_accuracy = Vec::with_capacity(folds.len());
    let (mut val_0_1, mut val_1, mut aucs) = (Vec::new(), Vec::new(), Vec::new());
    for &f in &folds {
        let fold: Vec<ScoredPair> = test.iter().copied().filter(|p| p.fold == f).collect();
        let n_same = fold.iter().filter(|p| p.same).count();
        if n_same == 0 || n_same == fold.len() {
            return Err(format!(
                "verification: fold {} has {n_same} same and {} different pairs; every fold needs at least one of each",
                f + 1,
                fold.len() - n_same
            ));
        }
        let correct = fold.iter().filter(|p| (p.distance < t) == p.same).count();
        fold_accuracy.push(correct as f64 / fold.len() as f64);
        val_0_1.push(val_on(&fold, t_0_1));
        val_1.push(val_on(&fold, t_1));
        aucs.push(auc(&fold)?);
    }
    let (accuracy_mean, accuracy_std) = mean_sd(&fold_accuracy);
    let (val_far_0_1, val_far_0_1_std) = mean_sd(&val_0_1);
    let (val_far_1, val_far_1_std) = mean_sd(&val_1);
    let (auc_mean, auc_std) = mean_sd(&aucs);
    Ok(Verification {
        accuracy_mean,
        accuracy_std,
        fold_threshold: vec![t; fold_accuracy.len()],
        fold_accuracy,
        val_far_0_1,
        val_far_1,
        val_far_0_1_std,
        val_far_1_std,
        auc_mean,
        auc_std,
        roc: roc_curve(test, MAX_ROC_POINTS),
        mean_threshold: t,
    })
}

/// VAL (true accepts / same pairs) of `pairs` at threshold `t`; 0 when there is no same pair.
fn val_on(pairs: &[ScoredPair], t: f32) -> f64 {
    let n_same = pairs.iter().filter(|p| p.same).count();
    if n_same == 0 {
        return 0.0;
    }
    let ta = pairs.iter().filter(|p| p.same && p.distance < t).count();
    ta as f64 / n_same as f64
}

/// Top-1 accuracy of class scores (row-major n×k logits) against labels.
///
/// The predicted class is the first maximum of each row (NaN never wins). Rows are paired with
/// labels up to the shorter of the two (a length mismatch is a caller bug, checked in debug builds).
/// Returns 0 for no rows or `classes == 0`.
pub fn top1_accuracy(logits: &[f32], classes: usize, labels: &[usize]) -> f64 {
    if classes == 0 || labels.is_empty() {
        return 0.0;
    }
    debug_assert_eq!(logits.len(), classes * labels.len(), "top1_accuracy: shape");
    let mut n = 0usize;
    let mut hits = 0usize;
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        n += 1;
        let mut best = 0usize;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] || (row[best].is_nan() && !v.is_nan()) {
                best = j;
            }
        }
        if best == label {
            hits += 1;
        }
    }
    if n == 0 { 0.0 } else { hits as f64 / n as f64 }
}

/// Cumulative match characteristic of an identification run (see [`cmc`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cmc {
    /// `rank_hits[k-1]` = share of evaluated probes whose true identity is among the k nearest
    /// gallery identities.
    pub rank_hits: Vec<f64>,
    /// Number of evaluated probes (identity present in the gallery).
    pub probes: usize,
    /// Number of probes skipped because their identity is absent from the gallery.
    pub skipped_probes: usize,
}

/// Per-probe ranking of gallery identities.
struct Ranking {
    /// (min distance, gallery index of the best image, identity) for every gallery identity,
    /// unsorted.
    per_identity: Vec<(f32, usize, usize)>,
    /// Index in `per_identity` of the probe's true identity, if present in the gallery.
    true_slot: Option<usize>,
}

impl Ranking {
    /// Ordering of identities: by distance (`total_cmp`, NaN last), ties resolved **against** the true
    /// identity (pessimistic), then by best gallery index.
    fn cmp(&self, a: usize, b: usize) -> Ordering {
        let (da, ia, _) = self.per_identity[a];
        let (db, ib, _) = self.per_identity[b];
        let ta = Some(a) == self.true_slot;
        let tb = Some(b) == self.true_slot;
        da.total_cmp(&db).then(ta.cmp(&tb)).then(ia.cmp(&ib))
    }

    /// 1-based rank of the true identity.
    fn true_rank(&self) -> Option<usize> {
        let t = self.true_slot?;
        let ahead = (0..self.per_identity.len())
            .filter(|&j| j != t && self.cmp(j, t) == Ordering::Less)
            .count();
        Some(ahead + 1)
    }
}

/// Ranks the gallery identities for each probe (parallel over probes).
fn rankings(
    probes: &[f32],
    probe_ids: &[usize],
    gallery: &[f32],
    gallery_ids: &[usize],
    dim: usize,
) -> Vec<Ranking> {
    if dim == 0 {
        return Vec::new();
    }
    debug_assert_eq!(probes.len(), probe_ids.len() * dim, "probes shape");
    debug_assert_eq!(gallery.len(), gallery_ids.len() * dim, "gallery shape");
    let gallery_rows: Vec<(&[f32], usize)> = gallery
        .chunks_exact(dim)
        .zip(gallery_ids.iter().copied())
        .collect();
    // Identity -> slot, in ascending identity order.
    let slots: BTreeMap<usize, usize> = {
        let mut ids: Vec<usize> = gallery_rows.iter().map(|r| r.1).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().enumerate().map(|(s, id)| (id, s)).collect()
    };
    let gallery_slots: Vec<usize> = gallery_rows
        .iter()
        .map(|r| slots.get(&r.1).copied().unwrap_or(0))
        .collect();
    let identities: Vec<usize> = slots.keys().copied().collect();
    probes
        .par_chunks_exact(dim)
        .zip(probe_ids.par_iter())
        .map(|(probe, pid)| {
            let mut per_identity: Vec<(f32, usize, usize)> = identities
                .iter()
                .map(|&id| (f32::NAN, usize::MAX, id))
                .collect();
            for (g, ((row, _), &slot)) in gallery_rows.iter().zip(&gallery_slots).enumerate() {
                let d = squared_distance(probe, row);
                let e = &mut per_identity[slot];
                if e.1 == usize::MAX || d.total_cmp(&e.0) == Ordering::Less {
                    *e = (d, g, e.2);
                }
            }
            Ranking {
                per_identity,
                true_slot: slots.get(pid).copied(),
            }
        })
        .collect()
}

/// CMC for identification: probes and gallery are embeddings (row-major, dim `dim`) with identity
/// labels. Identities are ranked by their nearest gallery image (min squared distance); the result's
/// `rank_hits[k-1]` = share of probes whose true identity is among the k nearest gallery IDENTITIES
/// (k = 1..=max_rank). Probes whose identity is absent from the gallery are skipped and counted in
/// `skipped_probes`.
///
/// A hit at rank k iff the true identity is within the first k (the authors' rank-10 aggregation gave
/// ≈ 100 %: a bug). Exact distance ties are resolved against the true identity, so a collapsed
/// embedding cannot score hits by luck. With no evaluated probe (or `dim == 0`), every `rank_hits`
/// entry is 0. Parallel over probes (rayon).
pub fn cmc(
    probes: &[f32],
    probe_ids: &[usize],
    gallery: &[f32],
    gallery_ids: &[usize],
    dim: usize,
    max_rank: usize,
) -> Cmc {
    let ranks: Vec<Option<usize>> = rankings(probes, probe_ids, gallery, gallery_ids, dim)
        .iter()
        .map(Ranking::true_rank)
        .collect();
    let evaluated = ranks.iter().filter(|r| r.is_some()).count();
    let skipped_probes = ranks.len() - evaluated;
    let mut counts = vec![0usize; max_rank];
    for r in ranks.iter().flatten() {
        if let Some(c) = counts.get_mut(r - 1) {
            *c += 1;
        }
    }
    let mut cumulative = 0usize;
    let rank_hits = counts
        .iter()
        .map(|&c| {
            cumulative += c;
            if evaluated == 0 {
                0.0
            } else {
                cumulative as f64 / evaluated as f64
            }
        })
        .collect();
    Cmc {
        rank_hits,
        probes: evaluated,
        skipped_probes,
    }
}

/// Per-probe detail for the failure inspector (see [`rank_probes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    /// Index of the probe (row of `probes`).
    pub probe: usize,
    /// 1-based rank of the true identity among gallery identities; `None` if absent from the gallery.
    pub true_rank: Option<usize>,
    /// Up to `k` gallery image indices with their squared distances, nearest first, one best image
    /// per identity.
    pub top: Vec<(usize, f32)>,
}

/// Per-probe detail for the failure inspector: for each probe, rank of the true identity (1-based,
/// `None` if absent), and the top-`k` gallery image indices (nearest first, one best image per
/// identity) with distances. The order is the one [`cmc`] uses (ties resolved against the true
/// identity, then by gallery index), so `true_rank <= k` iff the true identity's image is in `top`.
pub fn rank_probes(
    probes: &[f32],
    probe_ids: &[usize],
    gallery: &[f32],
    gallery_ids: &[usize],
    dim: usize,
    k: usize,
) -> Vec<ProbeResult> {
    rankings(probes, probe_ids, gallery, gallery_ids, dim)
        .into_iter()
        .enumerate()
        .map(|(probe, r)| {
            let mut order: Vec<usize> = (0..r.per_identity.len()).collect();
            order.sort_by(|&a, &b| r.cmp(a, b));
            let top = order
                .iter()
                .take(k)
                .map(|&s| (r.per_identity[s].1, r.per_identity[s].0))
                .collect();
            ProbeResult {
                probe,
                true_rank: r.true_rank(),
                top,
            }
        })
        .collect()
}

/// A mined verification failure.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub a: usize,
    pub b: usize,
    pub distance: f32,
    /// `|distance - threshold|`.
    pub margin: f32,
}

/// Failure mining at threshold `threshold`: false positives (different people, distance < t) sorted by
/// distance ascending (worst first), false negatives (same person, distance >= t) sorted by distance
/// descending (worst first); margin = |distance - t|. Input: pairs as (a, b, distance, same). Equal
/// distances keep their input order; NaN distances are never reported (they are neither `< t` nor
/// `>= t`).
pub fn mine_failures(
    pairs: &[(usize, usize, f32, bool)],
    threshold: f32,
) -> (Vec<Failure>, Vec<Failure>) {
    let failure = |&(a, b, distance, _): &(usize, usize, f32, bool)| Failure {
        a,
        b,
        distance,
        margin: (distance - threshold).abs(),
    };
    let mut fp: Vec<Failure> = pairs
        .iter()
        .filter(|p| !p.3 && p.2 < threshold)
        .map(failure)
        .collect();
    let mut fneg: Vec<Failure> = pairs
        .iter()
        .filter(|p| p.3 && p.2 >= threshold)
        .map(failure)
        .collect();
    fp.sort_by(|x, y| x.distance.total_cmp(&y.distance));
    fneg.sort_by(|x, y| y.distance.total_cmp(&x.distance));
    (fp, fneg)
}

/// Build caricature–photo verification pairs from labelled samples deterministically: for each
/// identity, up to `per_identity` matched (caricature, photo) pairs and the same number of mismatched
/// (caricature of this identity, photo of another identity) pairs, then folds assigned by
/// [`assign_folds`] with k = 10. Input: (sample index, identity, is_caricature). Output:
/// (caricature sample, photo sample, same, fold).
///
/// Identities are visited in ascending order; identities without a caricature or without a photo
/// give no pair. Matched pairs are drawn without repetition from all (caricature, photo)
/// combinations of the identity; mismatched pairs are drawn without repetition too (fewer only if
/// not enough distinct combinations exist). The same inputs and seed always give the same output.
pub fn make_cross_modal_pairs(
    samples: &[(usize, usize, bool)],
    per_identity: usize,
    seed: u64,
) -> Vec<(usize, usize, bool, usize)> {
    // identity -> (caricatures, photos), sample indices sorted for input-order independence.
    let mut by_id: BTreeMap<usize, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for &(sample, id, is_cari) in samples {
        let e = by_id.entry(id).or_default();
        if is_cari {
            e.0.push(sample);
        } else {
            e.1.push(sample);
        }
    }
    for (c, p) in by_id.values_mut() {
        c.sort_unstable();
        c.dedup();
        p.sort_unstable();
        p.dedup();
    }
    // All photos with their identity, in ascending identity then sample order.
    let all_photos: Vec<(usize, usize)> = by_id
        .iter()
        .flat_map(|(&id, (_, p))| p.iter().map(move |&s| (s, id)))
        .collect();

    let mut rng = SplitMix64(seed);
    let mut out: Vec<(usize, usize, bool)> = Vec::new();
    for (&id, (caris, photos)) in &by_id {
        if caris.is_empty() || photos.is_empty() {
            continue;
        }
        // Matched pairs.
        let mut combos: Vec<(usize, usize)> = caris
            .iter()
            .flat_map(|&c| photos.iter().map(move |&p| (c, p)))
            .collect();
        rng.shuffle(&mut combos);
        combos.truncate(per_identity);
        let wanted = combos.len();
        out.extend(combos.into_iter().map(|(c, p)| (c, p, true)));

        // Mismatched pairs: a caricature of `id` with a photo of another identity.
        let others: Vec<usize> = all_photos
            .iter()
            .filter(|&&(_, pid)| pid != id)
            .map(|&(s, _)| s)
            .collect();
        let possible = caris.len().saturating_mul(others.len());
        if wanted == 0 || possible == 0 {
            continue;
        }
        let take = wanted.min(possible);
        if possible <= 4 * take {
            let mut all: Vec<(usize, usize)> = caris
                .iter()
                .flat_map(|&c| others.iter().map(move |&p| (c, p)))
                .collect();
            rng.shuffle(&mut all);
            out.extend(all.into_iter().take(take).map(|(c, p)| (c, p, false)));
        } else {
            // Rejection sampling: at most a quarter of draws can collide.
            let mut seen: HashSet<(usize, usize)> = HashSet::with_capacity(take);
            while seen.len() < take {
                let c = caris[rng.below(caris.len())];
                let p = others[rng.below(others.len())];
                if seen.insert((c, p)) {
                    out.push((c, p, false));
                }
            }
        }
    }

    let mut scored: Vec<ScoredPair> = out
        .iter()
        .map(|&(_, _, same)| ScoredPair {
            distance: 0.0,
            same,
            fold: 0,
        })
        .collect();
    assign_folds(&mut scored, 10, seed ^ 0xF01D_5EED_0000_0010);
    out.into_iter()
        .zip(scored)
        .map(|((c, p, same), s)| (c, p, same, s.fold))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn assert_close(a: f64, b: f64, tol: f64) {
        assert!(close(a, b, tol), "{a} != {b} (tol {tol})");
    }

    fn pairs_from(d: &[f32], same: &[bool], fold: &[usize]) -> Vec<ScoredPair> {
        d.iter()
            .zip(same)
            .zip(fold)
            .map(|((&distance, &same), &fold)| ScoredPair {
                distance,
                same,
                fold,
            })
            .collect()
    }

    #[test]
    fn calibrated_verification_uses_the_calibration_thresholds_on_the_test_fold() {
        // Calibration: same at 0.1, 0.2; different at 0.6, 0.8 → best threshold 0.4 (midpoint).
        let calibration = pairs_from(&[0.1, 0.2, 0.6, 0.8], &[true, true, false, false], &[9; 4]);
        // Test fold 2 (listed fold 3): same at 0.3 and 0.5, different at 0.45 and 0.9. At 0.4:
        // 0.3 accepted (right), 0.5 rejected (wrong), 0.45 rejected (right), 0.9 (right) → 3/4.
        let test = pairs_from(&[0.3, 0.5, 0.45, 0.9], &[true, true, false, false], &[2; 4]);
        let v = verification_calibrated(&test, &calibration).unwrap();
        assert_close(v.accuracy_mean, 0.75, 1e-12);
        assert!(v.accuracy_std.is_nan(), "one fold has no sd");
        assert_eq!(v.fold_accuracy, vec![0.75]);
        assert!((v.mean_threshold - 0.4).abs() < 1e-6);
        // FAR ≤ 1 % on calibration: accept below the first different pair → threshold 0.4 too.
        assert_close(v.val_far_1, 0.5, 1e-12);
        // AUC on the test fold alone: same {0.3, 0.5} vs different {0.45, 0.9}: 3 of 4 orderings.
        assert_close(v.auc_mean, 0.75, 1e-12);
        // The test fold's own distances never move the threshold.
        let shifted = pairs_from(&[0.3, 0.5, 0.01, 0.9], &[true, true, false, false], &[2; 4]);
        let w = verification_calibrated(&shifted, &calibration).unwrap();
        assert_eq!(w.mean_threshold, v.mean_threshold);
        // A test fold without different pairs is refused, naming it 1-based.
        let only_same = pairs_from(&[0.3, 0.5], &[true, true], &[2; 2]);
        let err = verification_calibrated(&only_same, &calibration).unwrap_err();
        assert!(err.contains("fold 3 has 2 same and 0 different"), "{err}");
        assert!(verification_calibrated(&test, &[]).is_err());
    }

    #[test]
    fn squared_distance_and_normalise() {
        assert_eq!(squared_distance(&[1.0, 2.0, 3.0], &[4.0, 6.0, 3.0]), 25.0);
        // Longer than one 8-lane chunk: sum of (i - 2i)^2 = sum i^2 for i < 19 = 2109.
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b: Vec<f32> = a.iter().map(|x| 2.0 * x).collect();
        assert_eq!(squared_distance(&a, &b), 2109.0);
        let mut rows = vec![3.0, 4.0, 0.0, 0.0, 0.0, -2.0];
        l2_normalise_rows(&mut rows, 2);
        assert_eq!(rows, vec![0.6, 0.8, 0.0, 0.0, 0.0, -1.0]);
        // Unit vectors: squared distance = 2 - 2 cos.
        let d = squared_distance(&rows[0..2], &rows[4..6]);
        assert!((d - (2.0 + 2.0 * 0.8)).abs() < 1e-6);
    }

    // Reference (numpy 2.4.6, scikit-learn 1.9.1):
    //   import numpy as np; from sklearn.metrics import roc_auc_score
    //   d = np.array([0.5, 0.5, 0.5, 1.0, 1.0, 2.0, 0.25, 2.0, 1.0, 0.5], dtype=np.float32)
    //   y = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 0])
    //   roc_auc_score(y, -d)  # 0.62
    #[test]
    fn auc_with_ties_matches_sklearn() {
        let d = [0.5, 0.5, 0.5, 1.0, 1.0, 2.0, 0.25, 2.0, 1.0, 0.5];
        let y = [
            true, false, true, false, true, false, true, true, false, false,
        ];
        let p = pairs_from(&d, &y, &[0; 10]);
        assert_close(auc(&p).unwrap(), 0.62, 1e-12);
        // All tied: 0.5; perfectly separated: 1; reversed: 0.
        let p = pairs_from(&[1.0; 4], &[true, false, true, false], &[0; 4]);
        assert_close(auc(&p).unwrap(), 0.5, 1e-12);
        let p = pairs_from(&[0.1, 0.2, 0.3], &[true, false, false], &[0; 3]);
        assert_close(auc(&p).unwrap(), 1.0, 1e-12);
        let p = pairs_from(&[0.9, 0.2, 0.3], &[true, false, false], &[0; 3]);
        assert_close(auc(&p).unwrap(), 0.0, 1e-12);
        assert!(auc(&pairs_from(&[0.1], &[true], &[0])).is_err());
        assert!(auc(&pairs_from(&[f32::NAN, 0.1], &[true, false], &[0, 0])).is_err());
    }

    // 10 folds × (6 same + 6 different), distances k/128 (exact in f32 and f64, so are midpoints).
    const SAME: [[u16; 6]; 10] = [
        [115, 129, 103, 75, 95, 71],
        [120, 74, 114, 146, 55, 95],
        [122, 107, 2, 91, 113, 120],
        [114, 155, 89, 110, 120, 118],
        [86, 205, 149, 61, 119, 141],
        [124, 94, 121, 62, 89, 106],
        [94, 111, 172, 146, 101, 99],
        [106, 65, 115, 95, 167, 144],
        [57, 131, 40, 24, 102, 75],
        [107, 106, 147, 138, 69, 112],
    ];
    const DIFF: [[u16; 6]; 10] = [
        [195, 252, 170, 164, 214, 208],
        [107, 134, 109, 181, 135, 204],
        [122, 171, 148, 156, 240, 156],
        [137, 195, 253, 120, 231, 197],
        [184, 223, 189, 222, 256, 162],
        [232, 243, 133, 156, 221, 106],
        [181, 260, 173, 178, 208, 187],
        [191, 222, 177, 239, 192, 218],
        [199, 293, 155, 164, 201, 214],
        [194, 145, 204, 154, 236, 201],
    ];

    fn ten_fold_pairs() -> Vec<ScoredPair> {
        let mut v = Vec::new();
        for f in 0..10 {
            for (ks, same) in [(&SAME[f], true), (&DIFF[f], false)] {
                for &k in ks {
                    v.push(ScoredPair {
                        distance: f32::from(k) / 128.0,
                        same,
                        fold: f,
                    });
                }
            }
        }
        v
    }

    // Reference (numpy 2.4.6, scikit-learn 1.9.1), brute force over every candidate threshold;
    // SAME / DIFF are the two tables above (as Python lists):
    //   import numpy as np; from sklearn.metrics import roc_auc_score, roc_curve
    //   d = np.array([k / 128 for f in range(10) for k in SAME[f] + DIFF[f]])
    //   same = np.array([x for f in range(10) for x in [True] * 6 + [False] * 6])
    //   fold = np.repeat(np.arange(10), 12)
    //   def cands(x):
    //       u = np.unique(x)
    //       hi = float(np.nextafter(np.float32(u[-1]), np.float32(np.inf)))
    //       return np.concatenate([[u[0]], (u[:-1] + u[1:]) / 2, [hi]])
    //   acc, thr, v01, v1, vtrain1, aucs = [], [], [], [], [], []
    //   for f in range(10):
    //       tr, te = fold != f, fold == f
    //       c = cands(d[tr])
    //       a = np.array([np.mean((d[tr] < t) == same[tr]) for t in c])
    //       t = c[np.argmax(a)]                      # first (smallest) maximiser
    //       thr.append(t); acc.append(np.mean((d[te] < t) == same[te]))
    //       for target, out in [(0.001, v01), (0.01, v1)]:
    //           far = np.array([np.sum((d[tr] < t) & ~same[tr]) / np.sum(~same[tr]) for t in c])
    //           tf = c[far <= target].max()
    //           out.append(np.sum((d[te] < tf) & same[te]) / np.sum(same[te]))
    //           if target == 0.01:
    //               vtrain1.append(np.sum((d[tr] < tf) & same[tr]) / np.sum(same[tr]))  # authors' bug
    //       aucs.append(roc_auc_score(same[te], -d[te]))
    //   [t * 256 for t in thr]  # [295, 295, 303, 295, 264, 295, 264, 264, 295, 264]
    //   acc      # [1, 2/3, 5/6, 0.75, 0.75, 5/6, 5/6, 5/6, 1, 5/6]; mean 0.8333333333333334, sample sd 0.10393492741038726
    //   v01, v1  # both [4/6, 3/6, 2/6, 1/6, 2/6, 4/6, 3/6, 2/6, 5/6, 1/6]; mean 0.45, sample sd 0.22291558497487643
    //   np.mean(vtrain1)  # 0.437037037037037 (the authors' training-fold VAL)
    //   aucs     # [1, 0.7777777777777778, 0.986111111111111, 0.9305555555555556, 0.9166666666666667,
    //            #  0.9305555555555556, 1, 1, 1, 0.9722222222222223]; mean 0.951388888888889, sample sd 0.06936724103598008
    //   fpr, tpr, _ = roc_curve(same, -d, drop_intermediate=False)
    //   len(fpr)  # 93; second point (0, 1/60); second to last (59/60, 1)
    #[test]
    fn ten_fold_verification_matches_reference() {
        let v = verification(&ten_fold_pairs()).unwrap();
        let thr256: Vec<f32> = v.fold_threshold.iter().map(|t| t * 256.0).collect();
        assert_eq!(
            thr256,
            vec![
                295.0, 295.0, 303.0, 295.0, 264.0, 295.0, 264.0, 264.0, 295.0, 264.0
            ]
        );
        // The best threshold really differs between folds.
        let mut distinct = thr256.clone();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
        let acc = [
            1.0,
            4.0 / 6.0,
            5.0 / 6.0,
            0.75,
            0.75,
            5.0 / 6.0,
            5.0 / 6.0,
            5.0 / 6.0,
            1.0,
            5.0 / 6.0,
        ];
        assert_eq!(v.fold_accuracy.len(), 10);
        for (a, b) in v.fold_accuracy.iter().zip(acc) {
            assert_close(*a, b, 1e-12);
        }
        assert_close(v.accuracy_mean, 0.8333333333333334, 1e-12);
        assert_close(v.accuracy_std, 0.10393492741038726, 1e-12);
        assert_close(v.val_far_0_1, 0.45, 1e-12);
        assert_close(v.val_far_0_1_std, 0.22291558497487643, 1e-12);
        assert_close(v.val_far_1, 0.45, 1e-12);
        assert_close(v.val_far_1_std, 0.22291558497487643, 1e-12);
        assert!(!close(v.val_far_1, 0.437037037037037, 1e-6));
        assert_close(v.auc_mean, 0.951388888888889, 1e-12);
        assert_close(v.auc_std, 0.06936724103598008, 1e-12);
        let mean_thr = (5.0 * 295.0 + 303.0 + 4.0 * 264.0) / 2560.0;
        assert!((v.mean_threshold - mean_thr).abs() < 1e-6);
        assert_eq!(v.roc.len(), 93);
        assert_eq!(v.roc[0], RocPoint { far: 0.0, tar: 0.0 });
        assert_close(v.roc[1].far, 0.0, 1e-12);
        assert_close(v.roc[1].tar, 1.0 / 60.0, 1e-12);
        assert_close(v.roc[91].far, 59.0 / 60.0, 1e-12);
        assert_close(v.roc[91].tar, 1.0, 1e-12);
        assert_eq!(v.roc[92], RocPoint { far: 1.0, tar: 1.0 });
        // Serialisable for reports.
        let json = serde_json::to_string(&v).unwrap();
        let back: Verification = serde_json::from_str(&json).unwrap();
        assert_eq!(back.fold_threshold, v.fold_threshold);
        assert_eq!(back.roc.len(), v.roc.len());
        assert_close(back.auc_mean, v.auc_mean, 1e-12);
    }

    // VAL@FAR must be measured on the held-out fold. Hand-made 2-fold case where the training-fold
    // VAL (the authors' code) is 0.75 and the held-out VAL is 5/12.
    // Reference (numpy 2.4.6):
    //   d = np.array([0.25, 0.5, 0.75, 1.0, 1.25, 0.25, 1.5, 0.75, 2.0])
    //   same = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0], dtype=bool); fold = np.array([0]*5 + [1]*4)
    //   (cands as above) for f in range(2): tr, te = fold != f, fold == f; c = cands(d[tr])
    //       t = c[np.argmax([np.mean((d[tr] < t) == same[tr]) for t in c])]; acc = np.mean((d[te] < t) == same[te])
    //       far = np.array([np.sum((d[tr] < t) & ~same[tr]) / np.sum(~same[tr]) for t in c])
    //       tf = c[far <= 0.01].max()
    //       held = np.mean(d[te][same[te]] < tf); train_val = np.mean(d[tr][same[tr]] < tf)
    //   thresholds [0.5, 0.875], acc [0.6, 0.5]
    //   held-out VAL [1/3, 1/2] mean 0.41666666666666663 sample sd 0.11785113019775793
    //   training VAL (authors) [0.5, 1.0] mean 0.75
    #[test]
    fn val_at_far_is_measured_on_held_out_fold() {
        let p = pairs_from(
            &[0.25, 0.5, 0.75, 1.0, 1.25, 0.25, 1.5, 0.75, 2.0],
            &[true, true, true, false, false, true, true, false, false],
            &[0, 0, 0, 0, 0, 1, 1, 1, 1],
        );
        let v = verification(&p).unwrap();
        assert_eq!(v.fold_threshold, vec![0.5, 0.875]);
        assert_close(v.fold_accuracy[0], 0.6, 1e-12);
        assert_close(v.fold_accuracy[1], 0.5, 1e-12);
        for (mean, std) in [
            (v.val_far_1, v.val_far_1_std),
            (v.val_far_0_1, v.val_far_0_1_std),
        ] {
            assert_close(mean, 0.41666666666666663, 1e-12);
            assert_close(std, 0.11785113019775793, 1e-12);
            assert!(!close(mean, 0.75, 1e-6), "training-fold VAL (authors' bug)");
        }
        // The FAR thresholds themselves.
        let train0: Vec<ScoredPair> = p.iter().copied().filter(|q| q.fold != 0).collect();
        assert_eq!(threshold_at_far(&train0, 0.01), Some(0.5));
        assert_eq!(threshold_at_far(&train0, 0.5), Some(1.75));
        assert_eq!(threshold_at_far(&train0, 1.0), Some(2.0f32.next_up()));
    }

    #[test]
    fn verification_errors() {
        let one_fold = pairs_from(&[0.1, 0.9], &[true, false], &[0, 0]);
        assert!(
            verification(&one_fold)
                .unwrap_err()
                .contains("at least 2 folds")
        );
        assert!(verification(&[]).unwrap_err().contains("no pairs"));
        let no_same = pairs_from(&[0.1, 0.9, 0.8], &[true, false, false], &[0, 0, 1]);
        assert!(verification(&no_same).unwrap_err().contains("fold 1"));
        let no_diff = pairs_from(&[0.1, 0.9, 0.2], &[true, false, true], &[0, 0, 1]);
        assert!(verification(&no_diff).unwrap_err().contains("fold 1"));
        // A fold number that is skipped is an empty fold.
        let gap = pairs_from(
            &[0.1, 0.9, 0.2, 0.8],
            &[true, false, true, false],
            &[0, 0, 2, 2],
        );
        assert!(verification(&gap).unwrap_err().contains("fold 1"));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let p = pairs_from(
                &[0.1, bad, 0.2, 0.8],
                &[true, false, true, false],
                &[0, 0, 1, 1],
            );
            assert!(verification(&p).unwrap_err().contains("non-finite"));
        }
    }

    #[test]
    fn roc_is_thinned_to_200_points() {
        let p: Vec<ScoredPair> = (0..1000)
            .map(|i| ScoredPair {
                distance: i as f32 / 250.0,
                same: i % 3 == 0,
                fold: i % 10,
            })
            .collect();
        let v = verification(&p).unwrap();
        assert_eq!(v.roc.len(), MAX_ROC_POINTS);
        assert_eq!(v.roc[0], RocPoint { far: 0.0, tar: 0.0 });
        assert_eq!(v.roc[MAX_ROC_POINTS - 1], RocPoint { far: 1.0, tar: 1.0 });
        assert!(
            v.roc
                .windows(2)
                .all(|w| w[0].far <= w[1].far && w[0].tar <= w[1].tar)
        );
    }

    // Reference (numpy 2.4.6): L.argmax(1) takes the first maximum.
    //   L = np.array([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0], [0.0, 0.0, 0.5], [1.0, -2.0, 0.9]])
    //   np.mean(L.argmax(1) == [1, 1, 2, 2])  # 0.5
    #[test]
    fn top1() {
        let l = [0.1, 2.0, -1.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.5, 1.0, -2.0, 0.9];
        assert_close(top1_accuracy(&l, 3, &[1, 1, 2, 2]), 0.5, 1e-12);
        assert_close(top1_accuracy(&l, 3, &[1, 0, 2, 0]), 1.0, 1e-12);
        assert_close(top1_accuracy(&[f32::NAN, 1.0], 2, &[1]), 1.0, 1e-12);
        assert_eq!(top1_accuracy(&[], 3, &[]), 0.0);
    }

    // Reference (numpy 2.4.6): brute force, identity score = min distance over its images, ties
    // resolved against the true identity.
    //   G = np.array([[1, 0], [0, 1], [0.8, 0.6], [-1, 0]], dtype=np.float32); gid = [10, 20, 20, 30]
    //   P = np.array([[0.6, 0.8], [-0.6, -0.8], [1, 0], [0, 1]], dtype=np.float32); pid = [10, 30, 99, 20]
    //   D = ((P[:, None, :] - G[None, :, :]) ** 2).sum(-1)
    //   # D[0] = [0.8, 0.4, 0.08, 3.2]; D[3] = [2.0, 0.0, 0.8, 2.0]
    //   def ranks(D, gid, pid):
    //       out = []; ids = sorted(set(gid))
    //       for i, p in enumerate(pid):
    //           best = {g: min(D[i, j] for j in range(len(gid)) if gid[j] == g) for g in ids}
    //           if p not in best: out.append(None); continue
    //           out.append(1 + sum(1 for g in ids if g != p and best[g] <= best[p]))
    //       return out
    //   ranks(D, gid, pid)  # [2, 1, None, 1] -> CMC [2/3, 1, 1] over 3 probes, 1 skipped
    #[test]
    fn cmc_rank1_miss_rank2_hit() {
        let gallery = [1.0, 0.0, 0.0, 1.0, 0.8, 0.6, -1.0, 0.0];
        let gids = [10, 20, 20, 30];
        let probes = [0.6, 0.8, -0.6, -0.8, 1.0, 0.0, 0.0, 1.0];
        let pids = [10, 30, 99, 20];
        let c = cmc(&probes, &pids, &gallery, &gids, 2, 3);
        assert_eq!(c.probes, 3);
        assert_eq!(c.skipped_probes, 1);
        assert_close(c.rank_hits[0], 2.0 / 3.0, 1e-12);
        assert_close(c.rank_hits[1], 1.0, 1e-12);
        assert_close(c.rank_hits[2], 1.0, 1e-12);

        let r = rank_probes(&probes, &pids, &gallery, &gids, 2, 2);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].probe, 0);
        assert_eq!(r[0].true_rank, Some(2));
        // Identity 20 first via its best image (index 2), then identity 10 (image 0).
        assert_eq!(r[0].top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![2, 0]);
        assert!((r[0].top[0].1 - 0.08).abs() < 1e-6);
        assert!((r[0].top[1].1 - 0.8).abs() < 1e-6);
        assert_eq!(r[1].true_rank, Some(1));
        assert_eq!(r[1].top[0].0, 3);
        assert_eq!(r[2].true_rank, None);
        assert_eq!(r[2].top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(r[3].true_rank, Some(1));
        assert_eq!(r[3].top[0], (1, 0.0));
        // Probe 3's second identity: 10 and 30 tie at 2.0 -> lower gallery index first.
        assert_eq!(r[3].top[1].0, 0);
    }

    // Rank-10 must not be ~100 %: 12 identities at 30° steps on the unit circle.
    // Reference (numpy 2.4.6), `ranks` as above:
    //   ang = np.deg2rad(np.arange(12) * 30.0)
    //   G = np.stack([np.cos(ang), np.sin(ang)], 1).astype(np.float32); gid = list(range(12))
    //   pa = np.deg2rad([180.0, 40.0, 220.0]); pid = [0, 1, 2]
    //   P = np.stack([np.cos(pa), np.sin(pa)], 1).astype(np.float32)
    //   ranks(...)  # [12, 1, 11] -> CMC [1/3] * 10 + [2/3, 1]
    #[test]
    fn cmc_rank10_is_not_saturated() {
        let unit = |deg: f64| {
            let r = deg.to_radians();
            [r.cos() as f32, r.sin() as f32]
        };
        let gallery: Vec<f32> = (0..12).flat_map(|i| unit(30.0 * f64::from(i))).collect();
        let gids: Vec<usize> = (0..12).collect();
        let probes: Vec<f32> = [180.0, 40.0, 220.0].into_iter().flat_map(unit).collect();
        let pids = [0, 1, 2];
        let c = cmc(&probes, &pids, &gallery, &gids, 2, 12);
        assert_eq!((c.probes, c.skipped_probes), (3, 0));
        for k in 0..10 {
            assert_close(c.rank_hits[k], 1.0 / 3.0, 1e-12);
        }
        assert!(c.rank_hits[9] < 1.0);
        assert_close(c.rank_hits[10], 2.0 / 3.0, 1e-12);
        assert_close(c.rank_hits[11], 1.0, 1e-12);
        let ranks: Vec<_> = rank_probes(&probes, &pids, &gallery, &gids, 2, 10)
            .into_iter()
            .map(|r| (r.true_rank, r.top.len()))
            .collect();
        assert_eq!(ranks, vec![(Some(12), 10), (Some(1), 10), (Some(11), 10)]);
    }

    #[test]
    fn cmc_ties_count_against_the_truth_and_empty_cases() {
        // Collapsed embeddings: every identity at the same distance -> no lucky rank-1 hit.
        let gallery = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let c = cmc(&[1.0, 0.0, 1.0, 0.0], &[0, 2], &gallery, &[0, 1, 2], 2, 3);
        assert_eq!(c.rank_hits, vec![0.0, 0.0, 1.0]);
        let c = cmc(&[1.0, 0.0], &[7], &gallery, &[0, 1, 2], 2, 2);
        assert_eq!((c.probes, c.skipped_probes), (0, 1));
        assert_eq!(c.rank_hits, vec![0.0, 0.0]);
    }

    // Reference (Python 3):
    //   pairs = [(0,1,0.3,False),(2,3,0.9,False),(4,5,1.0,False),(6,7,1.0,True),(8,9,1.7,True),
    //            (10,11,0.5,True),(12,13,1.2,False),(14,15,0.1,False),(16,17,1.3,True)]; t = 1.0
    //   fp = sorted([p for p in pairs if not p[3] and p[2] < t], key=lambda p: p[2])
    //   fn = sorted([p for p in pairs if p[3] and p[2] >= t], key=lambda p: -p[2])
    //   # fp: (14,15,0.1, margin 0.9), (0,1,0.3, 0.7), (2,3,0.9, 0.1)
    //   # fn: (8,9,1.7, 0.7), (16,17,1.3, 0.3), (6,7,1.0, 0.0)
    #[test]
    fn failure_mining() {
        let pairs = [
            (0, 1, 0.3, false),
            (2, 3, 0.9, false),
            (4, 5, 1.0, false),
            (6, 7, 1.0, true),
            (8, 9, 1.7, true),
            (10, 11, 0.5, true),
            (12, 13, 1.2, false),
            (14, 15, 0.1, false),
            (16, 17, 1.3, true),
        ];
        let (fp, fneg) = mine_failures(&pairs, 1.0);
        let key = |f: &Failure| (f.a, f.b, f.distance);
        assert_eq!(
            fp.iter().map(key).collect::<Vec<_>>(),
            vec![(14, 15, 0.1), (0, 1, 0.3), (2, 3, 0.9)]
        );
        assert_eq!(
            fneg.iter().map(key).collect::<Vec<_>>(),
            vec![(8, 9, 1.7), (16, 17, 1.3), (6, 7, 1.0)]
        );
        for (f, m) in fp
            .iter()
            .zip([0.9, 0.7, 0.1])
            .chain(fneg.iter().zip([0.7, 0.3, 0.0]))
        {
            assert!((f.margin - m).abs() < 1e-6, "{f:?} margin != {m}");
        }
    }

    #[test]
    fn assign_folds_is_seeded_and_stratified() {
        let mk = || -> Vec<ScoredPair> {
            (0..55)
                .map(|i| ScoredPair {
                    distance: i as f32,
                    same: i < 30,
                    fold: 99,
                })
                .collect()
        };
        let (mut a, mut b, mut c) = (mk(), mk(), mk());
        assign_folds(&mut a, 10, 42);
        assign_folds(&mut b, 10, 42);
        assign_folds(&mut c, 10, 43);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for f in 0..10 {
            let same = a.iter().filter(|p| p.fold == f && p.same).count();
            let diff = a.iter().filter(|p| p.fold == f && !p.same).count();
            assert_eq!(same, 3);
            assert!((2..=3).contains(&diff));
        }
        let mut untouched = mk();
        assign_folds(&mut untouched, 0, 1);
        assert_eq!(untouched, mk());
    }

    #[test]
    fn cross_modal_pairs() {
        // (sample, identity, is_caricature): id 1: 3 caricatures, 2 photos; id 2: 1 + 4;
        // id 3: caricatures only; id 4: photos only.
        let samples = [
            (0, 1, true),
            (1, 1, true),
            (2, 1, true),
            (3, 1, false),
            (4, 1, false),
            (5, 2, true),
            (6, 2, false),
            (7, 2, false),
            (8, 2, false),
            (9, 2, false),
            (10, 3, true),
            (11, 4, false),
        ];
        let id = |s: usize| samples[s].1;
        let is_cari = |s: usize| samples[s].2;
        let p = make_cross_modal_pairs(&samples, 4, 9);
        assert_eq!(p, make_cross_modal_pairs(&samples, 4, 9));
        let mut reversed = samples;
        reversed.reverse();
        assert_eq!(p, make_cross_modal_pairs(&reversed, 4, 9));
        // id 1: min(4, 3*2) = 4 matched + 4 mismatched; id 2: min(4, 1*4) = 4 matched, but only
        // 1 caricature × 3 other photos = 3 distinct mismatched pairs exist.
        assert_eq!(p.len(), 15);
        assert_eq!(p.iter().filter(|q| q.2).count(), 8);
        let mut seen = HashSet::new();
        for &(c, ph, same, fold) in &p {
            assert!(is_cari(c) && !is_cari(ph));
            assert_eq!(same, id(c) == id(ph));
            assert!(fold < 10);
            assert!(seen.insert((c, ph)), "duplicate pair");
            assert_ne!(id(c), 3);
        }
        for (ident, expected) in [(1, (4, 4)), (2, (4, 3))] {
            let n = |same: bool| p.iter().filter(|q| id(q.0) == ident && q.2 == same).count();
            assert_eq!((n(true), n(false)), expected);
        }
        // Small per_identity; the scored pairs then go through the protocol.
        let p = make_cross_modal_pairs(&samples, 1, 3);
        assert_eq!(p.len(), 4);
        assert!(make_cross_modal_pairs(&samples, 0, 3).is_empty());
    }
}
