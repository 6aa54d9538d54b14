//! What the window keeps of a run's steps, in bounded memory: the newest rows at full
//! resolution (with min/max pyramids, so a frame draws O(pixels) points, and TensorBoard's
//! debiased EMA), and older rows folded into a fixed budget of min/max/mean blocks.
//!
//! Plots, hover read-outs and the CSV export see one sequence of *points*, oldest first:
//! indices `0..summarised_len()` are blocks, the rest full-resolution rows.

mod blocks;
pub mod lens;
mod series;

use std::borrow::Cow;

pub use blocks::{BLOCK_BUDGET, Block, Quantity, steps_of};
pub use series::{Ema, MinMaxPyramid, Summary};

use blocks::Blocks;
use series::Series;

use crate::task::TASKS;
use crate::train::metrics::StepMetrics;

/// Full-resolution rows kept at most. When reached, the oldest [`FOLD_ROWS`] are folded into
/// blocks, so between 28,672 and 32,768 rows stay exact: zooming into the recent past (what
/// one does while watching) shows every step, for ≈ 9 MB per run (rows and pyramids). A power
/// of two, so the vectors' capacity lands on it exactly and never doubles past it.
pub const FULL_ROWS_MAX: usize = 32_768;
/// Rows folded at once: a power of two, so the pyramids' fine levels stay aligned and only
/// their top three levels are rebuilt; amortised it is ~8 row moves per push.
pub const FOLD_ROWS: usize = 4_096;

/// A labelled vertical line on a run's plots (strategy switch, perturbation, fork).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub step: u64,
    pub label: String,
    /// Wall seconds of the first row at or after `step`, noted when that row is folded into a
    /// block (whose rows' times are gone), so the line stays exact on the wall-time axis.
    pub wall_secs: Option<f64>,
}

impl Marker {
    pub fn new(step: u64, label: String) -> Self {
        Marker {
            step,
            label,
            wall_secs: None,
        }
    }
}

/// One point of a history: a summarised block or a full-resolution row.
#[derive(Clone, Copy, Debug)]
pub enum Point<'a> {
    Block(&'a Block),
    Row(&'a StepMetrics),
}

impl Point<'_> {
    /// The x interval the point covers on the plots (a row's is a single x).
    pub fn x_span(&self, wall: bool) -> (f64, f64) {
        match self {
            Point::Block(b) => b.x_span(wall),
            Point::Row(r) => {
                let x = row_x(r, wall);
                (x, x)
            }
        }
    }
}

fn row_x(row: &StepMetrics, wall: bool) -> f64 {
    if wall { row.wall_secs } else { row.step as f64 }
}

/// How far x lies outside a point's interval (0 inside).
fn distance(x: f64, (lo, hi): (f64, f64)) -> f64 {
    if x < lo {
        lo - x
    } else if x > hi {
        x - hi
    } else {
        0.0
    }
}

#[derive(Clone, Debug, Default)]
pub struct RunHistory {
    blocks: Blocks,
    /// The newest rows, oldest first.
    rows: Vec<StepMetrics>,
    /// Per quantity (weights, losses) and task, over `rows`.
    series: [[Series; TASKS]; 2],
    pub markers: Vec<Marker>,
    /// The gradient lens's looks.
    pub lens: lens::LensHistory,
    smoothing: f32,
}

impl RunHistory {
    pub fn new(smoothing: f32) -> Self {
        RunHistory {
            smoothing,
            lens: lens::LensHistory::new(smoothing),
            ..Default::default()
        }
    }

    /// Points: blocks, then full-resolution rows (what the plots and the export hold).
    pub fn len(&self) -> usize {
        self.blocks.len() + self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many of the points are blocks (they come first).
    pub fn summarised_len(&self) -> usize {
        self.blocks.len()
    }

    /// The full-resolution rows, oldest first (the newest row is always one of them).
    pub fn rows(&self) -> &[StepMetrics] {
        &self.rows
    }

    pub fn blocks(&self) -> &[Block] {
        self.blocks.as_slice()
    }

    /// Steps the history stands for (rows may stand for several: `coalesced_steps`).
    pub fn steps(&self) -> u64 {
        let summarised: u64 = self.blocks().iter().map(|b| b.steps).sum();
        summarised + self.rows.iter().map(steps_of).sum::<u64>()
    }

    pub fn point(&self, index: usize) -> Option<Point<'_>> {
        match index.checked_sub(self.blocks.len()) {
            None => self.blocks().get(index).map(Point::Block),
            Some(i) => self.rows.get(i).map(Point::Row),
        }
    }

    pub fn push(&mut self, row: StepMetrics) {
        for t in 0..TASKS {
            self.series[0][t].push(row.weights[t], self.smoothing);
            self.series[1][t].push(row.losses[t], self.smoothing);
        }
        self.lens.push(&row);
        self.rows.push(row);
        if self.rows.len() >= FULL_ROWS_MAX {
            self.fold_oldest(FOLD_ROWS);
        }
    }

    /// Move the oldest `count` rows into blocks, keeping the smoothed values they were drawn
    /// with, and note the wall time of markers those rows reach.
    fn fold_oldest(&mut self, count: usize) {
        let count = count.min(self.rows.len());
        let mut waiting: Vec<usize> = (0..self.markers.len())
            .filter(|&i| self.markers[i].wall_secs.is_none())
            .collect();
        for (i, row) in self.rows.drain(..count).enumerate() {
            waiting.retain(|&m| !note_wall(&mut self.markers[m], &row));
            let smooth = self
                .series
                .each_ref()
                .map(|q| std::array::from_fn(|t| q[t].smooth.value(i).unwrap_or(f32::NAN)));
            self.blocks.push(Block::of_row(row, smooth));
        }
        for series in self.series.iter_mut().flatten() {
            series.drain_front(count);
        }
    }

    pub fn smoothing(&self) -> f32 {
        self.smoothing
    }

    /// Smooth everything again: blocks from their means (see [`Ema::run_constant`]), then the
    /// rows, continuing the blocks' EMA so the curve does not jump at the boundary.
    pub fn set_smoothing(&mut self, smoothing: f32) {
        if (smoothing - self.smoothing).abs() <= f32::EPSILON {
            return;
        }
        self.smoothing = smoothing;
        self.lens.set_smoothing(smoothing);
        let mut emas = [[Ema::default(); TASKS]; 2];
        self.blocks.resmooth(&mut emas, smoothing);
        for (q, series) in self.series.iter_mut().enumerate() {
            for (t, s) in series.iter_mut().enumerate() {
                s.resmooth(emas[q][t], smoothing);
            }
        }
    }

    /// How many leading points `before` holds for (it must hold for a prefix of them).
    fn partition_point(&self, wall: bool, before: impl Fn((f64, f64)) -> bool) -> usize {
        let blocks = self.blocks().partition_point(|b| before(b.x_span(wall)));
        if blocks < self.blocks.len() {
            return blocks;
        }
        blocks
            + self
                .rows
                .partition_point(|r| before((row_x(r, wall), row_x(r, wall))))
    }

    /// Index range of points whose x (step or wall seconds) reaches into `[x0, x1]`, one
    /// point of margin on each side.
    pub fn visible_range(&self, x0: f64, x1: f64, wall_time: bool) -> (usize, usize) {
        let start = self
            .partition_point(wall_time, |(_, hi)| hi < x0)
            .saturating_sub(1);
        let end = (self.partition_point(wall_time, |(lo, _)| lo <= x1) + 1).min(self.len());
        (start, end.max(start))
    }

    /// The index of the point nearest to x (a block is near everywhere inside its steps).
    pub fn row_at(&self, x: f64, wall_time: bool) -> Option<usize> {
        let last = self.len().checked_sub(1)?;
        let i = self.partition_point(wall_time, |(_, hi)| hi < x).min(last);
        let d = |i: usize| {
            self.point(i)
                .map_or(f64::INFINITY, |p| distance(x, p.x_span(wall_time)))
        };
        Some(if i > 0 && d(i - 1) < d(i) { i - 1 } else { i })
    }

    /// The smoothed weights and losses at point `index` (a block's: their means).
    pub fn smoothed_at(&self, index: usize) -> ([f32; TASKS], [f32; TASKS]) {
        let at = |q: Quantity| -> [f32; TASKS] {
            std::array::from_fn(|t| match self.point(index) {
                Some(Point::Block(b)) => b.smooth[q.index()][t].mean as f32,
                Some(Point::Row(_)) => {
                    let i = index - self.blocks.len();
                    let series = &self.series[q.index()][t];
                    series.smooth.value(i).unwrap_or(f32::NAN)
                }
                None => f32::NAN,
            })
        };
        (at(Quantity::Weights), at(Quantity::Losses))
    }

    /// Where a marker's line goes: its step, or on the wall-time axis the time of the first
    /// row at or after it (noted when that row was folded, or read off the row or block).
    pub fn marker_x(&self, marker: &Marker, wall_time: bool) -> f64 {
        if !wall_time {
            return marker.step as f64;
        }
        if let Some(wall) = marker.wall_secs {
            return wall;
        }
        let i = self.partition_point(false, |(_, hi)| hi < marker.step as f64);
        match self.point(i) {
            Some(Point::Block(b)) => b.wall_at(marker.step),
            Some(Point::Row(r)) => r.wall_secs,
            // After the newest row (it is not in yet): the run's latest time.
            None => self.rows.last().map_or(0.0, |r| r.wall_secs),
        }
    }

    /// Min, max and step-weighted mean over points `start..end`; None when empty.
    pub fn summary(
        &self,
        quantity: Quantity,
        task: usize,
        smooth: bool,
        (start, end): (usize, usize),
    ) -> Option<Summary> {
        let nb = self.blocks.len();
        let pick = |b: &Block| b.summary(quantity, task, smooth);
        let old = self.blocks.summarise(start.min(nb), end.min(nb), pick);
        let series = self.series[quantity.index()][task].pyramid(smooth);
        let rows = (start.max(nb) - nb)..(end.max(nb) - nb).min(self.rows.len());
        let recent = rows.fold(None, |acc: Option<(Summary, u64)>, i| {
            let s = Summary::of(series.value(i).unwrap_or(f32::NAN));
            let n = steps_of(&self.rows[i]);
            Some(match acc {
                None => (s, n),
                Some((sum, m)) => (sum.merge(s, m as f64, n as f64), m + n),
            })
        });
        match (old, recent) {
            (Some((a, n)), Some((b, m))) => Some(a.merge(b, n as f64, m as f64)),
            (one, other) => one.or(other).map(|(s, _)| s),
        }
    }

    /// Points to draw of one curve over points `range` in about `columns` columns: blocks as
    /// min/max envelopes, rows through their pyramid; the columns are shared out by x extent.
    pub fn decimate(
        &self,
        quantity: Quantity,
        task: usize,
        smooth: bool,
        (start, end): (usize, usize),
        columns: usize,
        wall: bool,
    ) -> Vec<[f64; 2]> {
        let nb = self.blocks.len();
        let old = (start.min(nb), end.min(nb));
        let recent = (start.max(nb) - nb, (end.max(nb) - nb).min(self.rows.len()));
        let old_columns = self.columns_for_blocks(old, recent, columns, wall);
        let pick = |b: &Block| b.summary(quantity, task, smooth);
        let mut out = self.blocks.decimate(old, old_columns, wall, pick);
        let pyramid = self.series[quantity.index()][task].pyramid(smooth);
        let recent_columns = columns.saturating_sub(old_columns).max(1);
        out.extend(
            pyramid
                .decimate(recent.0, recent.1, recent_columns)
                .into_iter()
                .filter_map(|(i, y)| Some([row_x(self.rows.get(i)?, wall), y as f64])),
        );
        out
    }

    /// The blocks' share of `columns`, by how much of the visible x each part covers.
    fn columns_for_blocks(
        &self,
        old: (usize, usize),
        recent: (usize, usize),
        columns: usize,
        wall: bool,
    ) -> usize {
        let extent = |span: Option<(f64, f64)>| span.map_or(0.0, |(a, b)| (b - a).max(0.0));
        let blocks = self.blocks();
        let old_x = (old.0 < old.1).then(|| {
            (
                blocks[old.0].x_span(wall).0,
                blocks[old.1 - 1].x_span(wall).1,
            )
        });
        let recent_x = (recent.0 < recent.1).then(|| {
            (
                row_x(&self.rows[recent.0], wall),
                row_x(&self.rows[recent.1 - 1], wall),
            )
        });
        let (a, b) = (extent(old_x), extent(recent_x));
        if a + b <= 0.0 {
            return columns.max(1);
        }
        ((columns as f64 * a / (a + b)).round() as usize).max(1)
    }

    /// Every point as a metrics row, oldest first: one per block (its means, `coalesced_steps`
    /// the steps it stands for, at its last step and time), then the full-resolution rows.
    pub fn export_rows(&self) -> impl Iterator<Item = Cow<'_, StepMetrics>> {
        let old = self.blocks().iter().map(|b| Cow::Owned(b.as_row()));
        old.chain(self.rows.iter().map(Cow::Borrowed))
    }

    /// Bytes the history holds on the heap, counted from its containers' capacities (what the
    /// memory bound is about; RSS would mix in the allocator and the rest of the window).
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.rows.iter().map(|r| r.strategy.capacity()).sum();
        let rows = self.rows.capacity() * size_of::<StepMetrics>() + strings;
        let series: usize = self.series.iter().flatten().map(Series::heap_bytes).sum();
        let markers: usize = self.markers.iter().map(|m| m.label.capacity()).sum();
        let markers = markers + self.markers.capacity() * size_of::<Marker>();
        rows + series + self.blocks.heap_bytes() + markers + self.lens.heap_bytes()
    }
}

/// Note the marker's wall time if `row` is the first at or after its step; true once noted.
fn note_wall(marker: &mut Marker, row: &StepMetrics) -> bool {
    if row.step >= marker.step {
        marker.wall_secs = Some(row.wall_secs);
        return true;
    }
    false
}

#[cfg(test)]
mod tests;
