//! The pieces one plotted series is made of: min/max pyramids so a frame draws O(pixels)
//! points, debiased EMA smoothing (TensorBoard's), and the min/max/mean summary that stands in
//! for rows once they are folded into blocks.

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
        // Keep the allocations: a re-smoothed series refills to the same length.
        for level in &mut self.levels {
            level.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` (level 0 keeps every sample, so no separate copy of the values is kept).
    pub fn value(&self, index: usize) -> Option<f32> {
        self.levels.first()?.get(index).map(|&(v, _)| v)
    }

    /// Forget the oldest `count` samples. A level whose blocks `count` is a multiple of keeps
    /// its alignment and just drops its prefix; the coarser levels (a handful of entries when
    /// `count` is a large power of two) are rebuilt from the level below.
    pub fn drain_front(&mut self, count: usize) {
        let count = count.min(self.len());
        for k in 0..self.levels.len() {
            if count.is_multiple_of(1usize << k.min(usize::BITS as usize - 1)) {
                let n = (count >> k).min(self.levels[k].len());
                self.levels[k].drain(..n);
            } else {
                let (below, rest) = self.levels.split_at_mut(k);
                rebuild_from(&below[k - 1], &mut rest[0]);
            }
        }
        while self.levels.len() > 1 && self.levels.last().is_some_and(Vec::is_empty) {
            self.levels.pop();
        }
    }

    /// Bytes this pyramid holds on the heap (capacities, for the history's memory bound).
    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self.levels.iter().map(Vec::capacity).sum();
        entries * size_of::<(f32, f32)>() + self.levels.capacity() * size_of::<Vec<(f32, f32)>>()
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
        for (offset, &(min, max)) in data[first.min(last)..last].iter().enumerate() {
            let index = (first + offset) * block;
            if level == 0 {
                out.push((index, min));
            } else {
                out.push((index, min));
                out.push((index + block / 2, max));
            }
        }
        // Past this level's last complete block, fewer than a block's samples remain: each
        // finer level has at most one complete block there, so the tail costs ≤ 2 points a
        // level instead of one per sample.
        let mut covered = last * block;
        for k in (0..level).rev() {
            let (size, data) = (1usize << k, &self.levels[k]);
            if covered >= end {
                break;
            }
            if let Some(&(min, max)) = data.get(covered >> k) {
                out.push((covered, min));
                if k > 0 {
                    out.push((covered + size / 2, max));
                }
                covered += size;
            }
        }
        out
    }
}

/// Level `above` anew as the pairwise merges of `below` (the pyramid's invariant).
fn rebuild_from(below: &[(f32, f32)], above: &mut Vec<(f32, f32)>) {
    above.clear();
    above.extend(
        below
            .chunks_exact(2)
            .map(|p| (p[0].0.min(p[1].0), p[0].1.max(p[1].1))),
    );
}

/// Debiased exponential moving average (TensorBoard's smoothing).
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    last: f64,
    count: u32,
    /// s^count for s = `factor`, updated by one multiplication a sample: a `powi` per sample
    /// was most of what re-smoothing cost while the slider is dragged.
    bias: f64,
    factor: f64,
}

impl Default for Ema {
    fn default() -> Self {
        Ema {
            last: 0.0,
            count: 0,
            bias: 1.0,
            factor: 0.0,
        }
    }
}

/// Below this, the debias term 1 − s^n is 1 to f32 precision and the closed form applies.
const DEBIAS_NEGLIGIBLE: f64 = 1e-9;

fn factor(smoothing: f32) -> f64 {
    smoothing.clamp(0.0, 0.999) as f64
}

impl Ema {
    pub fn next(&mut self, value: f32, smoothing: f32) -> f32 {
        let s = factor(smoothing);
        self.use_factor(s);
        self.last = self.last * s + (1.0 - s) * value as f64;
        self.count = self.count.saturating_add(1);
        self.bias *= s;
        self.current().unwrap_or(value)
    }

    /// Make `bias` s^count for this s (the smoothing of one history changes only through a
    /// fresh Ema, so this recomputes nothing in practice; capped so `powi`'s i32 cannot wrap).
    fn use_factor(&mut self, s: f64) {
        if s != self.factor {
            self.factor = s;
            self.bias = s.powi(self.count.min(i32::MAX as u32) as i32);
        }
    }

    /// The smoothed value now; None before any sample.
    fn current(&self) -> Option<f32> {
        let debias = 1.0 - self.bias;
        (debias > 0.0).then(|| (self.last / debias) as f32)
    }

    /// Smooth `rows` samples that all equal `value` and summarise the smoothed values.
    ///
    /// Re-smoothing a block from its mean: its rows are gone, so each stands in as the block's
    /// mean. That is exact for a flat block and otherwise drops the wiggle inside the block
    /// (which is at most the block's raw min–max). Min and max are the first and last smoothed
    /// values, since the EMA moves monotonically toward a constant input. The mean is summed
    /// sample by sample only while the debias term matters (the run's first ~20/(1−s) rows),
    /// then in closed form, so a slider drag costs O(blocks), not O(steps).
    pub fn run_constant(&mut self, value: f32, rows: u64, smoothing: f32) -> Summary {
        if rows == 0 {
            return Summary::of(f32::NAN);
        }
        let s = factor(smoothing);
        let first = self.next(value, smoothing);
        let mut sum = first as f64;
        let mut left = rows - 1;
        while left > 0 && self.bias > DEBIAS_NEGLIGIBLE {
            sum += self.next(value, smoothing) as f64;
            left -= 1;
        }
        if left > 0 {
            sum += self.advance_flat(value as f64, left, s);
        }
        let last = self.current().unwrap_or(value);
        Summary {
            min: first.min(last),
            max: first.max(last),
            mean: sum / rows as f64,
        }
    }

    /// `n` samples of `x` once debiasing no longer matters: last_j = x + (last_0 − x)·s^j.
    /// Returns the sum of the n smoothed values.
    fn advance_flat(&mut self, x: f64, n: u64, s: f64) -> f64 {
        let gap = self.last - x;
        let s_n = s.powf(n as f64);
        // Σ_{j=1..n} s^j
        let geometric = if s > 0.0 {
            s * (1.0 - s_n) / (1.0 - s)
        } else {
            0.0
        };
        self.last = x + gap * s_n;
        self.bias *= s_n;
        self.count = self
            .count
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        n as f64 * x + gap * geometric
    }
}

/// Min, max and mean of the values a stretch of rows had. The mean is kept in f64 because
/// blocks merge again and again as they age.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub min: f32,
    pub max: f32,
    pub mean: f64,
}

impl Summary {
    pub fn of(value: f32) -> Self {
        Summary {
            min: value,
            max: value,
            mean: value as f64,
        }
    }

    /// Both stretches as one; the means weighted by how many steps each stands for.
    pub fn merge(self, other: Summary, weight: f64, other_weight: f64) -> Summary {
        let total = weight + other_weight;
        let mean = if total > 0.0 {
            (self.mean * weight + other.mean * other_weight) / total
        } else {
            (self.mean + other.mean) / 2.0
        };
        Summary {
            // f32::min/max skip a NaN, like the pyramids do.
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            mean,
        }
    }
}

/// One plotted quantity of one task over the full-resolution rows: raw and smoothed values in
/// pyramids, and the EMA's state for the next row.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub raw: MinMaxPyramid,
    pub smooth: MinMaxPyramid,
    ema: Ema,
}

impl Series {
    pub fn push(&mut self, value: f32, smoothing: f32) {
        self.raw.push(value);
        let s = self.ema.next(value, smoothing);
        self.smooth.push(s);
    }

    /// Smooth every row again, continuing from `start` (the EMA after the summarised part),
    /// so the smoothed curve runs on across the boundary instead of restarting.
    pub fn resmooth(&mut self, start: Ema, smoothing: f32) {
        self.ema = start;
        self.smooth.clear();
        for i in 0..self.raw.len() {
            let value = self.raw.value(i).unwrap_or(f32::NAN);
            let s = self.ema.next(value, smoothing);
            self.smooth.push(s);
        }
    }

    pub fn drain_front(&mut self, count: usize) {
        self.raw.drain_front(count);
        self.smooth.drain_front(count);
    }

    pub fn pyramid(&self, smooth: bool) -> &MinMaxPyramid {
        if smooth { &self.smooth } else { &self.raw }
    }

    pub fn heap_bytes(&self) -> usize {
        self.raw.heap_bytes() + self.smooth.heap_bytes()
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
    fn draining_the_front_leaves_the_pyramid_of_the_rest() {
        let values: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 1009) as f32).collect();
        for drained in [0, 1, 3, 64, 1024, 1500, 4096] {
            let mut p = MinMaxPyramid::default();
            for &v in &values {
                p.push(v);
            }
            p.drain_front(drained);
            let mut fresh = MinMaxPyramid::default();
            for &v in &values[drained..] {
                fresh.push(v);
            }
            assert_eq!(p.levels, fresh.levels, "after draining {drained}");
            // And it keeps growing like a fresh one.
            p.push(-1.0);
            fresh.push(-1.0);
            assert_eq!(p.levels, fresh.levels, "push after draining {drained}");
        }
    }

    #[test]
    fn debiased_ema_matches_tensorboard() {
        // TensorBoard: last = last·s + (1−s)·x; smoothed = last / (1 − s^n).
        // s = 0.5, x = (1, 3): after 1 -> 0.5/0.5 = 1; after 2 -> (0.25 + 1.5)/0.75 = 2.3333
        let mut ema = Ema::default();
        assert!((ema.next(1.0, 0.5) - 1.0).abs() < 1e-6);
        assert!((ema.next(3.0, 0.5) - 2.333_333).abs() < 1e-5);
        // The running s^n is TensorBoard's s.powi(n), also when the smoothing changes.
        let (mut ema, mut last) = (Ema::default(), 0.0f64);
        for n in 1..=3000 {
            let s = if n < 1000 { 0.9 } else { 0.99 };
            let x = (n % 13) as f32;
            last = last * s + (1.0 - s) * x as f64;
            let want = last / (1.0 - s.powi(n));
            assert!((ema.next(x, s as f32) as f64 - want).abs() < 1e-4, "{n}");
        }
    }

    #[test]
    fn a_constant_run_in_closed_form_matches_sample_by_sample() {
        for smoothing in [0.0, 0.3, 0.9, 0.99] {
            for (lead, rows) in [
                (0u64, 1u64),
                (0, 5000),
                (3, 700),
                (10_000, 1),
                (10_000, 300),
            ] {
                let mut fast = Ema::default();
                for i in 0..lead {
                    fast.next((i % 7) as f32, smoothing);
                }
                let mut slow = fast;
                let got = fast.run_constant(2.5, rows, smoothing);
                let values: Vec<f32> = (0..rows).map(|_| slow.next(2.5, smoothing)).collect();
                let mean = values.iter().map(|&v| v as f64).sum::<f64>() / rows as f64;
                let min = values.iter().copied().fold(f32::MAX, f32::min);
                let max = values.iter().copied().fold(f32::MIN, f32::max);
                let case = format!("s {smoothing}, lead {lead}, rows {rows}");
                assert!((got.mean - mean).abs() < 1e-5, "{case}: {got:?} vs {mean}");
                assert!((got.min - min).abs() < 1e-5, "{case}: {got:?} vs {min}");
                assert!((got.max - max).abs() < 1e-5, "{case}: {got:?} vs {max}");
                // The state carries on the same way.
                assert!((fast.next(1.0, smoothing) - slow.next(1.0, smoothing)).abs() < 1e-5);
            }
        }
    }
}
