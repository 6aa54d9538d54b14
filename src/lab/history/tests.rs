//! The bounded history against brute force over the rows that went in.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows as a trainer sends them: contiguous steps, some rows coalesced (standing for 2–4
/// steps), wall time rising unevenly, rule switches, values drifting with noise.
fn random_rows(seed: u64, n: usize) -> Vec<StepMetrics> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut step = 0u64;
    let mut wall = 0.0;
    let mut drift = [0.5f32; 2 * TASKS];
    (0..n)
        .map(|i| {
            let coalesced = if rng.random_bool(0.05) {
                rng.random_range(2..=4)
            } else {
                1
            };
            step += coalesced as u64;
            wall += rng.random_range(0.001..0.2) * coalesced as f64;
            for d in &mut drift {
                *d = (*d + rng.random_range(-0.01..0.01)).clamp(0.0, 1.0);
            }
            let noisy = |k: usize, rng: &mut ChaCha8Rng| drift[k] + rng.random_range(-0.1..0.1);
            StepMetrics {
                step,
                wall_secs: wall,
                strategy: if (i / 20_000) % 2 == 0 {
                    "proposed"
                } else {
                    "naive"
                }
                .into(),
                weights: std::array::from_fn(|t| noisy(t, &mut rng)),
                losses: std::array::from_fn(|t| 5.0 * noisy(TASKS + t, &mut rng)),
                lr: 1e-3 * (1 + i / 50_000) as f64,
                coalesced_steps: coalesced,
                lens: None,
            }
        })
        .collect()
}

fn history_of(rows: &[StepMetrics], smoothing: f32) -> RunHistory {
    let mut h = RunHistory::new(smoothing);
    for r in rows {
        h.push(r.clone());
    }
    h
}

fn value(row: &StepMetrics, q: Quantity, t: usize) -> f32 {
    match q {
        Quantity::Weights => row.weights[t],
        Quantity::Losses => row.losses[t],
    }
}

/// The input rows with steps in `lo..=hi` (the inputs' steps rise).
fn between(rows: &[StepMetrics], lo: u64, hi: u64) -> &[StepMetrics] {
    let start = rows.partition_point(|r| r.step < lo);
    let end = rows.partition_point(|r| r.step <= hi);
    &rows[start..end.max(start)]
}

/// Min, max and step-weighted mean of the input rows with steps in `lo..=hi`, one by one.
fn brute_force(rows: &[StepMetrics], q: Quantity, t: usize, lo: u64, hi: u64) -> Summary {
    let inside = between(rows, lo, hi);
    let (mut min, mut max, mut sum, mut n) = (f32::MAX, f32::MIN, 0.0, 0.0);
    for r in inside {
        let v = value(r, q, t);
        min = min.min(v);
        max = max.max(v);
        sum += v as f64 * steps_of(r) as f64;
        n += steps_of(r) as f64;
    }
    Summary {
        min,
        max,
        mean: sum / n,
    }
}

/// Steps point `i` stands for, first and last.
fn step_span(h: &RunHistory, i: usize) -> (u64, u64) {
    match h.point(i) {
        Some(Point::Block(b)) => (b.first_step, b.last_step),
        Some(Point::Row(r)) => (r.step + 1 - steps_of(r), r.step),
        None => panic!("no point {i}"),
    }
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn two_million_rows_stay_within_the_memory_bound() {
    // Counted from capacities: full-resolution rows (struct + rule name), 12 pyramids of < 2
    // entries per row (each level half the one below), the blocks (struct + rule name), and
    // some slack for the pyramids' level lists.
    let rule = "proposed".len();
    let bound = FULL_ROWS_MAX * (size_of::<StepMetrics>() + rule)
        + 2 * TASKS * 2 * (2 * FULL_ROWS_MAX) * size_of::<(f32, f32)>()
        + BLOCK_BUDGET * (size_of::<Block>() + rule)
        + 64 * 1024;
    assert!(bound < 16 << 20, "the bound itself: {bound} bytes");
    let mut h = RunHistory::new(0.6);
    let mut at_one_million = 0;
    for step in 1..=2_000_000u64 {
        let t = step as f32;
        h.push(StepMetrics {
            step,
            wall_secs: step as f64 * 0.05,
            strategy: "proposed".into(),
            weights: [0.3, 0.3 + (t * 0.01).sin() * 0.05, 0.4],
            losses: [5.0 / (1.0 + t * 1e-4), 4.0, 5.5],
            lr: 1e-3,
            coalesced_steps: 1,
            lens: None,
        });
        if step == 1_000_000 {
            at_one_million = h.heap_bytes();
        }
    }
    assert!(h.rows().len() <= FULL_ROWS_MAX);
    assert!(h.blocks().len() <= BLOCK_BUDGET);
    assert_eq!(h.steps(), 2_000_000);
    for bytes in [at_one_million, h.heap_bytes()] {
        assert!(bytes <= bound, "{bytes} bytes > bound {bound}");
    }
    // Steady: the second million adds nothing (a few KB of pyramid levels come and go with
    // where the history is in its fold cycle).
    let now = h.heap_bytes();
    assert!(
        now <= at_one_million + (64 << 10),
        "{now} vs {at_one_million}"
    );
}

#[test]
fn range_min_max_and_mean_match_brute_force() {
    let rows = random_rows(7, 100_000);
    let h = history_of(&rows, 0.0);
    assert!(h.summarised_len() > 0 && !h.rows().is_empty());
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let nb = h.summarised_len();
    for case in 0..400 {
        // Half the ranges straddle the boundary between blocks and rows.
        let (s, e) = if case % 2 == 0 {
            let s = rng.random_range(0..h.len());
            (s, rng.random_range(s + 1..=h.len()))
        } else {
            (
                rng.random_range(nb.saturating_sub(50)..nb),
                rng.random_range(nb + 1..(nb + 50).min(h.len())),
            )
        };
        let (lo, hi) = (step_span(&h, s).0, step_span(&h, e - 1).1);
        for q in Quantity::ALL {
            for t in 0..TASKS {
                let got = h.summary(q, t, false, (s, e)).expect("a non-empty range");
                let want = brute_force(&rows, q, t, lo, hi);
                assert_eq!(
                    (got.min, got.max),
                    (want.min, want.max),
                    "{q:?} {t} {s}..{e}"
                );
                assert!(close(got.mean, want.mean, 1e-9), "{got:?} vs {want:?}");
            }
        }
    }
}

#[test]
fn the_drawn_envelope_holds_every_extreme() {
    let rows = random_rows(11, 80_000);
    let h = history_of(&rows, 0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let last = rows.last().map_or(0, |r| r.step);
    for case in 0..200 {
        let columns = rng.random_range(1..2000);
        let (x0, x1, range) = if case == 0 {
            (0, last, (0, h.len()))
        } else {
            let x0 = rng.random_range(0..last);
            let x1 = rng.random_range(x0..=last);
            (x0, x1, h.visible_range(x0 as f64, x1 as f64, false))
        };
        let (q, t) = (Quantity::ALL[case % 2], case % TASKS);
        let points = h.decimate(q, t, false, range, columns, false);
        let min = points.iter().map(|p| p[1]).fold(f64::MAX, f64::min);
        let max = points.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        let want = brute_force(&rows, q, t, x0, x1);
        if want.min > want.max {
            continue; // no row inside: only the margins are drawn
        }
        assert!(
            min <= want.min as f64 && max >= want.max as f64,
            "case {case}"
        );
        if case == 0 {
            // Zoomed out, the envelope is exactly the extremes of every value.
            assert_eq!((min, max), (want.min as f64, want.max as f64));
            // And about the pyramid's ≤ 4 points per column, not one per step.
            assert!(points.len() <= 4 * columns + 64, "{} points", points.len());
        }
    }
}

#[test]
fn block_means_weighted_by_steps_match_brute_force() {
    let rows = random_rows(3, 120_000);
    let smoothing = 0.9;
    let h = history_of(&rows, smoothing);
    // The smoothed values as they were drawn live, for the blocks' smoothed summaries.
    let (mut w, mut l) = ([Ema::default(); TASKS], [Ema::default(); TASKS]);
    let smoothed: Vec<StepMetrics> = rows
        .iter()
        .map(|r| StepMetrics {
            weights: std::array::from_fn(|t| w[t].next(r.weights[t], smoothing)),
            losses: std::array::from_fn(|t| l[t].next(r.losses[t], smoothing)),
            ..r.clone()
        })
        .collect();
    let mut steps = 0;
    for b in h.blocks() {
        let inside = between(&rows, b.first_step, b.last_step);
        assert_eq!(b.rows, inside.len() as u64);
        assert_eq!(b.steps, inside.iter().map(steps_of).sum::<u64>());
        assert_eq!(b.steps, b.last_step - b.first_step + 1, "no gaps");
        let newest = &inside[inside.len() - 1];
        assert_eq!(
            (b.last_wall, &b.strategy, b.lr),
            (newest.wall_secs, &newest.strategy, newest.lr)
        );
        assert_eq!(b.first_wall, inside[0].wall_secs);
        for q in Quantity::ALL {
            for t in 0..TASKS {
                let want = brute_force(&rows, q, t, b.first_step, b.last_step);
                let got = b.summary(q, t, false);
                assert_eq!((got.min, got.max), (want.min, want.max));
                assert!(close(got.mean, want.mean, 1e-9), "{got:?} vs {want:?}");
                let want = brute_force(&smoothed, q, t, b.first_step, b.last_step);
                let got = b.summary(q, t, true);
                assert_eq!((got.min, got.max), (want.min, want.max));
                assert!(close(got.mean, want.mean, 1e-9), "{got:?} vs {want:?}");
            }
        }
        steps += b.steps;
    }
    let recent: u64 = h.rows().iter().map(steps_of).sum();
    assert_eq!(steps + recent, rows.iter().map(steps_of).sum::<u64>());
}

/// The index a binary search should give, found by walking every point.
fn brute_visible_range(spans: &[(f64, f64)], x0: f64, x1: f64) -> (usize, usize) {
    let first = spans.iter().position(|s| s.1 >= x0).unwrap_or(spans.len());
    let start = first.saturating_sub(1);
    let end = (spans.iter().filter(|s| s.0 <= x1).count() + 1).min(spans.len());
    (start, end.max(start))
}

#[test]
fn visible_range_and_row_at_match_brute_force_across_the_boundary() {
    let rows = random_rows(5, 60_000);
    let h = history_of(&rows, 0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for wall in [false, true] {
        let spans: Vec<(f64, f64)> = (0..h.len())
            .map(|i| h.point(i).map(|p| p.x_span(wall)).unwrap_or_default())
            .collect();
        let boundary = spans[h.summarised_len()].0;
        let end = spans[spans.len() - 1].1;
        for case in 0..2000 {
            // Half the queries near the boundary, some beyond either end.
            let x = if case % 2 == 0 {
                boundary + rng.random_range(-30.0..30.0) * if wall { 0.1 } else { 1.0 }
            } else {
                rng.random_range(-10.0..end + 10.0)
            };
            // Whole steps too, where x lands exactly on a block's edge or a row.
            let x = if case % 3 == 0 && !wall { x.round() } else { x };
            let width = rng.random_range(0.0..end / 4.0);
            let got = h.visible_range(x, x + width, wall);
            assert_eq!(
                got,
                brute_visible_range(&spans, x, x + width),
                "x {x} wall {wall}"
            );
            let i = h.row_at(x, wall).expect("not empty");
            let nearest = spans
                .iter()
                .map(|&s| distance(x, s))
                .fold(f64::MAX, f64::min);
            assert_eq!(distance(x, spans[i]), nearest, "x {x} wall {wall}: {i}");
        }
    }
    assert_eq!(RunHistory::default().row_at(3.0, false), None);
    assert_eq!(RunHistory::default().visible_range(0.0, 9.0, true), (0, 0));
}

#[test]
fn resmoothing_runs_on_across_the_boundary() {
    let rows = random_rows(9, 100_000);
    let mut h = history_of(&rows, 0.5);
    h.set_smoothing(0.95);
    // The reference: the whole run smoothed row by row. The blocks were re-smoothed from their
    // means, but the EMA forgets at 0.95 a row, so the full-resolution rows, past the first
    // few hundred, must be as if nothing had been summarised.
    let mut emas = [Ema::default(); TASKS];
    let want: Vec<[f32; TASKS]> = rows
        .iter()
        .map(|r| std::array::from_fn(|t| emas[t].next(r.losses[t], 0.95)))
        .collect();
    let nb = h.summarised_len();
    let first_row = rows.len() - h.rows().len();
    for k in [500, 1000, h.rows().len() - 1] {
        let (_, losses) = h.smoothed_at(nb + k);
        for t in 0..TASKS {
            assert!((losses[t] - want[first_row + k][t]).abs() < 1e-4, "row {k}");
        }
    }
    // No jump at the boundary: the first row's smoothed value lies within the last block's
    // smoothed range widened by what one raw row can move it.
    let last = &h.blocks()[nb - 1];
    let (_, first) = h.smoothed_at(nb);
    for t in 0..TASKS {
        let s = last.summary(Quantity::Losses, t, true);
        let step = 0.05 * 5.0 * 1.2;
        assert!(
            first[t] >= s.min - step && first[t] <= s.max + step,
            "{t}: {first:?} {s:?}"
        );
    }
    // Back to no smoothing: smoothed is raw again, blocks included.
    h.set_smoothing(0.0);
    for b in h.blocks().iter().take(50) {
        let (raw, smooth) = (
            b.summary(Quantity::Weights, 1, false),
            b.summary(Quantity::Weights, 1, true),
        );
        assert!(close(raw.mean, smooth.mean, 1e-6));
    }
}

#[test]
fn markers_stay_exact_on_both_axes_after_folding() {
    let rows = random_rows(13, 50_000);
    let mut h = RunHistory::new(0.0);
    let at = rows[999].step;
    h.markers.push(Marker::new(at, "-> naive".into()));
    for r in &rows {
        h.push(r.clone());
    }
    let marker = &h.markers[0];
    assert!(h.rows()[0].step > at, "the marked row was folded");
    assert_eq!(h.marker_x(marker, false), at as f64);
    assert_eq!(h.marker_x(marker, true), rows[999].wall_secs);
    // One set after its rows were folded falls back to the block's time, inside the block.
    let late = Marker::new(rows[2000].step, "late".into());
    let x = h.marker_x(&late, true);
    assert!(
        (rows[1900].wall_secs..=rows[2100].wall_secs).contains(&x),
        "{x}"
    );
}

#[test]
fn a_forked_copy_goes_its_own_way() {
    let rows = random_rows(17, 40_000);
    let a = history_of(&rows, 0.3);
    let mut b = a.clone();
    b.set_smoothing(0.8);
    b.push(StepMetrics {
        step: rows[rows.len() - 1].step + 1,
        ..rows[0].clone()
    });
    assert_eq!(a.len(), history_of(&rows, 0.3).len());
    assert_eq!(a.smoothing(), 0.3);
    assert_eq!(b.steps(), a.steps() + 1);
}
