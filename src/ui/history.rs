//! A run's full metric history with what drawing it fast needs: debiased EMA smoothing
//! (TensorBoard's) and min/max pyramids so a frame draws O(pixels) points, not O(steps).

use crate::task::TASKS;
use crate::train::metrics::StepMetrics;

/// A min/max pyramid over one series: level k holds (min, max) over blocks of 2^k samples.
#[derive(Clone, Debug, Default)]
pub struct MinMaxPyramid {
    levels: Vec<Vec<(f32, f32)>>,
}

impl MinMaxPyramid {
    pub fn push(&mut self, value: f32) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push((value, value));
        let mut level = 0;
        // Whenever a level gains a complete pair, the level above gains their merge.
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let (a, b) = (self.levels[level][n - 2], self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push((a.0.min(b.0), a.1.max(b.1)));
            level += 1;
        }
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Points to draw for samples `start..end` in about `columns` columns: for each block,
    /// its min then its max at the block's index (x looked up by the caller).
    pub fn decimate(&self, start: usize, end: usize, columns: usize) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        if self.levels.is_empty() || start >= end {
            return out;
        }
        let n = end - start;
        let mut level = 0;
        while level + 1 < self.levels.len() && (n >> (level + 1)) >= columns.max(1) {
            level += 1;
        }
        let block = 1usize << level;
        let data = &self.levels[level];
        let first = start / block;
        let last = (end.div_ceil(block)).min(data.len());
        out.reserve(2 * (last.saturating_sub(first)));
        for (offset, &(min, max)) in data[first..last].iter().enumerate() {
            let index = (first + offset) * block;
            if level == 0 {
                out.push((index, min));
            } else {
                out.push((index, min));
                out.push((index + block / 2, max));
            }
        }
        // Blocks of this level not yet complete: take the finest level for the tail.
        let covered = last * block;
        if covered < end {
            for i in covered.max(start)..end {
                out.push((i, self.levels[0][i].0));
            }
        }
        out
    }
}

/// Debiased exponential moving average (TensorBoard's smoothing).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ema {
    last: f64,
    count: u32,
}

impl Ema {
    pub fn next(&mut self, value: f32, smoothing: f32) -> f32 {
        let s = smoothing.clamp(0.0, 0.999) as f64;
        self.last = self.last * s + (1.0 - s) * value as f64;
        self.count = self.count.saturating_add(1);
        let debias = 1.0 - s.powi(self.count as i32);
        if debias <= 0.0 {
            value
        } else {
            (self.last / debias) as f32
        }
    }
}

/// A labelled vertical line on a run's plots (strategy switch, perturbation, fork).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub step: u64,
    pub label: String,
}

/// One series: raw values, smoothed values and their pyramids.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub raw: Vec<f32>,
    pub smooth: Vec<f32>,
    pub raw_pyramid: MinMaxPyramid,
    pub smooth_pyramid: MinMaxPyramid,
    ema: Ema,
}

impl Series {
    fn push(&mut self, value: f32, smoothing: f32) {
        self.raw.push(value);
        self.raw_pyramid.push(value);
        let s = self.ema.next(value, smoothing);
        self.smooth.push(s);
        self.smooth_pyramid.push(s);
    }

    fn resmooth(&mut self, smoothing: f32) {
        self.ema = Ema::default();
        self.smooth.clear();
        self.smooth_pyramid.clear();
        for i in 0..self.raw.len() {
            let s = self.ema.next(self.raw[i], smoothing);
            self.smooth.push(s);
            self.smooth_pyramid.push(s);
        }
    }
}

/// Everything the UI keeps of a run's steps (the full history, for export).
#[derive(Clone, Debug, Default)]
pub struct RunHistory {
    pub rows: Vec<StepMetrics>,
    pub weights: [Series; TASKS],
    pub losses: [Series; TASKS],
    pub markers: Vec<Marker>,
    smoothing: f32,
}

impl RunHistory {
    pub fn new(smoothing: f32) -> Self {
        RunHistory {
            smoothing,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn push(&mut self, row: StepMetrics) {
        for t in 0..TASKS {
            self.weights[t].push(row.weights[t], self.smoothing);
            self.losses[t].push(row.losses[t], self.smoothing);
        }
        self.rows.push(row);
    }

    pub fn smoothing(&self) -> f32 {
        self.smoothing
    }

    pub fn set_smoothing(&mut self, smoothing: f32) {
        if (smoothing - self.smoothing).abs() > f32::EPSILON {
            self.smoothing = smoothing;
            for s in self.weights.iter_mut().chain(self.losses.iter_mut()) {
                s.resmooth(smoothing);
            }
        }
    }

    /// Index range of rows whose x (step or wall seconds) lies in `[x0, x1]`, one row of margin.
    pub fn visible_range(&self, x0: f64, x1: f64, wall_time: bool) -> (usize, usize) {
        let x = |r: &StepMetrics| {
            if wall_time {
                r.wall_secs
            } else {
                r.step as f64
            }
        };
        let start = self.rows.partition_point(|r| x(r) < x0).saturating_sub(1);
        let end = (self.rows.partition_point(|r| x(r) <= x1) + 1).min(self.rows.len());
        (start, end.max(start))
    }

    /// The row nearest to x.
    pub fn row_at(&self, x: f64, wall_time: bool) -> Option<&StepMetrics> {
        if self.rows.is_empty() {
            return None;
        }
        let xs = |r: &StepMetrics| {
            if wall_time {
                r.wall_secs
            } else {
                r.step as f64
            }
        };
        let i = self
            .rows
            .partition_point(|r| xs(r) < x)
            .min(self.rows.len() - 1);
        let best = if i > 0 && (xs(&self.rows[i - 1]) - x).abs() < (xs(&self.rows[i]) - x).abs() {
            i - 1
        } else {
            i
        };
        self.rows.get(best)
    }

    /// The index of the smoothed row at `index` (for hover read-outs).
    pub fn smoothed_at(&self, index: usize) -> ([f32; TASKS], [f32; TASKS]) {
        (
            std::array::from_fn(|t| {
                self.weights[t]
                    .smooth
                    .get(index)
                    .copied()
                    .unwrap_or(f32::NAN)
            }),
            std::array::from_fn(|t| {
                self.losses[t]
                    .smooth
                    .get(index)
                    .copied()
                    .unwrap_or(f32::NAN)
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_keeps_extremes_of_every_block() {
        let mut p = MinMaxPyramid::default();
        let values: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32).collect();
        for &v in &values {
            p.push(v);
        }
        let points = p.decimate(0, 1000, 50);
        assert!(points.len() <= 2 * 1000 / 16 + 2 * 16, "{}", points.len());
        let max = points.iter().map(|p| p.1).fold(f32::MIN, f32::max);
        let min = points.iter().map(|p| p.1).fold(f32::MAX, f32::min);
        assert_eq!(max, 100.0);
        assert_eq!(min, 0.0);
        // A narrow range at full resolution gives every sample.
        let fine = p.decimate(10, 20, 100);
        assert_eq!(
            fine.iter().map(|x| x.1).collect::<Vec<_>>(),
            values[10..20].to_vec()
        );
    }

    #[test]
    fn debiased_ema_matches_tensorboard() {
        // TensorBoard: last = last·s + (1−s)·x; smoothed = last / (1 − s^n).
        // s = 0.5, x = (1, 3): after 1 -> 0.5/0.5 = 1; after 2 -> (0.25 + 1.5)/0.75 = 2.3333
        let mut ema = Ema::default();
        assert!((ema.next(1.0, 0.5) - 1.0).abs() < 1e-6);
        assert!((ema.next(3.0, 0.5) - 2.333_333).abs() < 1e-5);
    }
}
