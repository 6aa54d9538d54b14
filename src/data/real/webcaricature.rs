//! The WebCaricature dataset (Huo et al., 2018), as the user's copy lies on disk.
//!
//! Layout (`PATH` may also be a folder holding `WebCaricature/`):
//! - `OriginalImages/<Person Name>/C00001.jpg` (caricature) and `P00001.jpg` (photo); person names
//!   contain spaces. The first letter of the file name decides the modality.
//! - `FacialPoints/<Person Name>/<image stem>.txt`: 17 lines `x y`. The image is cropped to the
//!   points' bounding box around its centre, widened ×1.5 and heightened ×1.2, clipped to the
//!   image (`landmark_crop`). A missing file → whole image, counted in
//!   `report.missing_landmarks`; a malformed one → whole image and a `protocol_problems` line.
//! - `EvaluationProtocols/` (searched recursively, file names matched ignoring case):
//!   - `RestrictedView2.txt`: a count line, then blocks of matched lines `Name<TAB>C00001<TAB>P00001`
//!     followed by mismatched lines `NameA<TAB>C00039<TAB>NameB<TAB>P00006`; 10 blocks = 10 folds.
//!     A new fold starts at a count line that follows pairs, at a matched line that follows a
//!     mismatched one, or when a block already holds the 2·N pairs announced by the count line.
//!     Lines may be split by tabs or (if no tab) spaces; CRLF or LF. `View1` files (parameter
//!     tuning) are not used.
//!   - `FR_Gallery_C2P{k}.txt` / `FR_Probe_C2P{k}.txt` (and `P2C`): one image per line, identity
//!     first and image name last (tab- or space-separated; extension optional). Fold `k` becomes
//!     entry `k − 1` of the ordered list of complete gallery/probe pairs. `_dev` and other files
//!     are ignored.
//!
//!   Protocol lines that are malformed or name an image that was not loaded are skipped and
//!   reported as `"file:line: reason"` (paths relative to `PATH`, lines 1-based).
//!
//! **Training versus protocol.** The protocol files cover all 252 people, and View 2 is meant for
//! "train on 9 folds, test on the 10th" – ten trainings. We train once, so the splits are always
//! the seeded identity split of `seeded_splits` (identities with both modalities,
//! `open_fraction` held out), and `Dataset::protocol` holds the protocol exactly as the files define
//! it. Figures computed over the full protocol therefore include pairs and probes of people seen in
//! training (optimistic, and not comparable with the paper's numbers). The honest subset – pairs and
//! identification images of open-set people only, folds kept – is
//! `protocol_open_only`; report that one, or both, clearly labelled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::assemble::{Assembled, finish};
use super::decode::{Entry, Landmarks};
use super::detect::layout_hint;
use super::options::{LoadError, LoadOptions, MAX_NESTING};
use super::read::read_text;
use super::scan::{
    DirItem, Walk, check_root, file_stem, find_child_dir, has_image_extension, image_name,
    is_ignored_file, list_dir, list_path, person_dirs, rel_display, start_dir, walk_twice,
};
use crate::data::{Dataset, IdentificationFold, LoadReport, Modality, Protocol, VerificationPair};

const EXPECTED: &str = "OriginalImages/";
const LAYOUT: &str = "WebCaricature";

/// Loads a WebCaricature tree. See the module documentation.
pub(crate) fn load(
    path: &Path,
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<Dataset, LoadError> {
    let root = check_root(path)?;
    let base = if find_child_dir(&root, "OriginalImages").is_some() {
        root.clone()
    } else {
        match find_child_dir(&root, "WebCaricature") {
            Some(inner) if find_child_dir(&inner, "OriginalImages").is_some() => inner,
            _ => {
                return Err(LoadError::WrongLayout {
                    path: root.clone(),
                    expected: EXPECTED,
                    layout: LAYOUT,
                    hint: layout_hint(&root, "webcaricature"),
                });
            }
        }
    };
    let originals =
        find_child_dir(&base, "OriginalImages").ok_or_else(|| LoadError::WrongLayout {
            path: root.clone(),
            expected: EXPECTED,
            layout: LAYOUT,
            hint: String::new(),
        })?;
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
    let (assembled, splits, mut report) = finish(
        "webcaricature",
        &root,
        &names,
        &entries,
        opts,
        progress,
        report,
    )?;
    let scanned: HashSet<&str> = names.iter().map(String::as_str).collect();
    let resolver = Resolver::new(&assembled, &scanned);
    let protocol = find_child_dir(&base, "EvaluationProtocols")
        .and_then(|dir| read_protocol(&root, &dir, &resolver, &mut report.protocol_problems));
    Ok(Dataset {
        name: format!("webcaricature:{}", root.display()),
        images: assembled.images,
        splits,
        protocol,
        report,
    })
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

/// Finds the sample a protocol line names.
struct Resolver<'a> {
    assembled: &'a Assembled,
    lower: HashMap<String, usize>,
    scanned: &'a HashSet<&'a str>,
}

impl<'a> Resolver<'a> {
    fn new(assembled: &'a Assembled, scanned: &'a HashSet<&'a str>) -> Self {
        let lower = assembled
            .by_key
            .iter()
            .map(|(k, &v)| (k.to_lowercase(), v))
            .collect();
        Resolver {
            assembled,
            lower,
            scanned,
        }
    }

    fn find(&self, person: &str, image: &str) -> Result<usize, String> {
        let image = image.rsplit(['/', '\\']).next().unwrap_or(image);
        let stem = if has_image_extension(image) {
            file_stem(image)
        } else {
            image
        };
        let key = format!("{person}/{stem}");
        if let Some(&i) = self.assembled.by_key.get(&key) {
            return Ok(i);
        }
        if let Some(&i) = self.lower.get(&key.to_lowercase()) {
            return Ok(i);
        }
        if self.assembled.skipped_keys.contains(&key) {
            Err(format!(
                "image {key} could not be read (see skipped images)"
            ))
        } else if !self.scanned.contains(person) {
            Err(format!("unknown person `{person}`"))
        } else {
            Err(format!("no image {key} in OriginalImages/"))
        }
    }
}

fn read_protocol(
    root: &Path,
    dir: &Path,
    resolver: &Resolver<'_>,
    problems: &mut Vec<String>,
) -> Option<Protocol> {
    let files = protocol_files(dir);
    let mut view2 = None;
    // (direction, k) → (gallery, probe)
    let mut ident: BTreeMap<(bool, u32), (Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name == "restrictedview2.txt" {
            view2.get_or_insert(f);
        } else if let Some((gallery, c2p, k)) = identification_file(&name) {
            let slot = ident.entry((c2p, k)).or_default();
            if gallery {
                slot.0 = Some(f);
            } else {
                slot.1 = Some(f);
            }
        }
    }
    if view2.is_none() && ident.is_empty() {
        return None;
    }
    let mut protocol = Protocol::default();
    if let Some(file) = view2 {
        let label = rel_display(root, &file);
        match read_text(&file) {
            Ok(text) => {
                protocol.verification = parse_verification(&text, &label, resolver, problems);
            }
            Err(e) => problems.push(format!("{label}:1: {e}")),
        }
    }
    for ((c2p, k), (gallery, probe)) in ident {
        let dir_name = if c2p { "C2P" } else { "P2C" };
        let (Some(gallery), Some(probe)) = (gallery, probe) else {
            problems.push(format!(
                "{dir_name} fold {k}: FR_Gallery_{dir_name}{k}.txt and FR_Probe_{dir_name}{k}.txt are not both present; fold skipped"
            ));
            continue;
        };
        let fold = IdentificationFold {
            gallery: parse_image_list(root, &gallery, resolver, problems),
            probes: parse_image_list(root, &probe, resolver, problems),
        };
        if c2p {
            protocol.c2p.push(fold);
        } else {
            protocol.p2c.push(fold);
        }
    }
    Some(protocol)
}

/// The `.txt` files under `dir`, each real file once (loops and repeated folders are cut
/// silently: they would only repeat files). Special files are listed: reading them reports
/// what they are.
fn protocol_files(dir: &Path) -> Vec<PathBuf> {
    let walked = walk_twice(|walk| {
        let mut out = Vec::new();
        let top = start_dir(dir)?;
        if walk.enter(&top).is_ok() {
            collect_txt(walk, &top, MAX_NESTING, &mut out);
        }
        Ok(out)
    });
    walked.unwrap_or_default()
}

fn collect_txt(walk: &mut Walk, dir: &DirItem, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(items) = list_dir(dir) else {
        return;
    };
    for item in items {
        if item.is_dir() {
            if depth > 0 && walk.enter(&item).is_ok() {
                collect_txt(walk, &item, depth - 1, out);
            }
        } else if item.name.to_ascii_lowercase().ends_with(".txt")
            && walk.first_sighting(&item).is_ok()
        {
            out.push(item.path);
        }
    }
}

/// `fr_gallery_c2p3.txt` → (gallery, c2p, 3); anything else (e.g. `_dev` files) → None.
fn identification_file(lower: &str) -> Option<(bool, bool, u32)> {
    let rest = lower.strip_prefix("fr_")?.strip_suffix(".txt")?;
    let (gallery, rest) = if let Some(r) = rest.strip_prefix("gallery_") {
        (true, r)
    } else {
        (false, rest.strip_prefix("probe_")?)
    };
    let (c2p, digits) = if let Some(d) = rest.strip_prefix("c2p") {
        (true, d)
    } else {
        (false, rest.strip_prefix("p2c")?)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((gallery, c2p, digits.parse().ok()?))
}

/// Splits a protocol line into fields: by tabs when it has any, else by whitespace.
pub(crate) fn fields(line: &str) -> (Vec<&str>, bool) {
    if line.contains('\t') {
        (
            line.split('\t')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect(),
            true,
        )
    } else {
        (line.split_whitespace().collect(), false)
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `C00001`, `p12.jpg`: a WebCaricature image name.
fn is_image_token(s: &str) -> bool {
    let s = if has_image_extension(s) {
        file_stem(s)
    } else {
        s
    };
    let mut chars = s.chars();
    matches!(chars.next(), Some('C' | 'c' | 'P' | 'p')) && is_number(chars.as_str())
}

/// (name A, image A, name B, image B) of a verification line.
fn split_pair<'a>(fields: &[&'a str], tabbed: bool) -> Option<(String, &'a str, String, &'a str)> {
    if tabbed {
        return match *fields {
            [n, a, b] => Some((n.to_string(), a, n.to_string(), b)),
            [na, a, nb, b] => Some((na.to_string(), a, nb.to_string(), b)),
            _ => None,
        };
    }
    let images: Vec<usize> = (0..fields.len())
        .filter(|&i| i > 0 && is_image_token(fields[i]))
        .collect();
    let (&[i1, i2], true) = (images.as_slice(), fields.len() >= 3) else {
        return None;
    };
    if i2 != fields.len() - 1 {
        return None;
    }
    let name_a = fields[..i1].join(" ");
    let name_b = if i2 == i1 + 1 {
        name_a.clone()
    } else {
        fields[i1 + 1..i2].join(" ")
    };
    Some((name_a, fields[i1], name_b, fields[i2]))
}

fn parse_verification(
    text: &str,
    label: &str,
    resolver: &Resolver<'_>,
    problems: &mut Vec<String>,
) -> Vec<VerificationPair> {
    let mut pairs = Vec::new();
    let mut fold = 0usize;
    let mut per_block: Option<usize> = None;
    let mut block_pairs = 0usize;
    let mut last_matched: Option<bool> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (f, tabbed) = fields(line);
        if f.len() <= 2 && f.iter().all(|t| is_number(t)) {
            if block_pairs > 0 {
                fold += 1;
                block_pairs = 0;
                last_matched = None;
            }
            per_block = f.last().and_then(|t| t.parse().ok()).filter(|&n| n > 0);
            continue;
        }
        let Some((name_a, img_a, name_b, img_b)) = split_pair(&f, tabbed) else {
            problems.push(format!(
                "{label}:{line_no}: expected `Name<TAB>C…<TAB>P…` or `NameA<TAB>C…<TAB>NameB<TAB>P…`"
            ));
            continue;
        };
        let matched = f.len() == 3 || (!tabbed && name_a == name_b);
        let full = per_block.is_some_and(|n| block_pairs >= 2 * n);
        if block_pairs > 0 && (full || (matched && last_matched == Some(false))) {
            fold += 1;
            block_pairs = 0;
        }
        block_pairs += 1;
        last_matched = Some(matched);
        match (resolver.find(&name_a, img_a), resolver.find(&name_b, img_b)) {
            (Ok(a), Ok(b)) => pairs.push(VerificationPair {
                a,
                b,
                same: name_a == name_b,
                fold,
            }),
            (Err(e), _) | (_, Err(e)) => problems.push(format!("{label}:{line_no}: {e}")),
        }
    }
    pairs
}

fn parse_image_list(
    root: &Path,
    file: &Path,
    resolver: &Resolver<'_>,
    problems: &mut Vec<String>,
) -> Vec<usize> {
    let label = rel_display(root, file);
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{label}:1: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (f, tabbed) = fields(line);
        if f.len() == 1 && is_number(f[0]) {
            continue; // a count line
        }
        let (Some(&first), Some(&image)) = (f.first(), f.last()) else {
            continue;
        };
        if f.len() < 2 {
            problems.push(format!(
                "{label}:{line_no}: expected `identity … image`, found one field"
            ));
            continue;
        }
        // Candidate identity names: the first field (tabs), or the words before the image,
        // then the same without trailing numeric fields (e.g. a label column).
        let mut candidates = vec![if tabbed {
            first.to_string()
        } else {
            f[..f.len() - 1].join(" ")
        }];
        let mut words = &f[..f.len() - 1];
        while words.len() > 1 && words.last().is_some_and(|w| is_number(w)) {
            words = &words[..words.len() - 1];
            candidates.push(if tabbed {
                words[0].to_string()
            } else {
                words.join(" ")
            });
        }
        let mut first_err = None;
        let found = candidates
            .iter()
            .find_map(|c| match resolver.find(c, image) {
                Ok(i) => Some(i),
                Err(e) => {
                    first_err.get_or_insert(e);
                    None
                }
            });
        match (found, first_err) {
            (Some(i), _) => out.push(i),
            (None, Some(e)) => problems.push(format!("{label}:{line_no}: {e}")),
            (None, None) => {}
        }
    }
    out
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
    fn verification_pairs_and_folds_crlf_lf() {
        for (eol, per_block) in [("\r\n", false), ("\n", false), ("\r\n", true)] {
            let dir = tempfile::tempdir().unwrap();
            let cache = tempfile::tempdir().unwrap();
            let root = dir.path();
            tree(root);
            write_text(
                &root.join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt"),
                &view2(eol, per_block),
            );
            let ds = load(root, cache.path());
            let p = ds.protocol.clone().unwrap();
            assert!(ds.report.protocol_problems.is_empty(), "{:?}", ds.report);
            assert_eq!(p.verification.len(), 8);
            let folds: Vec<usize> = p.verification.iter().map(|v| v.fold).collect();
            assert_eq!(folds, [0, 0, 0, 0, 1, 1, 1, 1]);
            let same: Vec<bool> = p.verification.iter().map(|v| v.same).collect();
            assert_eq!(same, [true, true, false, false, true, true, false, false]);
            assert_eq!(p.verification[0].a, idx(&ds, PEOPLE[0], "C00001"));
            assert_eq!(p.verification[0].b, idx(&ds, PEOPLE[0], "P00001"));
            assert_eq!(p.verification[2].a, idx(&ds, PEOPLE[2], "C00003"));
            assert_eq!(p.verification[2].b, idx(&ds, PEOPLE[3], "P00002"));
            assert!(p.c2p.is_empty() && p.p2c.is_empty());
        }
    }

    #[test]
    fn space_separated_pairs_and_missing_images() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        let text = "3\n\
            Aaron Eckhart C00001 P00001\n\
            Adam Sandler C00009 P00001\n\
            Nobody Here\tC00001\tP00001\n\
            Alan Rickman C00001 Bill Gates P00002.jpg\n\
            garbage line\n";
        let file = root.join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt");
        write_text(&file, text);
        let ds = load(root, cache.path());
        let p = ds.protocol.unwrap();
        assert_eq!(p.verification.len(), 2);
        assert!(p.verification[0].same && !p.verification[1].same);
        let label = "EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt";
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                format!("{label}:3: no image Adam Sandler/C00009 in OriginalImages/"),
                format!("{label}:4: unknown person `Nobody Here`"),
                format!(
                    "{label}:6: expected `Name<TAB>C…<TAB>P…` or `NameA<TAB>C…<TAB>NameB<TAB>P…`"
                ),
            ]
        );
    }

    #[test]
    fn identification_folds() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
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
        let ds = load(root, cache.path());
        let p = ds.protocol.clone().unwrap();
        assert_eq!(p.c2p.len(), 2);
        assert_eq!(p.p2c.len(), 3);
        assert!(p.verification.is_empty());
        assert_eq!(p.c2p[1].gallery.len(), 4);
        assert_eq!(p.c2p[1].gallery[3], idx(&ds, "Bill Gates", "P00002"));
        assert_eq!(p.c2p[1].probes[0], idx(&ds, "Aaron Eckhart", "C00002"));
        assert!(
            p.c2p[0]
                .probes
                .iter()
                .all(|&i| ds.images.samples[i].modality == Modality::Caricature)
        );
        assert_eq!(p.p2c[2].gallery.len(), 1);
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                "EvaluationProtocols/FaceIdentification/P2C/FR_Gallery_P2C3.txt:2: no image Aaron Eckhart/C00077 in OriginalImages/"
                    .to_string()
            ]
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
            "1\nAlan Rickman\tC00010\tP00001\nAaron Eckhart\tC00001\tP00001\n",
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
        assert_eq!(ds.protocol.unwrap().verification.len(), 1);
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
}
