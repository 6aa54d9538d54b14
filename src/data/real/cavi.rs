//! The CaVI dataset (Garg et al., 2018), as the user's copy lies on disk.
//!
//! Layout: `CaVI_Dataset/{Caricature,Real}/<Name>/<Name>_{c,r}_<k>.jpg`; `PATH` may be the
//! `CaVI_Dataset` folder itself or its parent. The folder decides the modality (`Real` = photo);
//! file names are not checked, so duplicates such as `x_c_16(1).jpg` load as ordinary images.
//! `Thumbs.db`, `desktop.ini` and dot files are skipped without a report line; any other non-image
//! file is listed in `report.skipped_images`. There are no landmarks: the whole frame is used.
//!
//! Pair lists: every `*.txt` file directly in `PATH` or in the `CaVI_Dataset` folder, read in name
//! order. A line `id Caricature/id\file.jpg id Real/id\file.jpg label` (Windows backslashes or
//! slashes, any letter case, label `1` = same person, `0` or `-1` = different) becomes a
//! verification pair `a` = first image, `b` = second. Folds are assigned round-robin over the
//! well-formed pair lines in reading order (fold = line count mod 10), so a missing image does not
//! shift the other pairs' folds. A `.txt` file without any pair line (e.g. a read-me) is reported
//! once and ignored; lines that are malformed or name an image that was not loaded are reported as
//! `"file:line: reason"` and skipped. CaVI defines no identification protocol: `c2p`/`p2c` stay
//! empty.
//!
//! Training uses the seeded identity split of `seeded_splits`; pair lists cover
//! people seen in training, so use `protocol_open_only` for open-set figures (see
//! the WebCaricature module for the full argument).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::assemble::finish;
use super::decode::{Entry, Landmarks};
use super::detect::layout_hint;
use super::options::{LoadError, LoadOptions};
use super::read::read_text;
use super::scan::{
    Walk, check_root, find_child_dir, image_name, is_ignored_file, list_dir, person_dirs,
    rel_display, start_dir, walk_twice,
};
use crate::data::{Dataset, LoadReport, Modality, Protocol, VerificationPair};

/// Number of folds the pairs are dealt into.
pub const FOLDS: usize = 10;

const PAIR_FORM: &str = "`id Caricature/id\\file.jpg id Real/id\\file.jpg label`";

/// Loads a CaVI tree. See the module documentation.
pub(crate) fn load(
    path: &Path,
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<Dataset, LoadError> {
    let root = check_root(path)?;
    let data_dir = find_child_dir(&root, "CaVI_Dataset").unwrap_or_else(|| root.clone());
    let folders = [
        (
            Modality::Caricature,
            find_child_dir(&data_dir, "Caricature"),
        ),
        (Modality::Photo, find_child_dir(&data_dir, "Real")),
    ];
    if folders.iter().all(|(_, f)| f.is_none()) {
        return Err(LoadError::WrongLayout {
            path: root.clone(),
            expected: "CaVI_Dataset/ (holding Caricature/ and Real/)",
            layout: "CaVI",
            hint: layout_hint(&root, "cavi"),
        });
    }
    let (names, entries, report) = walk_twice(|walk| scan(walk, &data_dir, &folders))?;
    let (assembled, splits, mut report) =
        finish("cavi", &root, &names, &entries, opts, progress, report)?;
    let lookup = Lookup {
        by_key: &assembled.by_key,
        skipped: &assembled.skipped_keys,
    };
    let lists = walk_twice(|walk| pair_list_files(walk, &[&root, &data_dir]))?;
    let protocol = read_pair_lists(&root, &lists, &lookup, &mut report.protocol_problems);
    Ok(Dataset {
        name: format!("cavi:{}", root.display()),
        images: assembled.images,
        splits,
        protocol,
        report,
    })
}

/// One pass over `{Caricature,Real}/<Name>/…`: identity names, entries, report.
fn scan(
    walk: &mut Walk,
    data_dir: &Path,
    folders: &[(Modality, Option<PathBuf>)],
) -> Result<(Vec<String>, Vec<Entry>, LoadReport), LoadError> {
    let mut report = LoadReport::default();
    // identity name → files per modality
    let mut people: BTreeMap<String, Vec<(Modality, PathBuf)>> = BTreeMap::new();
    for (modality, folder) in folders {
        let Some(folder) = folder else { continue };
        let top = start_dir(folder)?;
        // E.g. `Real` a link to `Caricature`: its images would get both labels.
        if let Err(why) = walk.enter(&top) {
            report
                .skipped_images
                .push((top.path.display().to_string(), why));
            continue;
        }
        for person in person_dirs(walk, &top, &mut report)? {
            let files = match list_dir(&person) {
                Ok(f) => f,
                Err(e) => {
                    report.skipped_images.push((
                        person.path.display().to_string(),
                        format!("folder not read: {e}"),
                    ));
                    continue;
                }
            };
            let slot = people.entry(person.name.clone()).or_default();
            for file in files {
                if is_ignored_file(&file.name) {
                    continue;
                }
                let outcome = if file.is_dir() {
                    Err("unexpected folder inside a person folder: not read".to_string())
                } else {
                    walk.take(&file).and_then(|()| image_name(&file.name))
                };
                match outcome {
                    Ok(()) => slot.push((*modality, file.path)),
                    Err(why) => report
                        .skipped_images
                        .push((file.path.display().to_string(), why)),
                }
            }
        }
    }
    let mut names = Vec::new();
    let mut entries = Vec::new();
    for (name, files) in people {
        let identity = names.len();
        names.push(name);
        for (modality, path) in files {
            entries.push(Entry {
                key: path_key(&rel_display(data_dir, &path)),
                path,
                identity,
                modality,
                landmarks: Landmarks::NotUsed,
            });
        }
    }
    Ok((names, entries, report))
}

/// The `*.txt` files directly in `dirs`, each real file once (`CaVI_Dataset` may be the root
/// itself, or a link to it). Special files are listed: reading them reports what they are.
fn pair_list_files(walk: &mut Walk, dirs: &[&Path]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for dir in dirs {
        let top = start_dir(dir)?;
        if walk.enter(&top).is_err() {
            continue;
        }
        for item in list_dir(&top)? {
            if !item.is_dir()
                && item.name.to_ascii_lowercase().ends_with(".txt")
                && walk.first_sighting(&item).is_ok()
            {
                out.push(item.path);
            }
        }
    }
    Ok(out)
}

/// Lookup key of a path relative to the `CaVI_Dataset` folder: `/` separators, lower case.
fn path_key(rel: &str) -> String {
    let mut key = rel.replace('\\', "/").to_lowercase();
    while let Some(rest) = key.strip_prefix("./") {
        key = rest.to_string();
    }
    if let Some(rest) = key.strip_prefix("cavi_dataset/") {
        key = rest.to_string();
    }
    key
}

struct Lookup<'a> {
    by_key: &'a HashMap<String, usize>,
    skipped: &'a std::collections::HashSet<String>,
}

impl Lookup<'_> {
    fn find(&self, path: &str) -> Result<usize, String> {
        let key = path_key(path);
        if let Some(&i) = self.by_key.get(&key) {
            Ok(i)
        } else if self.skipped.contains(&key) {
            Err(format!(
                "image {path} could not be read (see skipped images)"
            ))
        } else {
            Err(format!("no image {path} in the dataset"))
        }
    }
}

/// The image paths in a pair line: each starts at `Caricature/` or `Real/` (either slash, any
/// case, at the start of a word or after a slash) and ends at an image extension followed by
/// whitespace or the end, so names with spaces survive.
fn find_paths(s: &str) -> Vec<&str> {
    let lower = s.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < lower.len() {
        let start = ["caricature/", "caricature\\", "real/", "real\\"]
            .iter()
            .filter_map(|pat| {
                let mut from = pos;
                while let Some(i) = lower[from..].find(pat) {
                    let at = from + i;
                    if at == 0 || matches!(bytes[at - 1], b' ' | b'\t' | b'/' | b'\\') {
                        return Some(at);
                    }
                    from = at + 1;
                }
                None
            })
            .min();
        let Some(start) = start else { break };
        // Back up over a `CaVI_Dataset/` style prefix glued to the path.
        let word_start = lower[..start].rfind([' ', '\t']).map_or(0, |i| i + 1);
        let end = [".jpg", ".jpeg", ".png"]
            .iter()
            .filter_map(|ext| {
                let mut from = start;
                while let Some(i) = lower[from..].find(ext) {
                    let e = from + i + ext.len();
                    if e == lower.len() || matches!(bytes[e], b' ' | b'\t') {
                        return Some(e);
                    }
                    from = e;
                }
                None
            })
            .min();
        let Some(end) = end else { break };
        out.push(&s[word_start..end]);
        pos = end;
    }
    out
}

fn read_pair_lists(
    root: &Path,
    files: &[PathBuf],
    lookup: &Lookup<'_>,
    problems: &mut Vec<String>,
) -> Option<Protocol> {
    let mut pairs = Vec::new();
    let mut counter = 0usize;
    let mut any_list = false;
    for file in files {
        let label = rel_display(root, file);
        let text = match read_text(file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{label}:1: {e}"));
                continue;
            }
        };
        let mut file_problems = Vec::new();
        let mut pair_lines = 0usize;
        let mut content_lines = 0usize;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.iter().all(|t| t.bytes().all(|b| b.is_ascii_digit())) {
                continue; // a count line
            }
            content_lines += 1;
            let same = match tokens.last().copied() {
                Some("1") => Some(true),
                Some("0" | "-1") => Some(false),
                _ => None,
            };
            let paths = find_paths(line);
            let (Some(same), [pa, pb]) = (same, paths.as_slice()) else {
                file_problems.push(format!("{label}:{line_no}: expected {PAIR_FORM}"));
                continue;
            };
            pair_lines += 1;
            let fold = counter % FOLDS;
            counter += 1;
            match (lookup.find(pa), lookup.find(pb)) {
                (Ok(a), Ok(b)) => pairs.push(VerificationPair { a, b, same, fold }),
                (Err(e), _) | (_, Err(e)) => {
                    file_problems.push(format!("{label}:{line_no}: {e}"));
                }
            }
        }
        if pair_lines == 0 {
            if content_lines > 0 {
                problems.push(format!(
                    "{label}:1: not a pair list (no line of the form {PAIR_FORM}); ignored"
                ));
            }
        } else {
            any_list = true;
            problems.extend(file_problems);
        }
    }
    any_list.then(|| Protocol {
        verification: pairs,
        c2p: Vec::new(),
        p2c: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::scan::NOT_AN_IMAGE;
    use super::super::test_util::*;
    use super::super::{DatasetSpec, load_real};
    use super::*;
    use std::fs;

    fn opts(cache: &Path) -> LoadOptions {
        LoadOptions {
            image_size: 8,
            seed: 3,
            test_per_modality: 2,
            open_fraction: 0.2,
            cache_dir: Some(cache.to_path_buf()),
            use_cache: true,
        }
    }

    /// 5 people × 3 caricatures + 4 photos, plus `Ann_c_1(1).jpg`, Thumbs.db, a stray file and a
    /// caricature-only person.
    fn tree(root: &Path) -> PathBuf {
        let ds = root.join("CaVI_Dataset");
        for i in 0..5u8 {
            let name = format!("Person_{i}");
            for k in 1..=3 {
                write_jpeg(
                    &ds.join(format!("Caricature/{name}/{name}_c_{k}.jpg")),
                    12,
                    10,
                    [i * 40, 9, 9],
                );
            }
            for k in 1..=4 {
                write_jpeg(
                    &ds.join(format!("Real/{name}/{name}_r_{k}.jpg")),
                    12,
                    10,
                    [9, i * 40, 9],
                );
            }
        }
        write_jpeg(
            &ds.join("Caricature/Person_0/Person_0_c_1(1).jpg"),
            12,
            10,
            [1; 3],
        );
        write_text(&ds.join("Caricature/Person_0/Thumbs.db"), "binary junk");
        write_text(&ds.join("Real/Person_1/list.xls"), "x");
        write_jpeg(&ds.join("Caricature/Solo/Solo_c_1.jpg"), 12, 10, [3; 3]);
        ds
    }

    fn load(root: &Path, cache: &Path) -> Dataset {
        load_real(
            &DatasetSpec::Cavi(root.to_path_buf()),
            &opts(cache),
            &no_progress,
        )
        .unwrap()
    }

    fn idx(ds: &Dataset, file: &str) -> usize {
        ds.images
            .samples
            .iter()
            .position(|s| s.source.ends_with(file))
            .unwrap()
    }

    #[test]
    fn counts_thumbs_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let ds_dir = tree(dir.path());
        for root in [dir.path(), ds_dir.as_path()] {
            let ds = load(root, cache.path());
            assert_eq!(ds.images.identities.len(), 6);
            assert_eq!(ds.images.len(), 5 * 7 + 2);
            let dup = idx(&ds, "Person_0_c_1(1).jpg");
            assert_eq!(ds.images.samples[dup].modality, Modality::Caricature);
            assert_eq!(ds.report.skipped_images.len(), 1, "{:?}", ds.report);
            assert!(ds.report.skipped_images[0].0.ends_with("list.xls"));
            assert_eq!(ds.report.skipped_images[0].1, NOT_AN_IMAGE);
            assert_eq!(ds.report.missing_landmarks, 0);
            assert!(
                ds.report
                    .excluded_identities
                    .iter()
                    .any(|(n, why)| n == "Solo" && why.starts_with("no photos"))
            );
            assert!(ds.protocol.is_none());
            assert_eq!(ds.splits.open_identities.len(), 1);
        }
    }

    #[test]
    fn backslash_pair_lists() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let ds_dir = tree(dir.path());
        let mut text = String::from("24\r\n");
        for n in 0..12 {
            let (a, b) = (n % 5, (n + n / 5) % 5);
            let label = u8::from(a == b);
            text.push_str(&format!(
                "Person_{a} Caricature/Person_{a}\\Person_{a}_c_{k}.jpg Person_{b} Real/Person_{b}\\Person_{b}_r_{k}.jpg {label}\r\n",
                k = 1 + n % 3
            ));
        }
        text.push_str("Person_1 Caricature/Person_1\\Person_1_c_9.jpg Person_1 Real/Person_1\\Person_1_r_1.jpg 1\r\n");
        text.push_str("Person_1 Caricature/Person_1\\Person_1_c_1.jpg 1\r\n");
        write_text(&ds_dir.join("pairs.txt"), &text);
        write_text(&dir.path().join("readme.txt"), "CaVI dataset, see paper.\n");
        let before = snapshot(dir.path());
        let ds = load(dir.path(), cache.path());
        let p = ds.protocol.clone().unwrap();
        assert_eq!(p.verification.len(), 12);
        let folds: Vec<usize> = p.verification.iter().map(|v| v.fold).collect();
        assert_eq!(folds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
        assert_eq!(
            p.verification[0].a,
            idx(&ds, "Caricature/Person_0/Person_0_c_1.jpg")
        );
        assert_eq!(
            p.verification[0].b,
            idx(&ds, "Real/Person_0/Person_0_r_1.jpg")
        );
        assert!(p.verification[0].same);
        assert!(!p.verification[5].same); // n = 5: a = 0, b = 1
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                "readme.txt:1: not a pair list (no line of the form `id Caricature/id\\file.jpg id Real/id\\file.jpg label`); ignored".to_string(),
                "CaVI_Dataset/pairs.txt:14: no image Caricature/Person_1\\Person_1_c_9.jpg in the dataset".to_string(),
                "CaVI_Dataset/pairs.txt:15: expected `id Caricature/id\\file.jpg id Real/id\\file.jpg label`".to_string(),
            ]
        );
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn paths_with_spaces_and_prefixes() {
        assert_eq!(
            find_paths("Ann Lee Caricature/Ann Lee\\Ann Lee_c_1.jpg Bo Real/Bo\\Bo_r_2.JPG 0"),
            vec!["Caricature/Ann Lee\\Ann Lee_c_1.jpg", "Real/Bo\\Bo_r_2.JPG"]
        );
        assert_eq!(
            find_paths("x CaVI_Dataset/Caricature/x\\a.png x CaVI_Dataset\\Real\\x\\b.jpeg 1"),
            vec![
                "CaVI_Dataset/Caricature/x\\a.png",
                "CaVI_Dataset\\Real\\x\\b.jpeg"
            ]
        );
        assert_eq!(path_key("CaVI_Dataset\\Real\\x\\b.jpeg"), "real/x/b.jpeg");
        assert!(find_paths("Unreal/x.jpg").is_empty());
    }

    #[test]
    fn bad_images_and_wrong_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let ds_dir = tree(dir.path());
        let p = ds_dir.join("Real/Person_2");
        fs::write(p.join("Person_2_r_9.jpg"), b"").unwrap();
        fs::write(p.join("Person_2_r_10.jpg"), "text, not jpeg").unwrap();
        fs::write(
            p.join("Person_2_r_11.png"),
            huge_png_bytes(100_000, 100_000),
        )
        .unwrap();
        let ds = load(dir.path(), cache.path());
        assert_eq!(ds.images.len(), 37);
        assert_eq!(ds.report.skipped_images.len(), 4);
        let err = load_real(
            &DatasetSpec::Cavi(dir.path().join("CaVI_Dataset/Real/Person_2")),
            &opts(cache.path()),
            &no_progress,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("expected CaVI_Dataset/ (holding Caricature/ and Real/) under ")
                && err.ends_with("(CaVI layout)"),
            "{err}"
        );
        // A WebCaricature tree given as CaVI.
        let web = dir.path().join("web");
        write_jpeg(&web.join("OriginalImages/Ann/C00001.jpg"), 8, 8, [0; 3]);
        let err = load_real(&DatasetSpec::Cavi(web), &opts(cache.path()), &no_progress)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("this looks like a WebCaricature tree: use webcaricature:"),
            "{err}"
        );
    }
}
