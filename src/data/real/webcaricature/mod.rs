//! The WebCaricature dataset (Huo et al., 2018), as the user's copy lies on disk.
//!
//! Layout (`PATH` may also be a folder holding `WebCaricature/`):
//! - `OriginalImages/<Person Name>/C00001.jpg` (caricature) and `P00001.jpg` (photo); person names
//!   contain spaces. The first letter of the file name decides the modality.
//! - `FacialPoints/<Person Name>/<image stem>.txt`: 17 lines `x y`. The image is cropped to the
//!   points' bounding box around its centre, widened ×1.5 and heightened ×1.2, clipped to the
//!   image (`landmark_crop`). A missing file → whole image, counted in
//!   `report.missing_landmarks`; a malformed one → whole image and a `protocol_problems` line.
//! - `EvaluationProtocols/` (searched recursively, file names matched ignoring case; see
//!   [`parse`]):
//!   - `RestrictedView2.txt`: a count line, then blocks of matched lines `Name<TAB>C00001<TAB>P00001`
//!     followed by mismatched lines `NameA<TAB>C00039<TAB>NameB<TAB>P00006`; 10 blocks = 10 folds.
//!     A new fold starts at a count line that follows pairs, at a matched line that follows a
//!     mismatched one, or when a block already holds the 2·N pairs announced by the count line.
//!     Lines may be split by tabs or (if no tab) spaces; CRLF or LF. `View1` files (parameter
//!     tuning) are not used.
//!   - `FR_Gallery_C2P{k}.txt` / `FR_Probe_C2P{k}.txt` (and `P2C`): one image per line, identity
//!     first and image name last (tab- or space-separated; extension optional); `k` is the split.
//!     `FR_Train_*`, `_dev` and other files are not read.
//!
//!   Protocol lines that are malformed or name an image that was not loaded are skipped and
//!   reported as `"file:line: reason"` (paths relative to `PATH`, lines 1-based).
//!
//! **Training versus protocol: one published fold per run** (see [`fold`]). `LoadOptions::fold`
//! (default 1) picks fold `k`: verification on every pair of View 2's fold `k`, C2P and P2C on
//! split `k`'s lists, thresholds chosen on View 2's other folds, and training on every person
//! named in none of fold `k`'s lists. The paper's figures are mean ± std over the ten folds:
//! `cari-mtl compare --folds all`. A copy without `EvaluationProtocols/` has no published
//! folds: it gets the seeded identity split of `seeded_splits` (like the `folder:` layout)
//! and refuses a fold.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::assemble::{Assembled, finish, seeded_splits};
use super::decode::{Entry, Landmarks};
use super::detect::layout_hint;
use super::options::{FoldCount, LoadError, LoadOptions};
use super::protocol::refuse_fold;
use super::scan::{
    DirItem, Walk, check_root, file_stem, find_child_dir, image_name, is_ignored_file, list_dir,
    list_path, person_dirs, start_dir, walk_twice,
};
use crate::data::{Dataset, ImageSet, LoadReport, Modality, ProtocolFacts};

mod fold;
mod parse;

use crate::data::dataset::LoadMonitor;
use fold::{Chosen, choose_fold};
use parse::{Resolver, count_folds, read_published};

const EXPECTED: &str = "OriginalImages/";
const LAYOUT: &str = "WebCaricature";

/// Loads a WebCaricature tree. See the module documentation.
pub(crate) fn load(
    path: &Path,
    opts: &LoadOptions,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, LoadError> {
    let root = check_root(path)?;
    let base = base_dir(&root)?;
    let originals =
        find_child_dir(&base, "OriginalImages").ok_or_else(|| LoadError::WrongLayout {
            path: root.clone(),
            expected: EXPECTED,
            layout: LAYOUT,
            hint: String::new(),
        })?;
    let protocols = find_child_dir(&base, "EvaluationProtocols");
    if protocols.is_none() {
        refuse_fold(&root, opts, "it has no EvaluationProtocols/ folder")?;
    }
    let points = find_child_dir(&base, "FacialPoints");
    let Scan {
        names,
        entries,
        report,
    } = walk_twice(|walk| scan(walk, &originals, points.as_deref()))?;
    if entries.is_empty() && report.skipped_images.is_empty() {
        return Err(LoadError::NoImages {
            path: root.clone(),
            detail: format!(
                "{} holds no <Person>/C*.jpg or P*.jpg files",
                originals.display()
            ),
        });
    }
    let (assembled, mut report) = finish(
        "webcaricature",
        &root,
        &names,
        &entries,
        opts,
        progress,
        report,
    )?;
    let chosen = split(
        &root,
        &names,
        &assembled,
        protocols.as_deref(),
        opts,
        &mut report,
    )?;
    Ok(Dataset {
        name: format!("webcaricature:{}", root.display()),
        images: assembled.images,
        splits: chosen.splits,
        protocol: chosen.protocol,
        facts: chosen.facts,
        published_folds: None,
        report,
    })
}

/// The folder holding `OriginalImages/`: `root` or its `WebCaricature/`.
fn base_dir(root: &Path) -> Result<PathBuf, LoadError> {
    if find_child_dir(root, "OriginalImages").is_some() {
        return Ok(root.to_path_buf());
    }
    match find_child_dir(root, "WebCaricature") {
        Some(inner) if find_child_dir(&inner, "OriginalImages").is_some() => Ok(inner),
        _ => Err(LoadError::WrongLayout {
            path: root.to_path_buf(),
            expected: EXPECTED,
            layout: LAYOUT,
            hint: layout_hint(root, "webcaricature"),
        }),
    }
}

/// The published fold's split and protocol, or the seeded held-out split without protocol
/// files (or with protocol files that define nothing).
fn split(
    root: &Path,
    names: &[String],
    assembled: &Assembled,
    protocols: Option<&Path>,
    opts: &LoadOptions,
    report: &mut LoadReport,
) -> Result<Chosen, LoadError> {
    let scanned: HashSet<&str> = names.iter().map(String::as_str).collect();
    let resolver = Resolver::new(assembled, &scanned);
    let published = protocols
        .and_then(|dir| read_published(root, dir, &resolver, &mut report.protocol_problems));
    match published {
        Some(published) if published.fold_count() > 0 => {
            choose_fold(root, &published, &assembled.images, opts, report)
        }
        // Protocol files that could not be read (a FIFO, a device…) are reported and skipped
        // like any bad file; only when none defines a fold is the copy without a protocol.
        Some(_) => {
            refuse_fold(
                root,
                opts,
                "its protocol files define no fold (see the report's protocol lines)",
            )?;
            report.protocol_problems.push(
                "EvaluationProtocols/ defines no usable fold: identities are held out by a seeded split instead".into(),
            );
            Ok(held_out(&assembled.images, opts, report))
        }
        None => {
            refuse_fold(
                root,
                opts,
                "its EvaluationProtocols/ folder holds no protocol file",
            )?;
            Ok(held_out(&assembled.images, opts, report))
        }
    }
}

/// The seeded identity split, for a copy without protocol files.
fn held_out(images: &ImageSet, opts: &LoadOptions, report: &mut LoadReport) -> Chosen {
    let (splits, excluded) = seeded_splits(images, opts);
    report.excluded_identities.extend(excluded);
    report.protocol_used.push(format!(
        "no protocol files: {} identities held out by a seeded split (seed {}), {} trained on",
        splits.open_identities.len(),
        opts.seed,
        splits.train_identities.len()
    ));
    let facts = ProtocolFacts::held_out(
        "WebCaricature held-out identities (seeded split)",
        images,
        &splits,
    );
    Chosen {
        splits,
        protocol: None,
        facts,
    }
}

/// The published folds of the WebCaricature copy at `path`, from its protocol files only.
pub(crate) fn fold_count(path: &Path) -> Result<Option<FoldCount>, LoadError> {
    let root = check_root(path)?;
    let base = base_dir(&root)?;
    Ok(find_child_dir(&base, "EvaluationProtocols")
        .and_then(|dir| count_folds(&root, &dir))
        .filter(|c| c.count > 0))
}

/// What a scan of `OriginalImages/` found.
struct Scan {
    names: Vec<String>,
    entries: Vec<Entry>,
    report: LoadReport,
}

/// One pass over `OriginalImages/<Person>/…`, with each person's `FacialPoints/<Person>/`.
fn scan(walk: &mut Walk, originals: &Path, points: Option<&Path>) -> Result<Scan, LoadError> {
    let mut found = Scan {
        names: Vec::new(),
        entries: Vec::new(),
        report: LoadReport::default(),
    };
    let top = start_dir(originals)?;
    // A linked OriginalImages/ is walked in the second pass only.
    if walk.enter(&top).is_err() {
        return Ok(found);
    }
    let report = &mut found.report;
    for person in person_dirs(walk, &top, report)? {
        let files = match list_dir(&person) {
            Ok(files) => files,
            Err(e) => {
                report
                    .excluded_identities
                    .push((person.name.clone(), format!("{e}: left out of every task")));
                continue;
            }
        };
        let landmark_files = points
            .map(|p| landmark_index(&p.join(&person.name)))
            .unwrap_or_default();
        let identity = found.names.len();
        found.names.push(person.name.clone());
        for file in files {
            match scan_file(walk, &person.name, identity, &file, &landmark_files) {
                Ok(Some(entry)) => found.entries.push(entry),
                Ok(None) => {}
                Err(why) => report
                    .skipped_images
                    .push((file.path.display().to_string(), why)),
            }
        }
    }
    Ok(found)
}

/// Landmark files of one person: image stem → path. Special files are listed too: reading
/// them reports what they are.
fn landmark_index(dir: &Path) -> HashMap<String, PathBuf> {
    list_path(dir)
        .map(|items| {
            items
                .into_iter()
                .filter(|i| !i.is_dir() && i.name.to_ascii_lowercase().ends_with(".txt"))
                .map(|i| (file_stem(&i.name).to_string(), i.path))
                .collect()
        })
        .unwrap_or_default()
}

/// The entry for one file of a person folder: `Ok(None)` for system files, `Err(reason)` for
/// files not loaded.
fn scan_file(
    walk: &mut Walk,
    person: &str,
    identity: usize,
    file: &DirItem,
    landmarks: &HashMap<String, PathBuf>,
) -> Result<Option<Entry>, String> {
    if is_ignored_file(&file.name) {
        return Ok(None);
    }
    if file.is_dir() {
        return Err("unexpected folder inside a person folder: not read".to_string());
    }
    walk.take(file)?;
    image_name(&file.name)?;
    let modality = match file.name.chars().next() {
        Some('C' | 'c') => Modality::Caricature,
        Some('P' | 'p') => Modality::Photo,
        _ => return Err("name must start with C (caricature) or P (photo): not read".to_string()),
    };
    let stem = file_stem(&file.name).to_string();
    let landmarks = match landmarks.get(&stem) {
        Some(p) => Landmarks::File(p.clone()),
        None => Landmarks::Missing,
    };
    Ok(Some(Entry {
        key: format!("{person}/{stem}"),
        path: file.path.clone(),
        identity,
        modality,
        landmarks,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::scan::NOT_AN_IMAGE;
    use super::super::test_util::*;
    use super::super::{CropRect, DatasetSpec, landmark_crop, load_real, parse_landmarks};
    use super::*;
    use std::fs;
    use std::time::{Duration, SystemTime};

    const PEOPLE: [&str; 4] = [
        "Aaron Eckhart",
        "Adam Sandler",
        "Alan Rickman",
        "Bill Gates",
    ];

    fn landmarks(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
        // 17 points whose bounding box is exactly (x0, y0)–(x1, y1).
        let mut s = format!("{x0} {y0}\r\n{x1} {y1}\r\n");
        for k in 0..15 {
            let t = f64::from(k) / 14.0;
            s.push_str(&format!(
                "{} {}\r\n",
                x0 + (x1 - x0) * t,
                y0 + (y1 - y0) * (1.0 - t)
            ));
        }
        s
    }

    /// 4 people × 3 caricatures + 3 photos, 60×50 JPEGs, landmarks for most.
    fn tree(root: &Path) {
        for (i, p) in PEOPLE.iter().enumerate() {
            for k in 1..=3 {
                let c = root.join(format!("OriginalImages/{p}/C{k:05}.jpg"));
                write_jpeg(&c, 60, 50, [i as u8 * 50, 0, 0]);
                let ph = root.join(format!("OriginalImages/{p}/P{k:05}.jpg"));
                write_jpeg(&ph, 60, 50, [0, i as u8 * 50, 0]);
                if !(i == 3 && k == 3) {
                    let lm = landmarks(10.0, 10.0, 30.0, 30.0);
                    write_text(&root.join(format!("FacialPoints/{p}/C{k:05}.txt")), &lm);
                    write_text(&root.join(format!("FacialPoints/{p}/P{k:05}.txt")), &lm);
                }
            }
        }
    }

    fn opts(cache: &Path) -> LoadOptions {
        LoadOptions {
            image_size: 8,
            seed: 1,
            test_per_modality: 1,
            open_fraction: 0.25,
            cache_dir: Some(cache.to_path_buf()),
            use_cache: true,
            fold: None,
        }
    }

    fn load(root: &Path, cache: &Path) -> Dataset {
        load_real(
            &DatasetSpec::WebCaricature(root.to_path_buf()),
            &opts(cache),
            &no_progress,
        )
        .unwrap()
    }

    fn idx(ds: &Dataset, person: &str, image: &str) -> usize {
        let suffix = format!("{person}/{image}.jpg");
        ds.images
            .samples
            .iter()
            .position(|s| s.source.ends_with(&suffix))
            .unwrap()
    }

    #[test]
    fn counts_landmarks_and_no_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("WebCaricature");
        tree(&root);
        write_text(&root.join("OriginalImages/Bill Gates/Thumbs.db"), "x");
        let ds = load(dir.path(), cache.path()); // parent of WebCaricature/ also works
        assert_eq!(ds.images.identities, PEOPLE.to_vec());
        assert_eq!(ds.images.len(), 24);
        let caris = ds
            .images
            .samples
            .iter()
            .filter(|s| s.modality == Modality::Caricature)
            .count();
        assert_eq!(caris, 12);
        assert_eq!(ds.report.missing_landmarks, 2);
        assert!(ds.report.skipped_images.is_empty(), "{:?}", ds.report);
        assert!(ds.protocol.is_none());
        assert_eq!(ds.splits.open_identities.len(), 1);
        assert_eq!(ds.splits.closed_test.len(), 6);
        assert!(ds.name.starts_with("webcaricature:"));
    }

    #[test]
    fn crop_is_exact_in_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A 100×80 PNG where every pixel is distinct. Landmarks x 20..40 (w 20 → 30 around 30 →
        // x 15..45), y 27.5..52.5 (h 25 → 30 around 40 → y 25..55): a 30×30 crop at (15, 25).
        let img = image::RgbImage::from_fn(100, 80, |x, y| {
            image::Rgb([x as u8 * 2, y as u8 * 3, (x * 7 + y * 13) as u8])
        });
        write_png(&root.join("OriginalImages/Ann/C00001.png"), &img);
        write_png(&root.join("OriginalImages/Ann/P00001.png"), &img);
        let lm = landmarks(20.0, 27.5, 40.0, 52.5);
        write_text(&root.join("FacialPoints/Ann/C00001.txt"), &lm);
        let rect = CropRect {
            x: 15,
            y: 25,
            width: 30,
            height: 30,
        };
        let pts = parse_landmarks(&lm).unwrap();
        assert_eq!(landmark_crop(&pts, 100, 80), Some(rect));
        // At image_size 30 the stored image is exactly the source rectangle, pixel for pixel.
        let mut o = opts(cache.path());
        o.image_size = 30;
        let ds = load_real(
            &DatasetSpec::WebCaricature(root.to_path_buf()),
            &o,
            &no_progress,
        )
        .unwrap();
        let expected = image::imageops::crop_imm(&img, 15, 25, 30, 30).to_image();
        let c = idx_png(&ds, "C00001");
        assert!(ds.images.image(c) == expected.as_raw().as_slice());
        // The photo has no landmark file: whole frame (100×80 squeezed to 30×30).
        let p = idx_png(&ds, "P00001");
        assert!(ds.images.image(p) != expected.as_raw().as_slice());
        assert_eq!(ds.report.missing_landmarks, 1);
    }

    fn idx_png(ds: &Dataset, image: &str) -> usize {
        ds.images
            .samples
            .iter()
            .position(|s| s.source.ends_with(&format!("{image}.png")))
            .unwrap()
    }

    #[test]
    fn malformed_landmarks_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        write_text(
            &root.join("FacialPoints/Adam Sandler/C00002.txt"),
            "1 2\n3 4\nfive six\n",
        );
        let ds = load(root, cache.path());
        assert_eq!(ds.images.len(), 24);
        assert_eq!(ds.report.protocol_problems.len(), 1);
        let line = &ds.report.protocol_problems[0];
        assert!(
            line == "FacialPoints/Adam Sandler/C00002.txt:3: `five six` is not two numbers; whole image used",
            "{line}"
        );
    }

    fn view2(eol: &str, header_per_block: bool) -> String {
        // 2 blocks of 2 matched + 2 mismatched pairs.
        let mut s = String::new();
        if !header_per_block {
            s.push_str(&format!("2{eol}"));
        }
        for block in 0..2 {
            if header_per_block {
                s.push_str(&format!("2{eol}"));
            }
            let (a, b, c, d) = if block == 0 {
                (PEOPLE[0], PEOPLE[1], PEOPLE[2], PEOPLE[3])
            } else {
                (PEOPLE[2], PEOPLE[3], PEOPLE[0], PEOPLE[1])
            };
            s.push_str(&format!("{a}\tC00001\tP00001{eol}"));
            s.push_str(&format!("{b}\tC00002\tP00003{eol}"));
            s.push_str(&format!("{c}\tC00003\t{d}\tP00002{eol}"));
            s.push_str(&format!("{d}\tC00001\t{a}\tP00001{eol}"));
        }
        s
    }

    #[test]
    fn view2_folds_crlf_lf() {
        // The fold structure is read from the text alone: count lines, matched after
        // mismatched, and full blocks each start a fold.
        for (eol, per_block) in [("\r\n", false), ("\n", false), ("\r\n", true)] {
            let text = view2(eol, per_block);
            let mut problems = Vec::new();
            let lines = parse::listed_lines(&text, "v2", &mut problems);
            assert!(problems.is_empty(), "{problems:?}");
            let folds: Vec<usize> = lines.iter().map(|l| l.fold).collect();
            assert_eq!(folds, [0, 0, 0, 0, 1, 1, 1, 1]);
        }
        // Without count lines, a matched line after mismatched ones starts the next fold.
        let bare = view2("\n", false).replacen("2\n", "", 1);
        let lines = parse::listed_lines(&bare, "v2", &mut Vec::new());
        assert_eq!(lines.last().map(|l| l.fold), Some(1));
    }

    /// `tree` plus two people named in no list but fold 2's, so that fold 1 leaves people to
    /// train on and its thresholds have pairs to be chosen on.
    fn tree_with_fold_2(root: &Path) -> String {
        tree(root);
        for (i, p) in ["Zoë Ball", "José María Aznar"].iter().enumerate() {
            for k in 1..=2 {
                let shade = [0, 0, 100 + i as u8 * 50];
                write_jpeg(
                    &root.join(format!("OriginalImages/{p}/C{k:05}.jpg")),
                    60,
                    50,
                    shade,
                );
                write_jpeg(
                    &root.join(format!("OriginalImages/{p}/P{k:05}.jpg")),
                    60,
                    50,
                    shade,
                );
            }
        }
        "2\nZoë Ball C00001 P00001\nZoë Ball C00001 José María Aznar P00002.jpg\n".into()
    }

    #[test]
    fn space_separated_pairs_and_missing_images() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        let fold_2 = tree_with_fold_2(root);
        let text = format!(
            "3\n\
            Aaron Eckhart C00001 P00001\n\
            Adam Sandler C00009 P00001\n\
            Nobody Here\tC00001\tP00001\n\
            Alan Rickman C00001 Bill Gates P00002.jpg\n\
            garbage line\n{fold_2}"
        );
        let file = root.join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt");
        write_text(&file, &text);
        let ds = load(root, cache.path());
        let p = ds.protocol.clone().unwrap();
        assert_eq!(p.verification.len(), 2);
        assert!(p.verification[0].same && !p.verification[1].same);
        assert_eq!(p.verification[1].b, idx(&ds, "Bill Gates", "P00002"));
        // Fold 2's pairs (accented names, spaces) choose the thresholds.
        assert_eq!(p.calibration.len(), 2);
        assert_eq!(p.calibration[1].b, idx(&ds, "José María Aznar", "P00002"));
        let label = "EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt";
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                format!("{label}:3: no image Adam Sandler/C00009 in OriginalImages/"),
                format!("{label}:4: unknown person `Nobody Here`"),
                format!(
                    "{label}:6: expected `Name<TAB>C…<TAB>P…` or `NameA<TAB>C…<TAB>NameB<TAB>P…`"
                ),
                format!(
                    "{label} fold 1 names 1 people with no loaded image in OriginalImages/: `Nobody Here`; their lines are not evaluated"
                ),
            ]
        );
        // Adam is a fold-1 person even though his line could not be loaded: not trained on.
        let trained: Vec<&str> = ds
            .splits
            .train_identities
            .iter()
            .map(|&i| ds.images.identities[i].as_str())
            .collect();
        assert_eq!(trained, ["José María Aznar", "Zoë Ball"]);
        assert_eq!((ds.facts.pairs_matched, ds.facts.pairs_mismatched), (1, 1));
        assert_eq!(ds.facts.fold, Some(1));
    }

    #[test]
    fn identification_folds() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        // Two people named in no list: the ones trained on.
        for p in ["Zoë Ball", "José María Aznar"] {
            write_jpeg(
                &root.join(format!("OriginalImages/{p}/C00001.jpg")),
                60,
                50,
                [9; 3],
            );
            write_jpeg(
                &root.join(format!("OriginalImages/{p}/P00001.jpg")),
                60,
                50,
                [9; 3],
            );
        }
        let c2p = root.join("EvaluationProtocols/FaceIdentification/C2P");
        let p2c = root.join("EvaluationProtocols/FaceIdentification/P2C");
        for k in 1..=2 {
            // Gallery: photos (tab-separated, no extension); probes: caricatures (spaces, .jpg).
            let gallery: String = PEOPLE
                .iter()
                .map(|p| format!("{p}\tP0000{k}\r\n"))
                .collect();
            let probes: String = PEOPLE
                .iter()
                .map(|p| format!("{p} C0000{k}.jpg\r\n"))
                .collect();
            write_text(&c2p.join(format!("FR_Gallery_C2P{k}.txt")), &gallery);
            write_text(&c2p.join(format!("FR_Probe_C2P{k}.txt")), &probes);
            write_text(&p2c.join(format!("FR_Gallery_P2C{k}.txt")), &probes);
            write_text(&p2c.join(format!("FR_Probe_P2C{k}.txt")), &gallery);
        }
        // A _dev file is ignored; a probe naming a missing image is reported.
        write_text(&c2p.join("FR_Gallery_C2P_dev.txt"), "junk\n");
        write_text(&c2p.join("FR_Probe_C2P_dev1.txt"), "junk\n");
        let bad = "Aaron Eckhart C00001\nAaron Eckhart C00077\n";
        write_text(&p2c.join("FR_Gallery_P2C3.txt"), bad);
        write_text(&p2c.join("FR_Probe_P2C3.txt"), "Bill Gates\tP00001\n");
        let mut o = opts(cache.path());
        o.fold = Some(2);
        let spec = DatasetSpec::WebCaricature(root.to_path_buf());
        let ds = load_real(&spec, &o, &no_progress).unwrap();
        let p = ds.protocol.clone().unwrap();
        assert_eq!((p.c2p.len(), p.p2c.len()), (1, 1), "split 2 only");
        assert!(p.verification.is_empty());
        assert_eq!(p.c2p[0].gallery.len(), 4);
        assert_eq!(p.c2p[0].gallery[3], idx(&ds, "Bill Gates", "P00002"));
        assert_eq!(p.c2p[0].probes[0], idx(&ds, "Aaron Eckhart", "C00002"));
        assert!(
            p.c2p[0]
                .probes
                .iter()
                .all(|&i| ds.images.samples[i].modality == Modality::Caricature)
        );
        assert_eq!(ds.facts.name, "WebCaricature C2P / P2C");
        assert_eq!(ds.facts.test_identities.len(), 4);
        assert_eq!(ds.facts.train_identities, ["José María Aznar", "Zoë Ball"]);
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                "EvaluationProtocols/FaceIdentification/P2C/FR_Gallery_P2C3.txt:2: no image Aaron Eckhart/C00077 in OriginalImages/"
                    .to_string()
            ]
        );
        // P2C has a split 3, C2P has not: fold 3 cannot be evaluated, and says why.
        o.fold = Some(3);
        let err = load_real(&spec, &o, &no_progress).unwrap_err().to_string();
        assert!(
            err.ends_with("C2P: no split 3 (FR_Gallery_C2P3.txt and FR_Probe_C2P3.txt); the copy has splits 1, 2"),
            "{err}"
        );
        o.fold = Some(4);
        let err = load_real(&spec, &o, &no_progress).unwrap_err().to_string();
        assert!(
            err.contains("fold 4 does not exist in") && err.contains("folds 1 to 3"),
            "{err}"
        );
    }

    #[test]
    fn bad_files_are_skipped_and_nothing_is_modified() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        let person = root.join("OriginalImages/Alan Rickman");
        fs::write(person.join("C00010.jpg"), b"").unwrap();
        let good = fs::read(person.join("C00001.jpg")).unwrap();
        fs::write(person.join("C00011.jpg"), &good[..good.len() / 3]).unwrap();
        fs::write(person.join("C00012.jpg"), "I am text").unwrap();
        fs::write(person.join("P00013.png"), huge_png_bytes(100_000, 100_000)).unwrap();
        fs::write(person.join("notes.doc"), "x").unwrap();
        fs::write(person.join("X00001.jpg"), &good).unwrap();
        write_text(
            &root.join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt"),
            "2\nAlan Rickman\tC00010\tP00001\nAaron Eckhart\tC00001\tP00001\n\
             Aaron Eckhart\tC00002\tAlan Rickman\tP00002\n\
             2\nAdam Sandler\tC00001\tP00001\nAdam Sandler\tC00002\tBill Gates\tP00001\n",
        );
        let before = snapshot(root);
        let ds = load(root, cache.path());
        assert_eq!(ds.images.len(), 24);
        let reasons: HashMap<String, String> = ds
            .report
            .skipped_images
            .iter()
            .map(|(p, r)| {
                (
                    Path::new(p)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    r.clone(),
                )
            })
            .collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert_eq!(reasons["C00010.jpg"], "empty file (0 bytes)");
        assert!(reasons["C00011.jpg"].starts_with("truncated JPEG"));
        assert!(reasons["C00012.jpg"].contains("not a JPEG or PNG"));
        assert!(reasons["P00013.png"].starts_with("refused before decoding"));
        assert_eq!(reasons["notes.doc"], NOT_AN_IMAGE);
        assert!(reasons["X00001.jpg"].contains("must start with C"));
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                "EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt:2: image Alan Rickman/C00010 could not be read (see skipped images)"
                    .to_string()
            ]
        );
        assert_eq!(ds.protocol.unwrap().verification.len(), 2);
        // Second load: from the cache, same report, still nothing modified.
        let again = load(root, cache.path());
        assert!(again.report.from_cache);
        assert_eq!(again.report.skipped_images, ds.report.skipped_images);
        assert_eq!(snapshot(root), before);
    }

    #[test]
    fn cache_hit_then_invalidated_by_touch() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        let first = load(root, cache.path());
        assert!(!first.report.from_cache);
        let second = load(root, cache.path());
        assert!(second.report.from_cache);
        assert_eq!(second.images.pixels, first.images.pixels);
        assert_eq!(second.images.samples, first.images.samples);
        assert_eq!(
            second.report.missing_landmarks,
            first.report.missing_landmarks
        );
        // Touch one image (same bytes, newer mtime) → rebuilt.
        let f = fs::File::options()
            .write(true)
            .open(root.join("OriginalImages/Bill Gates/P00002.jpg"))
            .unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(10))
            .unwrap();
        drop(f);
        let third = load(root, cache.path());
        assert!(!third.report.from_cache);
        assert!(load(root, cache.path()).report.from_cache);
        // Editing a landmark file also invalidates.
        write_text(
            &root.join("FacialPoints/Bill Gates/P00001.txt"),
            &landmarks(0.0, 0.0, 50.0, 40.0),
        );
        let fifth = load(root, cache.path());
        assert!(!fifth.report.from_cache);
        // A different image size is a different cache file.
        let mut o = opts(cache.path());
        o.image_size = 12;
        let other = load_real(
            &DatasetSpec::WebCaricature(root.to_path_buf()),
            &o,
            &no_progress,
        )
        .unwrap();
        assert!(!other.report.from_cache);
        assert!(load(root, cache.path()).report.from_cache);
    }

    #[test]
    fn wrong_folder_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cavi = root.join("cavi");
        write_jpeg(
            &cavi.join("CaVI_Dataset/Caricature/Ann/Ann_c_1.jpg"),
            8,
            8,
            [0; 3],
        );
        let err = load_real(
            &DatasetSpec::WebCaricature(cavi.clone()),
            &opts(cache.path()),
            &no_progress,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            format!(
                "expected OriginalImages/ under {p} (WebCaricature layout); this looks like a CaVI tree: use cavi:{p}",
                p = fs::canonicalize(&cavi).unwrap().display()
            )
        );
        let empty = root.join("empty");
        fs::create_dir_all(empty.join("OriginalImages/Ann")).unwrap();
        let err = load_real(
            &DatasetSpec::WebCaricature(empty),
            &opts(cache.path()),
            &no_progress,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("no usable images under"), "{err}");
        let file = root.join("file.txt");
        fs::write(&file, "x").unwrap();
        let err = load_real(
            &DatasetSpec::WebCaricature(file),
            &opts(cache.path()),
            &no_progress,
        )
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("file.txt is not a folder"), "{err}");
    }

    fn load_fold(root: &Path, cache: &Path, fold: Option<usize>) -> Result<Dataset, LoadError> {
        let mut o = opts(cache);
        o.fold = fold;
        load_real(
            &DatasetSpec::WebCaricature(root.to_path_buf()),
            &o,
            &no_progress,
        )
    }

    fn names<'a>(ds: &'a Dataset, ids: &[usize]) -> Vec<&'a str> {
        ids.iter()
            .map(|&i| ds.images.identities[i].as_str())
            .collect()
    }

    #[test]
    fn a_published_fold_is_scored_whole_and_its_people_are_never_trained_on() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let tree = WcTree::small();
        webcaricature_protocol_tree(dir.path(), &tree);
        let ds = load_fold(dir.path(), cache.path(), Some(3)).unwrap();
        assert_eq!(ds.images.identities.len(), 30);
        assert!(ds.images.identities.iter().any(|n| n == "José María Aznar"));
        // Every 7th image has no landmark file (CRLF landmark files for the others).
        assert_eq!(ds.report.missing_landmarks, 180 / 7);
        let p = ds.protocol.clone().unwrap();
        // All 4 + 4 pairs of View 2's fold 3, in their listed fold; the other 9 folds' 72
        // pairs only choose the thresholds.
        assert_eq!(p.verification.len(), 8);
        assert!(p.verification.iter().all(|v| v.fold == 2));
        assert_eq!(p.verification.iter().filter(|v| v.same).count(), 4);
        assert_eq!(p.calibration.len(), 72);
        assert!(p.fold_name(2).ends_with("RestrictedView2.txt fold 3"));
        // C2P/P2C split 3 as listed: the 6 people of folds 3 and 4.
        assert_eq!((p.c2p[0].gallery.len(), p.c2p[0].probes.len()), (6, 18));
        assert_eq!((p.p2c[0].gallery.len(), p.p2c[0].probes.len()), (6, 18));
        let test: Vec<&str> = tree.split_people(3);
        let trained = names(&ds, &ds.splits.train_identities);
        assert_eq!(trained.len(), 24);
        assert!(trained.iter().all(|t| !test.contains(t)), "{trained:?}");
        let mut held_out = names(&ds, &ds.splits.open_identities);
        let mut expected = test.clone();
        held_out.sort_unstable();
        expected.sort_unstable();
        assert_eq!(held_out, expected);
        for &i in ds.splits.train.iter().chain(&ds.splits.closed_test) {
            let person = ds.images.identities[ds.images.samples[i].identity].as_str();
            assert!(!test.contains(&person), "{person} trained on");
        }
        assert_eq!(ds.facts.name, "WebCaricature Restricted View 2 / C2P / P2C");
        assert_eq!(ds.facts.fold, Some(3));
        assert_eq!((ds.facts.pairs_matched, ds.facts.pairs_mismatched), (4, 4));
        assert_eq!(ds.facts.train_identities.len(), 24);
        assert_eq!(ds.facts.test_identities.len(), 6);
        assert!(ds.report.protocol_problems.is_empty(), "{:?}", ds.report);
        let used = ds.report.protocol_used.join("\n");
        assert!(used.starts_with("WebCaricature fold 3 of 10\n"), "{used}");
        assert!(
            used.contains("disjoint from its 6 test people"),
            "the report says the people are disjoint: {used}"
        );
    }

    #[test]
    fn without_a_fold_the_first_is_used_and_said_to_be_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        webcaricature_protocol_tree(dir.path(), &WcTree::small());
        let ds = load_fold(dir.path(), cache.path(), None).unwrap();
        assert_eq!(ds.facts.fold, Some(1));
        assert_eq!(
            ds.report.protocol_used[0],
            "WebCaricature fold 1 of 10 (the default; choose another with --fold K)"
        );
        let err = load_fold(dir.path(), cache.path(), Some(11))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("fold 11 does not exist in ")
                && err.ends_with("its protocol has folds 1 to 10 (View 2 and the C2P/P2C splits of EvaluationProtocols/)"),
            "{err}"
        );
    }

    #[test]
    fn folds_that_share_people_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let tree = WcTree {
            break_disjointness: true,
            ..WcTree::small()
        };
        webcaricature_protocol_tree(dir.path(), &tree);
        let shared = tree.fold_people(3)[0].to_string();
        let ds = load_fold(dir.path(), cache.path(), Some(3)).unwrap();
        let label = "EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt";
        assert_eq!(
            ds.report.protocol_problems,
            vec![format!(
                "{label}: folds are not disjoint in people: 1 people of fold 3 are also named in other folds: `{shared} (fold 2)`; their pairs there are left out of threshold choice, and none of them is trained on"
            )]
        );
        let p = ds.protocol.clone().unwrap();
        assert_eq!(
            p.calibration.len(),
            71,
            "fold 2's pair naming them is left out"
        );
        assert!(!names(&ds, &ds.splits.train_identities).contains(&shared.as_str()));
        // Fold 2 itself: the person is in its pairs and so held out as well.
        let ds2 = load_fold(dir.path(), cache.path(), Some(2)).unwrap();
        assert!(names(&ds2, &ds2.splits.open_identities).contains(&shared.as_str()));
        assert_eq!(ds2.report.protocol_problems.len(), 1, "{:?}", ds2.report);
    }

    #[test]
    fn a_fold_that_cannot_be_evaluated_is_an_error_naming_file_and_fold() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let tree = WcTree::small();
        webcaricature_protocol_tree(dir.path(), &tree);
        let file = dir
            .path()
            .join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt");
        // Fold 3's mismatched lines become matched ones: it has no mismatched pair left.
        let text = fs::read_to_string(&file).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let person = tree.fold_people(3)[0];
        for line in &mut lines[1 + 2 * 8 + 4..1 + 3 * 8] {
            *line = format!("{person}\tC00001\tP00002");
        }
        write_text(&file, &(lines.join("\r\n") + "\r\n"));
        let err = load_fold(dir.path(), cache.path(), Some(3))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt fold 3 has 8 matched and 0 mismatched pairs that could be loaded; verification needs at least one of each"),
            "{err}"
        );
        assert!(
            load_fold(dir.path(), cache.path(), Some(4)).is_ok(),
            "other folds still load"
        );
    }

    #[test]
    fn a_fold_is_refused_without_protocol_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        tree(dir.path());
        let err = load_fold(dir.path(), cache.path(), Some(2))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("fold 2 asked of ")
                && err.ends_with("which has no published folds: it has no EvaluationProtocols/ folder; leave --fold out"),
            "{err}"
        );
    }
}
