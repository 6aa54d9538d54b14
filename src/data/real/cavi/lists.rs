//! CaVI's protocol files: which list is which, and the split and protocol they define.
//!
//! **With train/test lists** (the CaVINet release ships `train-test-files/` beside
//! `CaVI_Dataset/`, holding `training_11.txt`, `training_12.txt`, `testing_1.txt`,
//! `validation.txt` and `complete_identity_list.txt`; the authors of the paper trained with
//! `--test_pairs …/train-test-files/testing_1.txt`). A list's role comes from its name
//! (`train…`, `test…`, `val…`; `…identit…` files are identity lists, not read), its split from
//! the digits after the role word. Each distinct test split is a fold, in ascending order
//! (`testing_1.txt` is fold 1; `testing.txt` counts as split 1). A training or validation list
//! belongs to split `s` when its digits are `s`, or `s` plus one more digit that is not itself a
//! split (`training_11`, `training_12`: split 1 in two parts, as the release has it); without
//! digits it belongs to every split. Our reading of the release, which documents none of this:
//! the test pairs are held-out **images** of the training people (CaVINet's closed-set protocol,
//! 195 test identities of 205), so people are shared between training and test by design, and
//! images are not.
//! - verification scores every pair of the split's test lists (each list one fold); the
//!   thresholds are chosen on its validation lists, else on its training lists;
//! - training uses the images the split's training lists name; without training lists, every
//!   image named in no test or validation list;
//! - the test lists' images of trained people are the closed-set test (visual-id, cari-id);
//!   test people never trained on are the open set. CaVI defines no C2P/P2C lists.
//!
//! **With pair lists only** (any other `*.txt` of pair lines): the seeded identity split, and
//! verification on the listed pairs whose two people are both held out, each list a fold as
//! listed; the thresholds are chosen on the listed pairs whose two people are both trained on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::super::assemble::seeded_splits;
use super::super::options::{FoldCount, LoadError, LoadOptions};
use super::super::protocol::{
    check_evaluable, chosen_fold, count_pairs, default_note, refuse_fold, some_names,
};
use crate::data::{ImageSet, LoadReport, Protocol, ProtocolFacts, Splits, VerificationPair};

/// What a `.txt` file is, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Train,
    Test,
    Validation,
    /// A plain pair list.
    Pairs,
    /// `complete_identity_list.txt` and the like: names, not pairs.
    Identities,
}

/// The role and split number of a list file named `name`.
pub(super) fn classify(name: &str) -> (Role, Option<String>) {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".txt").unwrap_or(&lower);
    if stem.contains("identit") {
        return (Role::Identities, None);
    }
    let role = if stem.starts_with("train") {
        Role::Train
    } else if stem.starts_with("test") {
        Role::Test
    } else if stem.starts_with("val") {
        Role::Validation
    } else {
        return (Role::Pairs, None);
    };
    let digits: String = stem
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<char>>()
        .into_iter()
        .rev()
        .collect();
    (role, Some(digits).filter(|d| !d.is_empty()))
}

/// A list file read: its pairs whose images were loaded.
pub(super) struct PairList {
    /// Its path relative to the dataset root.
    pub label: String,
    pub role: Role,
    /// The digits of its name after the role word.
    pub number: Option<String>,
    pub pairs: Vec<VerificationPair>,
}

impl PairList {
    fn images(&self) -> impl Iterator<Item = usize> + '_ {
        self.pairs.iter().flat_map(|p| [p.a, p.b])
    }
}

/// The test splits, ascending: `testing.txt` counts as split 1.
fn test_splits<'a>(lists: impl Iterator<Item = (Role, Option<&'a str>)>) -> Vec<u64> {
    let splits: BTreeSet<u64> = lists
        .filter(|(role, _)| *role == Role::Test)
        .map(|(_, n)| n.and_then(|d| d.parse().ok()).unwrap_or(1))
        .collect();
    splits.into_iter().collect()
}

/// Whether a training or validation list numbered `number` belongs to `split`.
fn belongs(number: Option<&str>, split: u64, splits: &[u64]) -> bool {
    let Some(digits) = number else {
        return true;
    };
    if digits.parse::<u64>().ok() == Some(split) {
        return true;
    }
    let is_split = digits.parse::<u64>().is_ok_and(|d| splits.contains(&d));
    let head = &digits[..digits.len().saturating_sub(1)];
    !is_split && digits.len() >= 2 && head.parse::<u64>().ok() == Some(split)
}

/// The folds of a copy whose list files are named `names` (None without a test list).
pub(super) fn count_from_names(names: &[String]) -> Option<FoldCount> {
    let classified: Vec<(Role, Option<String>)> = names.iter().map(|n| classify(n)).collect();
    let splits = test_splits(classified.iter().map(|(r, n)| (*r, n.as_deref())));
    if splits.is_empty() {
        return None;
    }
    let tests: Vec<&str> = names
        .iter()
        .zip(&classified)
        .filter(|(_, (r, _))| *r == Role::Test)
        .map(|(n, _)| n.as_str())
        .collect();
    Some(FoldCount {
        count: splits.len(),
        source: format!("the test lists {}", tests.join(", ")),
    })
}

/// A split's splits, protocol and facts.
pub(super) struct Chosen {
    pub splits: Splits,
    pub protocol: Option<Protocol>,
    pub facts: ProtocolFacts,
}

/// The split and protocol the copy's lists define (see the module documentation).
pub(super) fn choose(
    root: &Path,
    lists: &[PairList],
    images: &ImageSet,
    opts: &LoadOptions,
    report: &mut LoadReport,
) -> Result<Chosen, LoadError> {
    if lists.iter().any(|l| l.role == Role::Test) {
        published_split(root, lists, images, opts, report)
    } else {
        choose_precheck(root, opts, lists.is_empty())?;
        held_out(root, lists, images, opts, report)
    }
}

/// An error when a fold is asked of a copy without test lists (checked before decoding).
pub(super) fn choose_precheck(
    root: &Path,
    opts: &LoadOptions,
    no_list: bool,
) -> Result<(), LoadError> {
    let why = if no_list {
        "it has no train/test lists and no pair list"
    } else {
        "it has no test list (such as train-test-files/testing_1.txt), so it holds out identities of its own"
    };
    refuse_fold(root, opts, why)
}

/// The lists of `split` with `role`.
fn of_split<'a>(
    lists: &'a [PairList],
    role: Role,
    split: u64,
    splits: &'a [u64],
) -> impl Iterator<Item = &'a PairList> {
    lists.iter().filter(move |l| {
        l.role == role
            && match role {
                Role::Test => {
                    l.number
                        .as_deref()
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(1)
                        == split
                }
                _ => belongs(l.number.as_deref(), split, splits),
            }
    })
}

fn published_split(
    root: &Path,
    lists: &[PairList],
    images: &ImageSet,
    opts: &LoadOptions,
    report: &mut LoadReport,
) -> Result<Chosen, LoadError> {
    let splits = test_splits(lists.iter().map(|l| (l.role, l.number.as_deref())));
    let names: Vec<String> = lists
        .iter()
        .filter(|l| l.role == Role::Test)
        .map(|l| l.label.clone())
        .collect();
    let count = FoldCount {
        count: splits.len(),
        source: format!("the test lists {}", names.join(", ")),
    };
    let k = chosen_fold(root, opts, &count)?;
    let split = splits[k - 1];
    report_unused(lists, &splits, report);
    let tests: Vec<&PairList> = of_split(lists, Role::Test, split, &splits).collect();
    let vals: Vec<&PairList> = of_split(lists, Role::Validation, split, &splits).collect();
    let trains: Vec<&PairList> = of_split(lists, Role::Train, split, &splits).collect();
    let mut protocol = Protocol::default();
    for (fold, list) in tests.iter().enumerate() {
        protocol.fold_names.insert(fold, list.label.clone());
        protocol.verification.extend(
            list.pairs
                .iter()
                .map(|p| VerificationPair { fold, ..p.clone() }),
        );
    }
    let (calibration_lists, calibration_source) = if !vals.is_empty() {
        (&vals, labels(&vals))
    } else if !trains.is_empty() {
        (&trains, format!("the training lists {}", labels(&trains)))
    } else {
        (&vals, "no validation or training list".to_string())
    };
    protocol.calibration = calibration_lists
        .iter()
        .flat_map(|l| l.pairs.iter().cloned())
        .collect();
    let test_images: BTreeSet<usize> = tests.iter().flat_map(|l| l.images()).collect();
    let val_images: BTreeSet<usize> = vals.iter().flat_map(|l| l.images()).collect();
    let train_images = training_images(images, &trains, &test_images, &val_images, report);
    let splits = list_splits(images, &train_images, &test_images);
    check_evaluable(root, &protocol, &calibration_source)?;
    let (m, mm) = count_pairs(&protocol.verification);
    report.protocol_used.push(format!(
        "CaVI train/test lists, split {split}, fold {k} of {}{}: verification on the {} pairs of {} ({m} matched, {mm} mismatched); thresholds chosen on the {} pairs of {calibration_source}",
        count.count,
        default_note(opts),
        protocol.verification.len(),
        labels(&tests),
        protocol.calibration.len()
    ));
    report
        .protocol_used
        .push(people_note(images, &splits, &test_images));
    let test_people: BTreeSet<usize> = test_images
        .iter()
        .map(|&i| images.samples[i].identity)
        .collect();
    let mut facts = ProtocolFacts::held_out("CaVI train/test lists", images, &splits);
    facts.fold = Some(k);
    facts.test_identities = test_people
        .iter()
        .map(|&i| images.identities[i].clone())
        .collect();
    facts.count_pairs(&protocol.verification);
    Ok(Chosen {
        splits,
        protocol: Some(protocol),
        facts,
    })
}

fn labels(lists: &[&PairList]) -> String {
    let names: Vec<&str> = lists.iter().map(|l| l.label.as_str()).collect();
    names.join(", ")
}

/// Lists that belong to no split, and loose pair lists beside train/test lists, are said so.
fn report_unused(lists: &[PairList], splits: &[u64], report: &mut LoadReport) {
    for list in lists {
        let unused = match list.role {
            Role::Pairs => Some("the copy's train/test lists define the protocol".to_string()),
            Role::Identities => None,
            Role::Test => None,
            Role::Train | Role::Validation => {
                let number = list.number.as_deref();
                let anywhere = splits.iter().any(|&s| belongs(number, s, splits));
                (!anywhere).then(|| "its number matches no test list".to_string())
            }
        };
        if let Some(why) = unused {
            report
                .protocol_problems
                .push(format!("{}:1: not used ({why})", list.label));
        }
    }
}

/// The training images of a split: its training lists' images less any test image (each
/// overlap reported), or without training lists every image named in no test or validation
/// list.
fn training_images(
    images: &ImageSet,
    trains: &[&PairList],
    test_images: &BTreeSet<usize>,
    val_images: &BTreeSet<usize>,
    report: &mut LoadReport,
) -> BTreeSet<usize> {
    if trains.is_empty() {
        report.protocol_used.push(
            "no training list: training on every image named in no test or validation list"
                .to_string(),
        );
        return (0..images.len())
            .filter(|i| !test_images.contains(i) && !val_images.contains(i))
            .collect();
    }
    let listed: BTreeSet<usize> = trains.iter().flat_map(|l| l.images()).collect();
    let overlap: Vec<&str> = listed
        .intersection(test_images)
        .map(|&i| images.samples[i].source.as_str())
        .collect();
    if !overlap.is_empty() {
        report.protocol_problems.push(format!(
            "{} share {} images with the test lists ({}): used for testing only, not trained on",
            labels(trains),
            overlap.len(),
            some_names(overlap.iter().copied(), 3)
        ));
    }
    let val_overlap = listed.intersection(val_images).count();
    if val_overlap > 0 {
        report.protocol_used.push(format!(
            "{val_overlap} images of the validation lists are also in the training lists (the thresholds are chosen partly on trained images)"
        ));
    }
    listed.difference(test_images).copied().collect()
}

/// Training identities: those with a training image. Closed-set test: the test lists' images
/// of trained people; open set: every image of test people never trained on.
fn list_splits(
    images: &ImageSet,
    train_images: &BTreeSet<usize>,
    test_images: &BTreeSet<usize>,
) -> Splits {
    let identity = |i: usize| images.samples[i].identity;
    let train_ids: BTreeSet<usize> = train_images.iter().map(|&i| identity(i)).collect();
    let open_ids: BTreeSet<usize> = test_images
        .iter()
        .map(|&i| identity(i))
        .filter(|id| !train_ids.contains(id))
        .collect();
    Splits {
        train_identities: train_ids.iter().copied().collect(),
        train: train_images.iter().copied().collect(),
        closed_test: test_images
            .iter()
            .copied()
            .filter(|&i| train_ids.contains(&identity(i)))
            .collect(),
        open_identities: open_ids.iter().copied().collect(),
        open: (0..images.len())
            .filter(|&i| open_ids.contains(&identity(i)))
            .collect(),
    }
}

/// Who trains and who is tested: the lists share people by design, never images.
fn people_note(images: &ImageSet, splits: &Splits, test_images: &BTreeSet<usize>) -> String {
    let test_people: BTreeSet<usize> = test_images
        .iter()
        .map(|&i| images.samples[i].identity)
        .collect();
    let trained: BTreeSet<usize> = splits.train_identities.iter().copied().collect();
    let shared = test_people.intersection(&trained).count();
    let unused = images.len() - splits.train.len() - splits.closed_test.len() - splits.open.len();
    format!(
        "training on {} images of {} people; the test lists name {} images of {} people, {shared} of them trained on (CaVI tests held-out images of its training people: people are shared by design, images are not); {unused} images are in no list used",
        splits.train.len(),
        trained.len(),
        test_images.len(),
        test_people.len()
    )
}

/// Pair lists only: the seeded identity split; the listed pairs among held-out people are
/// scored in their listed folds, those among trained people choose the thresholds.
fn held_out(
    root: &Path,
    lists: &[PairList],
    images: &ImageSet,
    opts: &LoadOptions,
    report: &mut LoadReport,
) -> Result<Chosen, LoadError> {
    let (splits, excluded) = seeded_splits(images, opts);
    report.excluded_identities.extend(excluded);
    let open: BTreeSet<usize> = splits.open_identities.iter().copied().collect();
    let side = |p: &VerificationPair| {
        let (a, b) = (images.samples[p.a].identity, images.samples[p.b].identity);
        (open.contains(&a), open.contains(&b))
    };
    let mut protocol = Protocol::default();
    let mut mixed = 0;
    for (fold, list) in lists.iter().enumerate() {
        protocol.fold_names.insert(fold, list.label.clone());
        for p in &list.pairs {
            let pair = VerificationPair { fold, ..p.clone() };
            match side(p) {
                (true, true) => protocol.verification.push(pair),
                (false, false) => protocol.calibration.push(pair),
                _ => mixed += 1,
            }
        }
    }
    let mut facts = ProtocolFacts::held_out(
        "CaVI pair lists, held-out identities (seeded split)",
        images,
        &splits,
    );
    if lists.is_empty() {
        report.protocol_used.push(format!(
            "no train/test list and no pair list: {} identities held out by a seeded split (seed {}); verification on generated caricature–photo pairs of them",
            splits.open_identities.len(),
            opts.seed
        ));
        return Ok(Chosen {
            splits,
            protocol: None,
            facts,
        });
    }
    check_evaluable(root, &protocol, "the listed pairs among trained people")?;
    let (m, mm) = count_pairs(&protocol.verification);
    let folds: BTreeMap<usize, usize> =
        protocol
            .verification
            .iter()
            .fold(BTreeMap::new(), |mut acc, p| {
                *acc.entry(p.fold).or_default() += 1;
                acc
            });
    report.protocol_used.push(format!(
        "CaVI pair lists only (no train/test lists): {} identities held out by a seeded split (seed {}); verification on the {} listed pairs among them ({m} matched, {mm} mismatched) in {} listed folds (each list a fold); thresholds chosen on the {} listed pairs among trained people; {mixed} pairs mixing the two are not used",
        splits.open_identities.len(),
        opts.seed,
        protocol.verification.len(),
        folds.len(),
        protocol.calibration.len()
    ));
    facts.count_pairs(&protocol.verification);
    Ok(Chosen {
        splits,
        protocol: Some(protocol),
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_give_roles_and_splits() {
        let c = |n: &str| classify(n);
        assert_eq!(c("testing_1.txt"), (Role::Test, Some("1".into())));
        assert_eq!(c("training_11.txt"), (Role::Train, Some("11".into())));
        assert_eq!(c("Validation.TXT"), (Role::Validation, None));
        assert_eq!(c("complete_identity_list.txt"), (Role::Identities, None));
        assert_eq!(c("pairs.txt"), (Role::Pairs, None));
        assert_eq!(c("test-2b.txt"), (Role::Test, Some("2".into())));
        let splits = [1, 2];
        assert!(belongs(Some("11"), 1, &splits), "split 1, part 1");
        assert!(belongs(Some("12"), 1, &splits), "split 1, part 2");
        assert!(!belongs(Some("12"), 2, &splits));
        assert!(belongs(None, 2, &splits));
        assert!(belongs(Some("2"), 2, &splits));
        assert!(!belongs(Some("2"), 1, &splits), "2 is a split of its own");
        assert!(!belongs(Some("7"), 1, &splits));
    }

    #[test]
    fn folds_are_counted_from_test_lists() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            count_from_names(&names(&["pairs.txt", "training_1.txt"])),
            None
        );
        let two = count_from_names(&names(&[
            "testing_1.txt",
            "testing_2.txt",
            "validation.txt",
        ]));
        assert_eq!(two.map(|c| c.count), Some(2));
        assert_eq!(
            count_from_names(&names(&["testing.txt"])).map(|c| c.count),
            Some(1)
        );
    }
}
