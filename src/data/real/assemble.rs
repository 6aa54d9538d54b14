//! Assembling loaded images into an image set, and the seeded identity splits.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::cache::decode_with_cache;
use super::decode::{Decoded, Entry};
use super::options::{LoadError, LoadOptions};
use crate::data::{IdentificationFold, ImageSet, LoadReport, Modality, Protocol, Sample, Splits};

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

/// Seeded identity split (used with and without a protocol).
///
/// - Identities with both modalities: a share `open_fraction` (rounded) is held out as the open
///   set (at least one stays in training when no other identity can be trained on).
/// - Identities with one modality always go to training (they cannot form caricature-photo pairs)
///   and are listed in `excluded` for the tasks they cannot serve.
/// - For each training identity and modality, `test_per_modality` random images go to
///   `closed_test` when it has more than that many, else all stay in `train`.
pub fn seeded_splits(images: &ImageSet, opts: &LoadOptions) -> (Splits, Vec<(String, String)>) {
    let n = images.identities.len();
    let mut by_id: Vec<[Vec<usize>; 2]> = vec![[Vec::new(), Vec::new()]; n];
    for (i, s) in images.samples.iter().enumerate() {
        let m = usize::from(s.modality == Modality::Caricature);
        if let Some(slot) = by_id.get_mut(s.identity) {
            slot[m].push(i);
        }
    }
    let mut both = Vec::new();
    let mut single = Vec::new();
    let mut excluded = Vec::new();
    for (id, [photos, caris]) in by_id.iter().enumerate() {
        match (photos.is_empty(), caris.is_empty()) {
            (false, false) => both.push(id),
            (true, true) => {}
            (photo_less, _) => {
                single.push(id);
                let reason = if photo_less {
                    "no photos: trained for verif and cari-id only; excluded from visual-id and from open-set evaluation"
                } else {
                    "no caricatures: trained for verif and visual-id only; excluded from cari-id and from open-set evaluation"
                };
                excluded.push((images.identities[id].clone(), reason.to_string()));
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut order = both.clone();
    order.shuffle(&mut rng);
    let want = (opts.open_fraction.clamp(0.0, 1.0) * both.len() as f64).round() as usize;
    let keep = usize::from(single.is_empty());
    let n_open = want.min(both.len().saturating_sub(keep));
    let mut open_identities = order[..n_open].to_vec();
    let mut train_identities: Vec<usize> = order[n_open..].iter().chain(&single).copied().collect();
    open_identities.sort_unstable();
    train_identities.sort_unstable();
    let mut splits = Splits::default();
    for &id in &train_identities {
        for list in &by_id[id] {
            let mut list = list.clone();
            if list.len() > opts.test_per_modality {
                list.shuffle(&mut rng);
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
    (splits, excluded)
}

/// The part of a protocol that only involves open-set (never trained on) identities: the honest
/// subset when training used [`seeded_splits`]. Pairs keep their fold numbers; identification
/// folds keep their order and may become empty.
pub fn protocol_open_only(protocol: &Protocol, images: &ImageSet, splits: &Splits) -> Protocol {
    let open: HashSet<usize> = splits.open_identities.iter().copied().collect();
    let is_open = |i: usize| {
        images
            .samples
            .get(i)
            .is_some_and(|s| open.contains(&s.identity))
    };
    let folds = |list: &[IdentificationFold]| {
        list.iter()
            .map(|f| IdentificationFold {
                gallery: f.gallery.iter().copied().filter(|&i| is_open(i)).collect(),
                probes: f.probes.iter().copied().filter(|&i| is_open(i)).collect(),
            })
            .collect()
    };
    Protocol {
        verification: protocol
            .verification
            .iter()
            .filter(|p| is_open(p.a) && is_open(p.b))
            .cloned()
            .collect(),
        c2p: folds(&protocol.c2p),
        p2c: folds(&protocol.p2c),
    }
}

/// Decode, assemble and split: the common tail of every loader.
pub(crate) fn finish(
    kind: &str,
    root: &Path,
    identity_names: &[String],
    entries: &[Entry],
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
    mut report: LoadReport,
) -> Result<(Assembled, Splits, LoadReport), LoadError> {
    let decoded = decode_with_cache(kind, root, entries, opts, progress, &mut report);
    let assembled = assemble(
        root,
        identity_names,
        entries,
        decoded,
        opts.image_size,
        &mut report,
    )?;
    let (splits, excluded) = seeded_splits(&assembled.images, opts);
    report.excluded_identities.extend(excluded);
    Ok((assembled, splits, report))
}
