//! Assembling loaded images into an image set, and the seeded identity splits.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::cache::decode_with_cache;
use super::decode::{Decoded, Entry};
use super::options::{LoadError, LoadOptions};
use crate::data::dataset::LoadMonitor;
use crate::data::{ImageSet, LoadReport, Modality, Sample, Splits};

/// The loaded images, plus lookups for protocol parsing.
pub(crate) struct Assembled {
    pub images: ImageSet,
    /// Entry key → sample index, for loaded images.
    pub by_key: HashMap<String, usize>,
    /// Keys of entries that were found but not loaded.
    pub skipped_keys: HashSet<String>,
}

/// Builds the image set from decoded entries: skipped files and landmark notes go to the report,
/// identities without any loaded image are dropped (and listed as excluded).
pub(crate) fn assemble(
    root: &Path,
    identity_names: &[String],
    entries: &[Entry],
    decoded: Decoded,
    image_size: usize,
    report: &mut LoadReport,
) -> Result<Assembled, LoadError> {
    report.missing_landmarks += decoded.missing_landmarks;
    report
        .protocol_problems
        .extend(decoded.landmark_notes.iter().cloned());
    let mut used = vec![false; identity_names.len()];
    for (e, o) in entries.iter().zip(&decoded.outcomes) {
        if o.is_none() {
            used[e.identity] = true;
        }
    }
    let mut remap = vec![usize::MAX; identity_names.len()];
    let mut identities = Vec::new();
    for (i, name) in identity_names.iter().enumerate() {
        if used[i] {
            remap[i] = identities.len();
            identities.push(name.clone());
        } else {
            report.excluded_identities.push((
                name.clone(),
                "no usable images: left out of every task".to_string(),
            ));
        }
    }
    let mut samples = Vec::new();
    let mut by_key = HashMap::new();
    let mut skipped_keys = HashSet::new();
    for (e, o) in entries.iter().zip(decoded.outcomes) {
        match o {
            None => {
                by_key.insert(e.key.clone(), samples.len());
                samples.push(Sample {
                    identity: remap[e.identity],
                    modality: e.modality,
                    source: e.path.display().to_string(),
                });
            }
            Some(reason) => {
                skipped_keys.insert(e.key.clone());
                report
                    .skipped_images
                    .push((e.path.display().to_string(), reason));
            }
        }
    }
    if samples.is_empty() {
        let detail = match report.skipped_images.first() {
            None => "no image files found".to_string(),
            Some((p, why)) => format!(
                "{} file(s) found, none could be read (first: {p}: {why})",
                report.skipped_images.len()
            ),
        };
        return Err(LoadError::NoImages {
            path: root.to_path_buf(),
            detail,
        });
    }
    Ok(Assembled {
        images: ImageSet {
            image_size,
            identities,
            samples,
            pixels: decoded.pixels,
        },
        by_key,
        skipped_keys,
    })
}

// ---------------------------------------------------------------------------------------------
// Splits.

/// Each identity's images: `[photos, caricatures]`, indices into the samples.
fn images_by_identity(images: &ImageSet) -> Vec<[Vec<usize>; 2]> {
    let mut by_id: Vec<[Vec<usize>; 2]> = vec![[Vec::new(), Vec::new()]; images.identities.len()];
    for (i, s) in images.samples.iter().enumerate() {
        let m = usize::from(s.modality == Modality::Caricature);
        if let Some(slot) = by_id.get_mut(s.identity) {
            slot[m].push(i);
        }
    }
    by_id
}

/// Why a one-modality training identity serves only some tasks, for the report.
fn one_modality_reason(photo_less: bool, held_out_split: bool) -> String {
    let (trained, excluded) = if photo_less {
        ("no photos: trained for verif and cari-id only", "visual-id")
    } else {
        (
            "no caricatures: trained for verif and visual-id only",
            "cari-id",
        )
    };
    if held_out_split {
        format!("{trained}; excluded from {excluded} and from open-set evaluation")
    } else {
        format!("{trained}; excluded from {excluded}")
    }
}

/// Seeded identity split, for data without a published protocol (the `folder:` layout, CaVI
/// with pair lists only, WebCaricature without `EvaluationProtocols/`).
///
/// - Identities with both modalities: a share `open_fraction` (rounded) is held out as the open
///   set (at least one stays in training when no other identity can be trained on).
/// - Identities with one modality always go to training (they cannot form caricature-photo pairs)
///   and are listed in `excluded` for the tasks they cannot serve.
/// - For each training identity and modality, `test_per_modality` random images go to
///   `closed_test` when it has more than that many, else all stay in `train`.
pub fn seeded_splits(images: &ImageSet, opts: &LoadOptions) -> (Splits, Vec<(String, String)>) {
    let by_id = images_by_identity(images);
    let mut both = Vec::new();
    let mut single = Vec::new();
    let mut excluded = Vec::new();
    for (id, [photos, caris]) in by_id.iter().enumerate() {
        match (photos.is_empty(), caris.is_empty()) {
            (false, false) => both.push(id),
            (true, true) => {}
            (photo_less, _) => {
                single.push(id);
                let reason = one_modality_reason(photo_less, true);
                excluded.push((images.identities[id].clone(), reason));
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut order = both.clone();
    order.shuffle(&mut rng);
    let want = (opts.open_fraction.clamp(0.0, 1.0) * both.len() as f64).round() as usize;
    let keep = usize::from(single.is_empty());
    let n_open = want.min(both.len().saturating_sub(keep));
    let open_identities = order[..n_open].to_vec();
    let train_identities: Vec<usize> = order[n_open..].iter().chain(&single).copied().collect();
    let splits = split_images(&by_id, train_identities, open_identities, opts, &mut rng);
    (splits, excluded)
}

/// The split a published protocol defines: `train_identities` are trained on (their images
/// less `test_per_modality` seeded closed-set test images per modality), `test_identities` are
/// never trained on (all their images form the open set). Identities in neither are not used.
/// Returns the splits and the report lines of one-modality training identities.
pub(crate) fn protocol_splits(
    images: &ImageSet,
    train_identities: Vec<usize>,
    test_identities: Vec<usize>,
    opts: &LoadOptions,
) -> (Splits, Vec<(String, String)>) {
    let by_id = images_by_identity(images);
    let excluded = train_identities
        .iter()
        .filter_map(|&id| {
            let [photos, caris] = &by_id[id];
            (photos.is_empty() != caris.is_empty()).then(|| {
                let reason = one_modality_reason(photos.is_empty(), false);
                (images.identities[id].clone(), reason)
            })
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let splits = split_images(&by_id, train_identities, test_identities, opts, &mut rng);
    (splits, excluded)
}

/// Training and closed-set test images of the training identities, all images of the open
/// ones; every list sorted.
fn split_images(
    by_id: &[[Vec<usize>; 2]],
    mut train_identities: Vec<usize>,
    mut open_identities: Vec<usize>,
    opts: &LoadOptions,
    rng: &mut ChaCha8Rng,
) -> Splits {
    open_identities.sort_unstable();
    train_identities.sort_unstable();
    let mut splits = Splits::default();
    for &id in &train_identities {
        for list in &by_id[id] {
            let mut list = list.clone();
            if list.len() > opts.test_per_modality {
                list.shuffle(rng);
                splits
                    .closed_test
                    .extend_from_slice(&list[..opts.test_per_modality]);
                splits
                    .train
                    .extend_from_slice(&list[opts.test_per_modality..]);
            } else {
                splits.train.extend(list);
            }
        }
    }
    for &id in &open_identities {
        splits.open.extend(by_id[id].iter().flatten());
    }
    splits.train.sort_unstable();
    splits.closed_test.sort_unstable();
    splits.open.sort_unstable();
    splits.train_identities = train_identities;
    splits.open_identities = open_identities;
    splits
}

/// Decode and assemble: the common tail of every loader (the split depends on the protocol,
/// which each loader reads next).
pub(crate) fn finish(
    kind: &str,
    root: &Path,
    identity_names: &[String],
    entries: &[Entry],
    opts: &LoadOptions,
    progress: &dyn LoadMonitor,
    mut report: LoadReport,
) -> Result<(Assembled, LoadReport), LoadError> {
    let decoded =
        decode_with_cache(kind, root, entries, opts, progress, &mut report).ok_or_else(|| {
            LoadError::Cancelled {
                path: root.to_path_buf(),
            }
        })?;
    let assembled = assemble(
        root,
        identity_names,
        entries,
        decoded,
        opts.image_size,
        &mut report,
    )?;
    Ok((assembled, report))
}
