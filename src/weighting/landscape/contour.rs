//! Contour lines of a function sampled on a grid (marching squares), joined into polylines so
//! a plot draws a handful of lines per level instead of thousands of segments.

use std::collections::HashMap;

/// Samples of a function on an `nx × ny` grid: row-major with x fastest, entry `j·nx + i` at
/// (x_i, y_j), the layout of [`super::functions::grid`].
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub nx: usize,
    pub ny: usize,
    pub values: Vec<f64>,
}

impl Grid {
    fn value(&self, i: usize, j: usize) -> f64 {
        self.values[j * self.nx + i]
    }

    fn x(&self, i: usize) -> f64 {
        coordinate(self.x_range, self.nx, i)
    }

    fn y(&self, j: usize) -> f64 {
        coordinate(self.y_range, self.ny, j)
    }

    /// The smallest and largest finite value, or `None` when there is none.
    pub fn value_range(&self) -> Option<(f64, f64)> {
        let finite = self.values.iter().copied().filter(|v| v.is_finite());
        finite.fold(None, |range, v| match range {
            None => Some((v, v)),
            Some((low, high)) => Some((low.min(v), high.max(v))),
        })
    }
}

fn coordinate(range: (f64, f64), count: usize, index: usize) -> f64 {
    if count <= 1 {
        return range.0;
    }
    range.0 + (range.1 - range.0) * index as f64 / (count - 1) as f64
}

/// `count` levels evenly spaced strictly inside the grid's value range (none for a constant
/// or empty grid).
pub fn even_levels(grid: &Grid, count: usize) -> Vec<f64> {
    match grid.value_range() {
        Some((low, high)) if high > low => (1..=count)
            .map(|k| low + (high - low) * k as f64 / (count + 1) as f64)
            .collect(),
        _ => Vec::new(),
    }
}

/// One grid edge: horizontal from (i, j) to (i+1, j), or vertical from (i, j) to (i, j+1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Edge {
    Horizontal(usize, usize),
    Vertical(usize, usize),
}

/// The point where the level crosses `edge`, by linear interpolation.
fn crossing(grid: &Grid, edge: Edge, level: f64) -> [f64; 2] {
    let (a, b, pa, pb) = match edge {
        Edge::Horizontal(i, j) => (
            grid.value(i, j),
            grid.value(i + 1, j),
            [grid.x(i), grid.y(j)],
            [grid.x(i + 1), grid.y(j)],
        ),
        Edge::Vertical(i, j) => (
            grid.value(i, j),
            grid.value(i, j + 1),
            [grid.x(i), grid.y(j)],
            [grid.x(i), grid.y(j + 1)],
        ),
    };
    let t = if b == a {
        0.5
    } else {
        ((level - a) / (b - a)).clamp(0.0, 1.0)
    };
    [pa[0] + t * (pb[0] - pa[0]), pa[1] + t * (pb[1] - pa[1])]
}

/// The segments of one cell (its lower-left corner at (i, j)), as pairs of crossed edges.
fn cell_segments(grid: &Grid, i: usize, j: usize, level: f64) -> Vec<(Edge, Edge)> {
    let corners = [
        grid.value(i, j),
        grid.value(i + 1, j),
        grid.value(i + 1, j + 1),
        grid.value(i, j + 1),
    ];
    if corners.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let above = corners.map(|v| v >= level);
    let bottom = Edge::Horizontal(i, j);
    let right = Edge::Vertical(i + 1, j);
    let top = Edge::Horizontal(i, j + 1);
    let left = Edge::Vertical(i, j);
    let case = above
        .iter()
        .enumerate()
        .fold(0, |acc, (k, &up)| acc | (usize::from(up) << k));
    match case {
        0 | 15 => Vec::new(),
        1 | 14 => vec![(left, bottom)],
        2 | 13 => vec![(bottom, right)],
        3 | 12 => vec![(left, right)],
        4 | 11 => vec![(right, top)],
        6 | 9 => vec![(bottom, top)],
        7 | 8 => vec![(left, top)],
        // Saddles: the cell's mean says which diagonal pair of corners is joined.
        5 | 10 => {
            let centre_above = corners.iter().sum::<f64>() / 4.0 >= level;
            if centre_above == above[0] {
                vec![(left, top), (bottom, right)]
            } else {
                vec![(left, bottom), (right, top)]
            }
        }
        _ => Vec::new(),
    }
}

/// The level set `f = level` as polylines (closed ones end where they start).
pub fn contour_lines(grid: &Grid, level: f64) -> Vec<Vec<[f64; 2]>> {
    if grid.nx < 2 || grid.ny < 2 || grid.values.len() != grid.nx * grid.ny {
        return Vec::new();
    }
    let mut segments = Vec::new();
    for j in 0..grid.ny - 1 {
        for i in 0..grid.nx - 1 {
            segments.extend(cell_segments(grid, i, j, level));
        }
    }
    let chains = chain(&segments);
    chains
        .into_iter()
        .map(|edges| {
            edges
                .into_iter()
                .map(|e| crossing(grid, e, level))
                .collect()
        })
        .collect()
}

/// Joins segments that share an edge into chains of edges: open chains from their free ends
/// first, then the closed loops.
fn chain(segments: &[(Edge, Edge)]) -> Vec<Vec<Edge>> {
    let mut at: HashMap<Edge, Vec<usize>> = HashMap::new();
    for (k, (a, b)) in segments.iter().enumerate() {
        at.entry(*a).or_default().push(k);
        at.entry(*b).or_default().push(k);
    }
    let mut used = vec![false; segments.len()];
    let mut chains = Vec::new();
    let free_ends: Vec<Edge> = segments
        .iter()
        .flat_map(|(a, b)| [*a, *b])
        .filter(|e| at.get(e).is_some_and(|s| s.len() == 1))
        .collect();
    let loop_starts: Vec<Edge> = segments.iter().map(|(a, _)| *a).collect();
    for start in free_ends.into_iter().chain(loop_starts) {
        let mut edges = vec![start];
        let mut here = start;
        while let Some(&k) = at.get(&here).and_then(|s| s.iter().find(|&&k| !used[k])) {
            used[k] = true;
            let (a, b) = segments[k];
            here = if a == here { b } else { a };
            edges.push(here);
        }
        if edges.len() > 1 {
            chains.push(edges);
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled(f: impl Fn(f64, f64) -> f64, n: usize, range: (f64, f64)) -> Grid {
        let mut values = Vec::with_capacity(n * n);
        for j in 0..n {
            for i in 0..n {
                values.push(f(coordinate(range, n, i), coordinate(range, n, j)));
            }
        }
        Grid {
            x_range: range,
            y_range: range,
            nx: n,
            ny: n,
            values,
        }
    }

    #[test]
    fn a_circle_is_one_closed_line_on_the_circle() {
        let grid = sampled(|x, y| x * x + y * y, 81, (-2.0, 2.0));
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(line.len() > 40);
        assert_eq!(line.first(), line.last(), "closed");
        for p in line {
            let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
            // Linear interpolation of r² across a 0.05 cell: within a few thousandths.
            assert!((r - 1.0).abs() < 5e-3, "{p:?}");
        }
    }

    #[test]
    fn a_plane_gives_one_straight_open_line_across_the_grid() {
        let grid = sampled(|x, y| x + 2.0 * y, 11, (0.0, 1.0));
        let lines = contour_lines(&grid, 1.05);
        assert_eq!(lines.len(), 1);
        for p in &lines[0] {
            assert!((p[0] + 2.0 * p[1] - 1.05).abs() < 1e-12, "{p:?}");
        }
        assert_ne!(lines[0].first(), lines[0].last());
        // Levels outside the values draw nothing; a constant grid has no levels.
        assert!(contour_lines(&grid, 10.0).is_empty());
        assert!(even_levels(&sampled(|_, _| 1.0, 5, (0.0, 1.0)), 4).is_empty());
        let levels = even_levels(&grid, 2);
        assert_eq!(levels, vec![1.0, 2.0]);
    }

    #[test]
    fn non_finite_samples_leave_a_hole_not_a_panic() {
        let grid = sampled(
            |x, y| if x > 0.5 { f64::NAN } else { x + y },
            11,
            (0.0, 1.0),
        );
        for line in contour_lines(&grid, 0.5) {
            assert!(line.iter().all(|p| p[0] <= 0.5 + 1e-12), "{line:?}");
        }
    }
}
