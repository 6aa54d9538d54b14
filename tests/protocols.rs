//! The published protocols on the command line: `train --fold K` on generated WebCaricature and
//! CaVI trees scores every pair its fold lists and never trains on its test people; folds that
//! do not exist, or data without folds, are refused with the folds named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

#[path = "../src/data/real/test_util.rs"]
#[allow(dead_code)]
mod test_util;

use test_util::{WcTree, cavi_protocol_tree, protocol_people, webcaricature_protocol_tree};

fn cari(cache: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cari-mtl"));
    c.args(args)
        .env_remove("CARI_MTL_FAULT")
        .env("XDG_CACHE_HOME", cache);
    c
}

fn run(mut c: Command) -> (Output, String) {
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    (out, err)
}

/// `train` for 3 steps of a tiny network on `dataset`, into `out`.
fn train(cache: &Path, dataset: &str, out: &Path, extra: &[&str]) -> (Output, String) {
    let mut c = cari(
        cache,
        &[
            "train",
            "--steps",
            "3",
            "--device",
            "cpu",
            "--batch-size",
            "16",
            "--dataset",
            dataset,
        ],
    );
    c.args(extra).arg("--out").arg(out);
    run(c)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Fold `k` of a View 2 file as the file lists it, read here independently of the loader: the
/// first line is N, then each fold is N matched lines (3 fields) and N mismatched (4 fields).
fn view2_fold(file: &Path, k: usize) -> (usize, usize, BTreeSet<String>) {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let n: usize = lines[0].trim().parse().unwrap();
    let (mut matched, mut mismatched, mut people) = (0, 0, BTreeSet::new());
    for line in &lines[1 + 2 * n * (k - 1)..1 + 2 * n * k] {
        let fields: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        match fields[..] {
            [name, _, _] => {
                matched += 1;
                people.insert(name.to_string());
            }
            [a, _, b, _] => {
                mismatched += 1;
                people.extend([a.to_string(), b.to_string()]);
            }
            _ => panic!("not a View 2 pair line: {line:?}"),
        }
    }
    (matched, mismatched, people)
}

/// The identities listed first on each line of a gallery or probe list.
fn listed_people(file: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn train_on_webcaricature_fold_3_scores_every_pair_of_view2_fold_3() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = dir.path().join("WebCaricature");
    let tree = WcTree::small();
    webcaricature_protocol_tree(&root, &tree);
    let out = dir.path().join("run");
    let dataset = format!("webcaricature:{}", root.display());
    let (o, err) = train(cache.path(), &dataset, &out, &["--fold", "3"]);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("protocol used: WebCaricature fold 3 of 10\n"),
        "{err}"
    );
    let protocols = root.join("EvaluationProtocols");
    let (matched, mismatched, fold_people) = view2_fold(
        &protocols.join("FaceVerification/Restricted/RestrictedView2.txt"),
        3,
    );
    assert_eq!((matched, mismatched), (4, 4));
    assert_eq!(fold_people.len(), 3, "{fold_people:?}");
    let summary = read_json(&out.join("summary.json"));
    let protocol = &summary["protocol"];
    assert_eq!(
        protocol["name"],
        "WebCaricature Restricted View 2 / C2P / P2C"
    );
    assert_eq!(protocol["fold"], 3);
    assert_eq!(protocol["pairs_matched"], matched);
    assert_eq!(protocol["pairs_mismatched"], mismatched);
    let trained = strings(&protocol["train_identities"]);
    let tested = strings(&protocol["test_identities"]);
    let mut split_people = BTreeSet::new();
    for list in [
        "C2P/FR_Gallery_C2P3.txt",
        "C2P/FR_Probe_C2P3.txt",
        "P2C/FR_Gallery_P2C3.txt",
        "P2C/FR_Probe_P2C3.txt",
    ] {
        split_people.extend(listed_people(
            &protocols.join("FaceIdentification").join(list),
        ));
    }
    for person in fold_people.iter().chain(&split_people) {
        assert!(!trained.contains(person), "{person} was trained on");
        assert!(tested.contains(person), "{person} is not a test identity");
    }
    assert_eq!(trained.len() + tested.len(), 30);
    assert!(summary["metrics"]["verif_acc"].is_number(), "{summary}");
    assert!(summary["metrics"]["c2p_rank1"].is_number(), "{summary}");
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["fold"], 3, "the fold is part of the run's settings");
}

#[test]
fn folds_that_do_not_exist_are_refused_with_the_folds_named() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = dir.path().join("wc");
    webcaricature_protocol_tree(&root, &WcTree::small());
    let dataset = format!("webcaricature:{}", root.display());
    let (o, err) = train(
        cache.path(),
        &dataset,
        &dir.path().join("a"),
        &["--fold", "11"],
    );
    assert!(!o.status.success());
    assert!(
        err.contains("fold 11 does not exist in") && err.contains("folds 1 to 10"),
        "{err}"
    );
    let (o, err) = train(
        cache.path(),
        &dataset,
        &dir.path().join("b"),
        &["--fold", "0"],
    );
    assert!(!o.status.success() && err.contains("--fold 0"), "{err}");
    let (o, err) = train(
        cache.path(),
        "synthetic",
        &dir.path().join("c"),
        &["--fold", "2"],
    );
    assert!(
        !o.status.success() && err.contains("synthetic dataset, which has no published folds"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn cavi_with_and_without_train_test_lists() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let people: Vec<String> = protocol_people(12)
        .iter()
        .map(|p| p.replace(' ', "_"))
        .collect();
    let with = dir.path().join("with");
    cavi_protocol_tree(&with, &people, 6, true);
    let out = dir.path().join("run-with");
    let (o, err) = train(cache.path(), &format!("cavi:{}", with.display()), &out, &[]);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("protocol used: CaVI train/test lists, split 1, fold 1 of 1"),
        "{err}"
    );
    let protocol = read_json(&out.join("summary.json"))["protocol"].clone();
    assert_eq!(protocol["name"], "CaVI train/test lists");
    assert_eq!(protocol["fold"], 1);
    // testing_1.txt: 2 × 2 matched pairs a person, one mismatched pair for every two people.
    let test_list = std::fs::read_to_string(with.join("train-test-files/testing_1.txt")).unwrap();
    let listed_matched = test_list.lines().filter(|l| l.ends_with(" 1")).count();
    let listed_mismatched = test_list.lines().filter(|l| l.ends_with(" 0")).count();
    assert_eq!(protocol["pairs_matched"], listed_matched);
    assert_eq!(protocol["pairs_mismatched"], listed_mismatched);
    assert_eq!(strings(&protocol["test_identities"]).len(), 12);

    let without = dir.path().join("without");
    cavi_protocol_tree(&without, &people, 3, false);
    let dataset = format!("cavi:{}", without.display());
    let out = dir.path().join("run-without");
    let (o, err) = train(cache.path(), &dataset, &out, &[]);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("protocol used: CaVI pair lists only (no train/test lists)"),
        "{err}"
    );
    let protocol = read_json(&out.join("summary.json"))["protocol"].clone();
    assert_eq!(
        protocol["name"],
        "CaVI pair lists, held-out identities (seeded split)"
    );
    assert!(protocol["fold"].is_null());
    assert_eq!(protocol["pairs_matched"], 4, "2 held-out people × 2 lists");
    let (o, err) = train(
        cache.path(),
        &dataset,
        &dir.path().join("x"),
        &["--fold", "1"],
    );
    assert!(
        !o.status.success() && err.contains("no published folds"),
        "{err}"
    );
}
