//! What the window keeps of the gradient lens: on the steps the lens looked, the pairwise
//! cosines, each task's share of the update and the alignments, raw and smoothed with the
//! weights' and losses' EMA. Bounded: past [`LENS_POINTS_MAX`] points, neighbours are averaged
//! pairwise (a point then stands for several looks), so a long run costs fixed memory.

use super::series::Ema;
use crate::task::TASKS;
use crate::train::lens::LensRow;
use crate::train::metrics::StepMetrics;

/// Points kept at most before neighbours are merged.
pub const LENS_POINTS_MAX: usize = 16_384;

/// The lens's quantities, each three curves.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum LensQuantity {
    /// cos(g_i, g_j) for the pairs verif·visual, verif·cari, visual·cari.
    #[default]
    Cosines,
    /// Each task's share of the update.
    Shares,
    /// cos(d, g_i) per task.
    Alignments,
}

impl LensQuantity {
    pub const ALL: [LensQuantity; 3] = [
        LensQuantity::Cosines,
        LensQuantity::Shares,
        LensQuantity::Alignments,
    ];

    fn offset(self) -> usize {
        match self {
            LensQuantity::Cosines => 0,
            LensQuantity::Shares => TASKS,
            LensQuantity::Alignments => 2 * TASKS,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LensQuantity::Cosines => "cosines",
            LensQuantity::Shares => "share of the update",
            LensQuantity::Alignments => "alignment cos(d, g_i)",
        }
    }
}

/// One look of the lens (or the mean of several merged ones).
#[derive(Clone, Debug, PartialEq)]
pub struct LensPoint {
    pub step: u64,
    pub wall_secs: f64,
    /// The looks it stands for.
    pub looks: u32,
    /// Cosines, shares, alignments (three each), as measured.
    pub raw: [f32; 3 * TASKS],
    /// The same, smoothed.
    pub smooth: [f32; 3 * TASKS],
    /// The gradient norms ‖g_i‖.
    pub norms: [f32; TASKS],
}

impl LensPoint {
    pub fn value(&self, quantity: LensQuantity, curve: usize, smooth: bool) -> f32 {
        let values = if smooth { &self.smooth } else { &self.raw };
        values[quantity.offset() + curve]
    }
}

#[derive(Clone, Debug, Default)]
pub struct LensHistory {
    points: Vec<LensPoint>,
    emas: [Ema; 3 * TASKS],
    smoothing: f32,
}

/// The nine values of a lens row: cosines, shares (from the weights the update gave the
/// tasks), alignments.
fn values_of(lens: &LensRow, weights: [f32; TASKS]) -> [f32; 3 * TASKS] {
    let shares = lens.shares(weights);
    let mut v = [0f32; 3 * TASKS];
    v[..TASKS].copy_from_slice(&lens.cosines);
    v[TASKS..2 * TASKS].copy_from_slice(&shares);
    v[2 * TASKS..].copy_from_slice(&lens.alignments);
    v
}

impl LensHistory {
    pub fn new(smoothing: f32) -> Self {
        LensHistory {
            smoothing,
            ..Default::default()
        }
    }

    /// Take a step's row; rows without the lens add nothing.
    pub fn push(&mut self, row: &StepMetrics) {
        let Some(lens) = &row.lens else {
            return;
        };
        let raw = values_of(lens, row.weights);
        let smooth = std::array::from_fn(|i| self.emas[i].next(raw[i], self.smoothing));
        self.points.push(LensPoint {
            step: row.step,
            wall_secs: row.wall_secs,
            looks: 1,
            raw,
            smooth,
            norms: lens.norms,
        });
        if self.points.len() >= LENS_POINTS_MAX {
            self.halve();
        }
    }

    /// Merge neighbours pairwise, each value the look-weighted mean, step and time the later's.
    fn halve(&mut self) {
        let mut merged = Vec::with_capacity(self.points.len() / 2 + 1);
        let mut iter = std::mem::take(&mut self.points).into_iter();
        while let Some(a) = iter.next() {
            match iter.next() {
                Some(b) => {
                    let (na, nb) = (a.looks as f32, b.looks as f32);
                    let mix = |x: f32, y: f32| (x * na + y * nb) / (na + nb);
                    merged.push(LensPoint {
                        raw: std::array::from_fn(|i| mix(a.raw[i], b.raw[i])),
                        smooth: std::array::from_fn(|i| mix(a.smooth[i], b.smooth[i])),
                        norms: std::array::from_fn(|i| mix(a.norms[i], b.norms[i])),
                        looks: a.looks.saturating_add(b.looks),
                        ..b
                    });
                }
                None => merged.push(a),
            }
        }
        self.points = merged;
    }

    pub fn points(&self) -> &[LensPoint] {
        &self.points
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Smooth again from the raw values with a new factor.
    pub fn set_smoothing(&mut self, smoothing: f32) {
        self.smoothing = smoothing;
        self.emas = Default::default();
        for p in &mut self.points {
            for i in 0..3 * TASKS {
                p.smooth[i] = self.emas[i].next(p.raw[i], smoothing);
            }
        }
    }

    /// The point nearest to x (a step, or wall seconds).
    pub fn nearest(&self, x: f64, wall: bool) -> Option<&LensPoint> {
        let key = |p: &LensPoint| if wall { p.wall_secs } else { p.step as f64 };
        let i = self.points.partition_point(|p| key(p) < x);
        let candidates = [i.checked_sub(1), Some(i)];
        candidates
            .into_iter()
            .flatten()
            .filter_map(|i| self.points.get(i))
            .min_by(|a, b| (key(a) - x).abs().total_cmp(&(key(b) - x).abs()))
    }

    /// Share of the looks in `from..=to` (steps) where each pair's cosine is below 0; None
    /// when the lens did not look there.
    pub fn negative_share(&self, from: u64, to: u64) -> Option<[f32; TASKS]> {
        let seen: Vec<&LensPoint> = self
            .points
            .iter()
            .filter(|p| p.step >= from && p.step <= to)
            .collect();
        if seen.is_empty() {
            return None;
        }
        let looks: f32 = seen.iter().map(|p| p.looks as f32).sum();
        Some(std::array::from_fn(|pair| {
            let negative: f32 = seen
                .iter()
                .filter(|p| p.raw[pair] < 0.0)
                .map(|p| p.looks as f32)
                .sum();
            negative / looks
        }))
    }

    pub fn heap_bytes(&self) -> usize {
        self.points.capacity() * size_of::<LensPoint>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, cos: f32) -> StepMetrics {
        StepMetrics {
            step,
            wall_secs: step as f64,
            strategy: "equal".into(),
            weights: [1.0 / 3.0; 3],
            losses: [1.0; 3],
            lr: 1e-3,
            coalesced_steps: 1,
            lens: step.is_multiple_of(2).then_some(LensRow {
                norms: [1.0, 2.0, 3.0],
                cosines: [cos, -0.5, 0.0],
                alignments: [0.9, 0.8, 0.1],
            }),
        }
    }

    #[test]
    fn only_looks_are_kept_and_memory_stays_bounded() {
        let mut h = LensHistory::new(0.0);
        for step in 1..=3 * LENS_POINTS_MAX as u64 {
            h.push(&row(step, 0.5));
        }
        assert!(h.points().len() < LENS_POINTS_MAX);
        let looks: u32 = h.points().iter().map(|p| p.looks).sum();
        assert_eq!(
            looks as usize,
            3 * LENS_POINTS_MAX / 2,
            "every look counted once"
        );
        assert!(h.points().windows(2).all(|w| w[0].step < w[1].step));
        let p = &h.points()[0];
        assert_eq!(p.value(LensQuantity::Cosines, 0, false), 0.5);
        assert_eq!(p.value(LensQuantity::Alignments, 2, false), 0.1);
        // Shares with equal weights: ‖g_i‖·cos(d, g_i) = (0.9, 1.6, 0.3) over 2.8.
        let share = p.value(LensQuantity::Shares, 1, false);
        assert!((share - 1.6 / 2.8).abs() < 1e-6, "{share}");
    }

    #[test]
    fn negative_cosines_are_counted_per_pair() {
        let mut h = LensHistory::new(0.6);
        for (step, cos) in [(2, 0.5), (4, -0.2), (6, -0.1), (8, 0.3)] {
            h.push(&row(step, cos));
        }
        // verif·visual negative on 2 of 4 looks; verif·cari always; visual·cari never.
        assert_eq!(h.negative_share(1, 10), Some([0.5, 1.0, 0.0]));
        assert_eq!(h.negative_share(100, 200), None);
        assert_eq!(h.nearest(5.2, false).map(|p| p.step), Some(6));
    }
}
