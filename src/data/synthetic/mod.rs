//! The embedded synthetic photo/caricature face generator.
//!
//! Each identity is a vector of face-shape deviations from a mean face (standard-normal
//! units) plus categorical traits (hair style, glasses, beard, colours). Photos draw that
//! face with nuisance variation (pose, expression, lighting, noise); caricatures first
//! push every deviation further from the mean (the classic caricature rule), then draw it
//! in one of several artistic styles and bend it with a smooth random warp.
//!
//! Everything is rendered with tiny-skia at twice the stored size and box-downsampled,
//! so edges stay anti-aliased at 32 px. Every image owns an RNG seeded from
//! `(seed, identity, modality, k)`, so the bytes do not depend on the rayon thread count
//! or scheduling order.

use config::MAX_PIXEL_BYTES;
use identity::Identity;
use names::identity_names;
use render::render_image;

mod config;
mod face;
mod hair;
mod identity;
mod names;
mod painter;
mod random;
mod render;
#[cfg(test)]
mod tests;

pub use config::{MAX_IDENTITIES, MAX_IMAGES_PER_MODALITY, SyntheticConfig, SyntheticError};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use super::{Dataset, ImageSet, LoadReport, Modality, ProtocolFacts, Sample, Splits};
use crate::data::dataset::LoadMonitor;

/// Generates the dataset; calls `progress.fraction(fraction)` with non-decreasing values in `0..=1`
/// now and then, from any thread.
pub fn generate(
    cfg: &SyntheticConfig,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, SyntheticError> {
    cfg.validate()?;
    let start = Instant::now();
    progress.fraction(0.0);

    let n_ids = cfg.identities();
    let identities: Vec<Identity> = (0..n_ids).map(|i| Identity::new(cfg.seed, i)).collect();
    let size = cfg.image_size;
    let len = size * size * 3;
    let total = n_ids * cfg.images_per_identity();
    let mut pixels = vec![0u8; total * len];

    // Report about 100 times; the mutex keeps reported values monotonic even though
    // images finish out of order on several threads.
    let done = AtomicUsize::new(0);
    let reported = Mutex::new(0usize);
    let step = (total / 100).max(1);
    pixels
        .par_chunks_mut(len)
        .enumerate()
        .try_for_each(|(j, out)| {
            if progress.cancelled() {
                return Err(SyntheticError::Cancelled);
            }
            let (id, modality, k) = cfg.locate(j);
            render_image(&identities[id], cfg.seed, id, modality, k, size, out)?;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.files(n, total);
            if n.is_multiple_of(step)
                && let Ok(mut last) = reported.try_lock()
            {
                let now = done.load(Ordering::Relaxed);
                if now > *last && now < total {
                    *last = now;
                    progress.fraction(now as f32 / total as f32);
                }
            }
            Ok::<(), SyntheticError>(())
        })?;

    let mut samples = Vec::with_capacity(total);
    let mut splits = Splits {
        train_identities: (0..cfg.train_identities).collect(),
        open_identities: (cfg.train_identities..n_ids).collect(),
        ..Splits::default()
    };
    for j in 0..total {
        let (id, modality, k) = cfg.locate(j);
        let (tag, count) = match modality {
            Modality::Photo => ('p', cfg.photos_per_identity),
            Modality::Caricature => ('c', cfg.caricatures_per_identity),
        };
        samples.push(Sample {
            identity: id,
            modality,
            source: format!("synthetic:{id}/{tag}{k}"),
        });
        if id >= cfg.train_identities {
            splits.open.push(j);
        } else if k >= count - cfg.test_per_modality {
            splits.closed_test.push(j);
        } else {
            splits.train.push(j);
        }
    }

    progress.fraction(1.0);
    let images = ImageSet {
        image_size: size,
        identities: identity_names(cfg.seed, n_ids),
        samples,
        pixels,
    };
    let facts = ProtocolFacts::held_out("synthetic held-out identities", &images, &splits);
    Ok(Dataset {
        name: "synthetic".into(),
        images,
        splits,
        protocol: None,
        facts,
        published_folds: None,
        report: LoadReport {
            load_secs: start.elapsed().as_secs_f64(),
            ..LoadReport::default()
        },
    })
}

/// Contact sheet: one row per identity (the first `rows` identities of the dataset `cfg`
/// generates, rendered at `cell` px): its photos, then its caricatures, 2 px apart.
pub fn contact_sheet(
    cfg: &SyntheticConfig,
    rows: usize,
    cell: usize,
) -> Result<image::RgbImage, SyntheticError> {
    const GAP: usize = 2;
    cfg.validate()?;
    if !(16..=512).contains(&cell) {
        return Err(SyntheticError::InvalidConfig {
            field: "cell",
            message: format!("({cell}) must be between 16 and 512 pixels"),
        });
    }
    if rows == 0 {
        return Err(SyntheticError::InvalidConfig {
            field: "rows",
            message: "must be at least 1".into(),
        });
    }
    let rows = rows.min(cfg.identities());
    let per = cfg.images_per_identity();
    let width = per * cell + (per + 1) * GAP;
    let height = rows * cell + (rows + 1) * GAP;
    let too_big = || SyntheticError::InvalidConfig {
        field: "rows",
        message: format!("a {width}×{height} contact sheet is too large"),
    };
    let (w32, h32) = (
        u32::try_from(width).map_err(|_| too_big())?,
        u32::try_from(height).map_err(|_| too_big())?,
    );
    if (width as u128) * (height as u128) * 3 > u128::from(MAX_PIXEL_BYTES) {
        return Err(too_big());
    }

    let len = cell * cell * 3;
    let mut cells = vec![0u8; rows * per * len];
    cells
        .par_chunks_mut(len)
        .enumerate()
        .try_for_each(|(j, out)| {
            let (id, modality, k) = cfg.locate(j);
            render_image(
                &Identity::new(cfg.seed, id),
                cfg.seed,
                id,
                modality,
                k,
                cell,
                out,
            )
        })?;

    let mut sheet = vec![40u8; width * height * 3];
    for (j, img) in cells.chunks(len).enumerate() {
        let (r, c) = (j / per, j % per);
        let (x0, y0) = (GAP + c * (cell + GAP), GAP + r * (cell + GAP));
        for y in 0..cell {
            let dst = ((y0 + y) * width + x0) * 3;
            sheet[dst..dst + cell * 3].copy_from_slice(&img[y * cell * 3..(y + 1) * cell * 3]);
        }
    }
    image::RgbImage::from_raw(w32, h32, sheet).ok_or_else(too_big)
}
