//! The failure inspector's numbers: false positives and negatives at the latest evaluation's
//! threshold, errors per identity, and the failure sheet written as PNG.

use std::collections::BTreeMap;

use crate::data::Dataset;
use crate::eval::EvalReport;
use crate::eval::metrics::{Failure, mine_failures};

/// False positives and false negatives at the threshold of a report, worst first.
pub fn failures_of(report: &EvalReport) -> (f32, Vec<Failure>, Vec<Failure>) {
    let threshold = report.verification.mean_threshold;
    let (fp, fneg) = mine_failures(&report.pairs, threshold);
    (threshold, fp, fneg)
}

/// Errors per identity: (identity, false positives, false negatives, C2P/P2C rank-1 misses).
pub fn errors_per_identity(
    dataset: &Dataset,
    report: &EvalReport,
) -> Vec<(usize, usize, usize, usize)> {
    let (_, fp, fneg) = failures_of(report);
    let mut table: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
    let id = |i: usize| dataset.images.samples[i].identity;
    for f in &fp {
        table.entry(id(f.a)).or_default().0 += 1;
    }
    for f in &fneg {
        table.entry(id(f.a)).or_default().1 += 1;
    }
    for o in report.c2p.iter().chain(report.p2c.iter()) {
        if o.true_rank != Some(1) {
            table.entry(o.true_identity).or_default().2 += 1;
        }
    }
    let mut rows: Vec<(usize, usize, usize, usize)> = table
        .into_iter()
        .map(|(i, (a, b, c))| (i, a, b, c))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 + r.2 + r.3));
    rows
}

/// A PNG sheet of the worst failures: one row per pair (false positives red, negatives blue).
pub fn failure_sheet(dataset: &Dataset, report: &EvalReport, rows: usize) -> image::RgbImage {
    let (_, fp, fneg) = failures_of(report);
    let s = dataset.images.image_size as u32;
    let scale = (96 / s).max(1);
    let cell = s * scale;
    let pad = 4u32;
    let pairs: Vec<(&Failure, [u8; 3])> = fp
        .iter()
        .take(rows)
        .map(|f| (f, [220, 40, 40]))
        .chain(fneg.iter().take(rows).map(|f| (f, [40, 90, 220])))
        .collect();
    let height = (pairs.len().max(1) as u32) * (cell + 2 * pad);
    let width = 2 * cell + 3 * pad;
    let mut sheet = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for (row, (f, colour)) in pairs.iter().enumerate() {
        let y0 = row as u32 * (cell + 2 * pad);
        for x in 0..width {
            for y in y0..y0 + cell + 2 * pad {
                if x < pad || x >= width - pad || y < y0 + pad || y >= y0 + cell + pad {
                    sheet.put_pixel(x, y, image::Rgb(*colour));
                }
            }
        }
        for (k, index) in [f.a, f.b].into_iter().enumerate() {
            let img = dataset.images.image(index);
            let x0 = pad + k as u32 * (cell + pad);
            for y in 0..cell {
                for x in 0..cell {
                    let p = (((y / scale) * s + x / scale) * 3) as usize;
                    sheet.put_pixel(
                        x0 + x,
                        y0 + pad + y,
                        image::Rgb([img[p], img[p + 1], img[p + 2]]),
                    );
                }
            }
        }
    }
    sheet
}
