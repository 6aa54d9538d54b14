//! The summarised part of a run's history: rows older than the full-resolution window, folded
//! into at most [`BLOCK_BUDGET`] blocks that keep per task and quantity the min, max and mean.
//!
//! All sealed blocks stand for the same number of rows (`span`). When the budget is full, every
//! neighbouring pair merges and the span doubles, so the memory is fixed whatever the number
//! of steps, and the resolution stays even over the whole run (Fig. 3 is read zoomed out, and
//! its early steps matter as much as its late ones).

use super::series::{Ema, Summary};
use crate::task::TASKS;
use crate::train::metrics::StepMetrics;

/// Most blocks kept: ≥ 2 per pixel column of a 2000-pixel-wide plot zoomed out (so the
/// envelope looks as the full-resolution one did), for ≈ 1.2 MB per run.
pub const BLOCK_BUDGET: usize = 4096;

/// Which plot a value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Weights,
    Losses,
}

impl Quantity {
    pub const ALL: [Quantity; 2] = [Quantity::Weights, Quantity::Losses];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Summaries per quantity (weights, losses) and task.
pub type Summaries = [[Summary; TASKS]; 2];

/// Consecutive rows summarised.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The first step it stands for (a coalesced first row stands for several).
    pub first_step: u64,
    pub last_step: u64,
    /// Wall seconds of its first and last rows.
    pub first_wall: f64,
    pub last_wall: f64,
    /// Steps it stands for: the sum of its rows' `coalesced_steps`.
    pub steps: u64,
    /// Rows folded into it (the EMA's unit when re-smoothing: one sample per row).
    pub rows: u64,
    /// The last row's rule and learning rate (as `merge_rows` keeps the later row's).
    pub strategy: String,
    pub lr: f64,
    pub raw: Summaries,
    pub smooth: Summaries,
}

/// Steps a row stands for; a row always stands at least for its own step.
pub fn steps_of(row: &StepMetrics) -> u64 {
    row.coalesced_steps.max(1) as u64
}

impl Block {
    /// A block of one row, with the smoothed values the row had when it left full resolution.
    pub fn of_row(row: StepMetrics, smooth: [[f32; TASKS]; 2]) -> Block {
        let steps = steps_of(&row);
        let raw = [row.weights, row.losses];
        Block {
            first_step: row.step.saturating_sub(steps - 1),
            last_step: row.step,
            first_wall: row.wall_secs,
            last_wall: row.wall_secs,
            steps,
            rows: 1,
            raw: raw.map(|q| q.map(Summary::of)),
            smooth: smooth.map(|q| q.map(Summary::of)),
            strategy: row.strategy,
            lr: row.lr,
        }
    }

    /// Take in the block that follows this one.
    pub fn absorb(&mut self, later: Block) {
        let (a, b) = (self.steps as f64, later.steps as f64);
        for q in 0..2 {
            for t in 0..TASKS {
                self.raw[q][t] = self.raw[q][t].merge(later.raw[q][t], a, b);
                self.smooth[q][t] = self.smooth[q][t].merge(later.smooth[q][t], a, b);
            }
        }
        self.last_step = later.last_step;
        self.last_wall = later.last_wall;
        self.steps = self.steps.saturating_add(later.steps);
        self.rows = self.rows.saturating_add(later.rows);
        self.strategy = later.strategy;
        self.lr = later.lr;
    }

    /// The x interval it covers on the plots.
    pub fn x_span(&self, wall: bool) -> (f64, f64) {
        if wall {
            (self.first_wall, self.last_wall)
        } else {
            (self.first_step as f64, self.last_step as f64)
        }
    }

    pub fn summary(&self, quantity: Quantity, task: usize, smooth: bool) -> Summary {
        let all = if smooth { &self.smooth } else { &self.raw };
        all[quantity.index()][task]
    }

    /// Wall seconds at `step` inside the block, by linear interpolation (its rows are gone).
    pub fn wall_at(&self, step: u64) -> f64 {
        let span = self.last_step.saturating_sub(self.first_step);
        if span == 0 {
            return self.last_wall;
        }
        let f = step.clamp(self.first_step, self.last_step) - self.first_step;
        self.first_wall + (self.last_wall - self.first_wall) * f as f64 / span as f64
    }

    /// The block as one metrics.csv row: the means, standing for all its steps, at its last
    /// step and time.
    pub fn as_row(&self) -> StepMetrics {
        let means = |q: Quantity| std::array::from_fn(|t| self.raw[q.index()][t].mean as f32);
        StepMetrics {
            step: self.last_step,
            wall_secs: self.last_wall,
            strategy: self.strategy.clone(),
            weights: means(Quantity::Weights),
            losses: means(Quantity::Losses),
            lr: self.lr,
            coalesced_steps: u32::try_from(self.steps).unwrap_or(u32::MAX),
            lens: None,
        }
    }
}

/// The blocks, oldest first; the last may still be filling.
#[derive(Clone, Debug)]
pub struct Blocks {
    blocks: Vec<Block>,
    /// Rows a sealed block stands for.
    span: u64,
}

impl Default for Blocks {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            span: 1,
        }
    }
}

impl Blocks {
    pub fn as_slice(&self) -> &[Block] {
        &self.blocks
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Fold in the next (one-row) block: it joins the filling block, or starts a new one,
    /// merging every pair first when the budget is full.
    pub fn push(&mut self, block: Block) {
        if let Some(open) = self.blocks.last_mut()
            && open.rows < self.span
        {
            open.absorb(block);
            return;
        }
        if self.blocks.len() >= BLOCK_BUDGET {
            self.merge_pairs();
        }
        self.blocks.push(block);
    }

    /// Halve the number of blocks by merging neighbours; all were full, so all stay full.
    fn merge_pairs(&mut self) {
        let old = std::mem::replace(&mut self.blocks, Vec::with_capacity(BLOCK_BUDGET));
        let mut iter = old.into_iter();
        while let Some(mut a) = iter.next() {
            if let Some(b) = iter.next() {
                a.absorb(b);
            }
            self.blocks.push(a);
        }
        self.span = self.span.saturating_mul(2);
    }

    /// Smooth every block again from its mean (see [`Ema::run_constant`]); `emas` carry the
    /// state on to the full-resolution rows.
    pub fn resmooth(&mut self, emas: &mut [[Ema; TASKS]; 2], smoothing: f32) {
        for block in &mut self.blocks {
            for (q, quantity) in emas.iter_mut().enumerate() {
                for (t, ema) in quantity.iter_mut().enumerate() {
                    let mean = block.raw[q][t].mean as f32;
                    block.smooth[q][t] = ema.run_constant(mean, block.rows, smoothing);
                }
            }
        }
    }

    /// One summary over blocks `start..end`, None when empty.
    pub fn summarise(
        &self,
        start: usize,
        end: usize,
        pick: impl Fn(&Block) -> Summary,
    ) -> Option<(Summary, u64)> {
        let end = end.min(self.blocks.len());
        self.blocks.get(start..end)?.iter().fold(None, |acc, b| {
            let s = pick(b);
            Some(match acc {
                None => (s, b.steps),
                Some((sum, n)) => (sum.merge(s, n as f64, b.steps as f64), n + b.steps),
            })
        })
    }

    /// Points to draw for blocks `start..end` in about `columns` columns: per group of blocks
    /// its min at the group's start and its max halfway, the look of [`super::MinMaxPyramid`].
    /// Groups are a power of two of blocks aligned to the start, so panning does not shimmer.
    pub fn decimate(
        &self,
        (start, end): (usize, usize),
        columns: usize,
        wall: bool,
        pick: impl Fn(&Block) -> Summary,
    ) -> Vec<[f64; 2]> {
        let end = end.min(self.blocks.len());
        if start >= end {
            return Vec::new();
        }
        let group = group_size(end - start, columns);
        let mut out = Vec::with_capacity(2 * (end - start).div_ceil(group) + 2);
        let first = start / group * group;
        for chunk in self.blocks[first..end].chunks(group) {
            // Only the extremes are drawn: skipping the means' merging halves a frame's work.
            let (min, max) = chunk
                .iter()
                .map(&pick)
                .fold((f32::MAX, f32::MIN), |(lo, hi), s| {
                    (lo.min(s.min), hi.max(s.max))
                });
            let (Some(a), Some(b)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let (x0, x1) = (a.x_span(wall).0, b.x_span(wall).1);
            out.push([x0, min as f64]);
            out.push([(x0 + x1) / 2.0, max as f64]);
        }
        out
    }

    /// Bytes on the heap, for the history's memory bound.
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.blocks.iter().map(|b| b.strategy.capacity()).sum();
        self.blocks.capacity() * size_of::<Block>() + strings
    }
}

/// The largest power of two of blocks that still leaves ≥ `columns` groups (as the pyramid
/// picks its level).
fn group_size(blocks: usize, columns: usize) -> usize {
    let mut level = 0;
    while level + 1 < usize::BITS as usize && (blocks >> (level + 1)) >= columns.max(1) {
        level += 1;
    }
    1 << level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, value: f32) -> StepMetrics {
        StepMetrics {
            step,
            wall_secs: step as f64 * 0.5,
            strategy: format!("rule{step}"),
            weights: [value; TASKS],
            losses: [-value; TASKS],
            lr: step as f64,
            coalesced_steps: 1,
            lens: None,
        }
    }

    #[test]
    fn the_budget_holds_and_every_block_stays_full() {
        let mut blocks = Blocks::default();
        let n = 3 * BLOCK_BUDGET as u64 + 5;
        for step in 1..=n {
            let r = row(step, step as f32);
            let smooth = [r.weights, r.losses];
            blocks.push(Block::of_row(r, smooth));
            assert!(blocks.len() <= BLOCK_BUDGET);
        }
        // 3·B + 5 rows at span 1, 2, then 4: ⌈(3B + 5)/4⌉ blocks.
        assert_eq!(blocks.span, 4);
        assert_eq!(blocks.len(), (n as usize).div_ceil(4));
        let all = blocks.as_slice();
        assert!(all[..all.len() - 1].iter().all(|b| b.rows == 4));
        let last = &all[all.len() - 1];
        assert_eq!((last.rows, last.last_step, last.lr), (1, n, n as f64));
        assert_eq!(last.strategy, format!("rule{n}"));
        // Contiguous steps, no gaps.
        for pair in all.windows(2) {
            assert_eq!(pair[0].last_step + 1, pair[1].first_step);
        }
    }

    #[test]
    fn groups_are_powers_of_two_leaving_enough_columns() {
        assert_eq!(group_size(100, 800), 1);
        assert_eq!(group_size(4096, 800), 4);
        assert_eq!(group_size(1599, 800), 1);
        assert_eq!(group_size(1600, 800), 2);
        assert_eq!(group_size(5, 0), 4);
    }
}
