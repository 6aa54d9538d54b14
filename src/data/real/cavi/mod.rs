//! The CaVI dataset (Garg et al., 2018), as the user's copy lies on disk.
//!
//! Layout: `CaVI_Dataset/{Caricature,Real}/<Name>/<Name>_{c,r}_<k>.jpg`; `PATH` may be the
//! `CaVI_Dataset` folder itself or its parent. The folder decides the modality (`Real` = photo);
//! file names are not checked, so duplicates such as `x_c_16(1).jpg` load as ordinary images.
//! `Thumbs.db`, `desktop.ini` and dot files are skipped without a report line; any other non-image
//! file is listed in `report.skipped_images`. There are no landmarks: the whole frame is used.
//!
//! Lists: every `*.txt` file directly in `PATH`, in the `CaVI_Dataset` folder or in a
//! `train-test-files/` folder beside or inside it, read in name order. A line
//! `id Caricature/id\file.jpg id Real/id\file.jpg label` (Windows backslashes or slashes, any
//! letter case, label `1` = same person, `0` or `-1` = different) is a verification pair, `a` =
//! first image, `b` = second. A `.txt` file without any pair line (e.g. a read-me) is reported
//! once and ignored (identity lists such as `complete_identity_list.txt` silently); lines that
//! are malformed or name an image that was not loaded are reported as `"file:line: reason"` and
//! skipped. How the lists define the split and the protocol (the copy's own train/test lists,
//! or pair lists only) is in [`lists`]. CaVI defines no identification lists: `c2p`/`p2c` stay
//! empty.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::assemble::finish;
use super::decode::{Entry, Landmarks};
use super::detect::layout_hint;
use super::options::{FoldCount, LoadError, LoadOptions};
use super::read::read_text;
use super::scan::{
    Walk, check_root, find_child_dir, image_name, is_ignored_file, list_dir, person_dirs,
    rel_display, start_dir, walk_twice,
};
use crate::data::{Dataset, LoadReport, Modality, VerificationPair};

mod lists;

use crate::data::dataset::LoadMonitor;
use lists::{PairList, Role, classify};

const PAIR_FORM: &str = "`id Caricature/id\\file.jpg id Real/id\\file.jpg label`";

/// The folder holding the lists (`Caricature/` and `Real/` hold the images).
const LISTS_DIR: &str = "train-test-files";

/// Loads a CaVI tree. See the module documentation.
pub(crate) fn load(
    path: &Path,
    opts: &LoadOptions,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, LoadError> {
    let root = check_root(path)?;
    let data_dir = data_dir(&root);
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
    let files = list_files(&root, &data_dir)?;
    if !files
        .iter()
        .any(|f| classify(&file_name(f)).0 == Role::Test)
    {
        // Checked before decoding: a fold cannot be asked of a copy without test lists.
        lists::choose_precheck(&root, opts, files.is_empty())?;
    }
    let (names, entries, report) = walk_twice(|walk| scan(walk, &data_dir, &folders))?;
    let (assembled, mut report) = finish("cavi", &root, &names, &entries, opts, progress, report)?;
    let lookup = Lookup {
        by_key: &assembled.by_key,
        skipped: &assembled.skipped_keys,
    };
    let read = read_lists(&root, &files, &lookup, &mut report.protocol_problems);
    let chosen = lists::choose(&root, &read, &assembled.images, opts, &mut report)?;
    Ok(Dataset {
        name: format!("cavi:{}", root.display()),
        images: assembled.images,
        splits: chosen.splits,
        protocol: chosen.protocol,
        facts: chosen.facts,
        published_folds: None,
        report,
    })
}

/// `PATH/CaVI_Dataset`, or `PATH` itself.
fn data_dir(root: &Path) -> PathBuf {
    find_child_dir(root, "CaVI_Dataset").unwrap_or_else(|| root.to_path_buf())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every list file of the copy (see the module documentation), each real file once.
fn list_files(root: &Path, data_dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut dirs = vec![root.to_path_buf(), data_dir.to_path_buf()];
    dirs.extend(find_child_dir(root, LISTS_DIR));
    dirs.extend(find_child_dir(data_dir, LISTS_DIR));
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    walk_twice(|walk| pair_list_files(walk, &dirs))
}

/// The published folds of the CaVI copy at `path`: its test lists, from their names only.
pub(crate) fn fold_count(path: &Path) -> Result<Option<FoldCount>, LoadError> {
    let root = check_root(path)?;
    let data_dir = data_dir(&root);
    let names: Vec<String> = list_files(&root, &data_dir)?
        .iter()
        .map(|f| file_name(f))
        .collect();
    Ok(lists::count_from_names(&names))
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

/// Reads every list file but identity lists (see the module documentation).
fn read_lists(
    root: &Path,
    files: &[PathBuf],
    lookup: &Lookup<'_>,
    problems: &mut Vec<String>,
) -> Vec<PairList> {
    let mut out = Vec::new();
    for file in files {
        let (role, number) = classify(&file_name(file));
        if role == Role::Identities {
            continue;
        }
        let label = rel_display(root, file);
        let text = match read_text(file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{label}:1: {e}"));
                continue;
            }
        };
        if let Some(pairs) = read_pair_list(&text, &label, lookup, problems) {
            out.push(PairList {
                label,
                role,
                number,
                pairs,
            });
        }
    }
    out
}

/// The pairs of one list whose images were loaded (fold 0); None, reported, for a file with no
/// pair line at all.
fn read_pair_list(
    text: &str,
    label: &str,
    lookup: &Lookup<'_>,
    problems: &mut Vec<String>,
) -> Option<Vec<VerificationPair>> {
    let mut pairs = Vec::new();
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
        match (lookup.find(pa), lookup.find(pb)) {
            (Ok(a), Ok(b)) => pairs.push(VerificationPair {
                a,
                b,
                same,
                fold: 0,
            }),
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
        return None;
    }
    problems.extend(file_problems);
    Some(pairs)
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
            fold: None,
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
        // The test list sits in CaVI_Dataset/; a training list of photo 4 chooses thresholds.
        write_text(&ds_dir.join("testing_1.txt"), &text);
        let train = "Person_3 Caricature/Person_3\\Person_3_c_2.jpg Person_3 Real/Person_3\\Person_3_r_4.jpg 1\r\n\
            Person_3 Caricature/Person_3\\Person_3_c_2.jpg Person_2 Real/Person_2\\Person_2_r_4.jpg 0\r\n";
        write_text(&ds_dir.join("training_1.txt"), train);
        write_text(&dir.path().join("readme.txt"), "CaVI dataset, see paper.\n");
        let before = snapshot(dir.path());
        let ds = load(dir.path(), cache.path());
        let p = ds.protocol.clone().unwrap();
        assert_eq!(p.verification.len(), 12);
        assert!(
            p.verification.iter().all(|v| v.fold == 0),
            "one list, one fold"
        );
        assert_eq!(p.fold_name(0), "CaVI_Dataset/testing_1.txt");
        assert_eq!(p.calibration.len(), 2);
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
                "CaVI_Dataset/testing_1.txt:14: no image Caricature/Person_1\\Person_1_c_9.jpg in the dataset".to_string(),
                "CaVI_Dataset/testing_1.txt:15: expected `id Caricature/id\\file.jpg id Real/id\\file.jpg label`".to_string(),
            ]
        );
        assert_eq!(snapshot(dir.path()), before);
    }

    fn cavi_people(n: usize) -> Vec<String> {
        protocol_people(n)
            .iter()
            .map(|p| p.replace(' ', "_"))
            .collect()
    }

    fn load_fold(root: &Path, cache: &Path, fold: Option<usize>) -> Result<Dataset, LoadError> {
        let mut o = opts(cache);
        o.fold = fold;
        load_real(&DatasetSpec::Cavi(root.to_path_buf()), &o, &no_progress)
    }

    #[test]
    fn the_copys_train_test_lists_define_split_and_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let people = cavi_people(12);
        cavi_protocol_tree(dir.path(), &people, 6, true);
        let ds = load_fold(dir.path(), cache.path(), None).unwrap();
        let p = ds.protocol.clone().unwrap();
        // testing_1.txt: 12 people × 2 × 2 matched, 12 × 11 mismatched; all of them scored.
        assert_eq!(p.verification.len(), 48 + 132);
        assert_eq!(p.verification.iter().filter(|v| v.same).count(), 48);
        assert_eq!(p.fold_name(0), "train-test-files/testing_1.txt");
        // validation.txt chooses the thresholds.
        assert_eq!(p.calibration.len(), 12 + 132);
        assert!(p.c2p.is_empty() && p.p2c.is_empty());
        // Training: the images of training_11 and training_12 (3 of each modality a person);
        // closed-set test: the test list's images (2 of each), of the same people.
        assert_eq!(ds.splits.train.len(), 12 * 3 * 2);
        assert_eq!(ds.splits.closed_test.len(), 12 * 2 * 2);
        assert_eq!(ds.splits.train_identities.len(), 12);
        assert!(ds.splits.open.is_empty());
        let train: std::collections::HashSet<usize> = ds.splits.train.iter().copied().collect();
        assert!(ds.splits.closed_test.iter().all(|i| !train.contains(i)));
        assert_eq!(ds.facts.name, "CaVI train/test lists");
        assert_eq!(ds.facts.fold, Some(1));
        assert_eq!(
            (ds.facts.pairs_matched, ds.facts.pairs_mismatched),
            (48, 132)
        );
        assert!(
            ds.facts
                .test_identities
                .contains(&"José_María_Aznar".to_string())
        );
        let used = ds.report.protocol_used.join("\n");
        assert!(
            used.starts_with("CaVI train/test lists, split 1, fold 1 of 1 (the default; choose another with --fold K):"),
            "{used}"
        );
        assert!(
            used.contains("people are shared by design, images are not"),
            "{used}"
        );
        assert!(ds.report.protocol_problems.is_empty(), "{:?}", ds.report);
        let err = load_fold(dir.path(), cache.path(), Some(2))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "its protocol has folds 1 to 1 (the test lists train-test-files/testing_1.txt)"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_test_image_in_a_training_list_is_reported_and_not_trained_on() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let people = cavi_people(12);
        cavi_protocol_tree(dir.path(), &people, 6, true);
        let p = &people[1];
        let extra = format!("{p} Caricature/{p}\\{p}_c_5.jpg {p} Real/{p}\\{p}_r_0.jpg 1\r\n");
        let file = dir.path().join("train-test-files/training_12.txt");
        let text = fs::read_to_string(&file).unwrap() + &extra;
        write_text(&file, &text);
        let ds = load_fold(dir.path(), cache.path(), Some(1)).unwrap();
        let test_image = idx(&ds, &format!("{p}_c_5.jpg"));
        assert!(!ds.splits.train.contains(&test_image));
        assert!(ds.splits.closed_test.contains(&test_image));
        assert_eq!(ds.report.protocol_problems.len(), 1, "{:?}", ds.report);
        assert!(
            ds.report.protocol_problems[0].starts_with(
                "train-test-files/training_11.txt, train-test-files/training_12.txt share 1 images with the test lists"
            ),
            "{:?}",
            ds.report
        );
    }

    #[test]
    fn without_training_lists_every_image_outside_test_and_validation_trains() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let people = cavi_people(12);
        cavi_protocol_tree(dir.path(), &people, 6, true);
        for part in ["training_11.txt", "training_12.txt"] {
            fs::remove_file(dir.path().join("train-test-files").join(part)).unwrap();
        }
        let ds = load_fold(dir.path(), cache.path(), None).unwrap();
        assert_eq!(ds.splits.train.len(), 12 * 3 * 2);
        assert_eq!(ds.protocol.unwrap().calibration.len(), 12 + 132);
        assert!(
            ds.report.protocol_used.iter().any(|l| l.starts_with(
                "no training list: training on every image named in no test or validation list"
            )),
            "{:?}",
            ds.report
        );
    }

    #[test]
    fn pair_lists_only_keep_a_seeded_split_and_their_listed_folds() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let people = cavi_people(12);
        cavi_protocol_tree(dir.path(), &people, 3, false);
        let ds = load_fold(dir.path(), cache.path(), None).unwrap();
        let open: Vec<usize> = ds.splits.open_identities.clone();
        assert_eq!(open.len(), 2, "0.2 of 12 held out");
        let p = ds.protocol.clone().unwrap();
        // Each list is a fold: 2 matched and 2 mismatched pairs among the 2 held-out people.
        let folds: Vec<usize> = p.verification.iter().map(|v| v.fold).collect();
        assert_eq!(folds, [0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(p.fold_name(1), "CaVI_Dataset/pairs_b.txt");
        let person = |i: usize| ds.images.samples[i].identity;
        assert!(
            p.verification
                .iter()
                .all(|v| open.contains(&person(v.a)) && open.contains(&person(v.b)))
        );
        assert!(
            p.calibration
                .iter()
                .all(|v| !open.contains(&person(v.a)) && !open.contains(&person(v.b)))
        );
        assert_eq!(p.calibration.len(), 2 * (10 + 90));
        assert_eq!(ds.facts.fold, None);
        assert!(
            ds.report.protocol_used[0].starts_with("CaVI pair lists only (no train/test lists)"),
            "{:?}",
            ds.report
        );
        let err = load_fold(dir.path(), cache.path(), Some(1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("which has no published folds: it has no test list"),
            "{err}"
        );
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
