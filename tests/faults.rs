//! Fault injection on the command line: re-used folders, a run killed mid-way, absurd numbers,
//! a run that fails inside a sweep, a checkpoint read against another run, shards collected.
//! Each test names the class of failure it keeps from coming back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/data/real/test_util.rs"]
#[allow(dead_code)]
mod test_util;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A small synthetic set so each run takes a second or two.
const SMALL: [&str; 10] = [
    "--identities",
    "12",
    "--open-identities",
    "6",
    "--images-per-modality",
    "6",
    "--test-images",
    "2",
    "--batch-size",
    "16",
];

fn cari(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cari-mtl"));
    c.args(args).env_remove("CARI_MTL_FAULT");
    c
}

fn run(mut c: Command) -> (Output, String) {
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    (out, err)
}

fn train(out: &Path, steps: &str, extra: &[&str]) -> Command {
    let mut c = cari(&["train", "--steps", steps, "--device", "cpu"]);
    c.args(SMALL).args(extra).arg("--out").arg(out);
    c
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_used_out_folder_is_refused_and_overwrite_replaces_only_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (first, err) = run(train(&out, "5", &["--seed", "1"]));
    assert!(first.status.success(), "{err}");
    let before = std::fs::read(out.join("metrics.csv")).unwrap();
    std::fs::write(out.join("my-notes.txt"), b"keep me").unwrap();
    let (again, err) = run(train(&out, "3", &["--seed", "2"]));
    assert!(!again.status.success());
    assert!(
        err.contains("not empty") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("metrics.csv")).unwrap(),
        before,
        "untouched"
    );
    let (over, err) = run(train(&out, "3", &["--seed", "2", "--overwrite"]));
    assert!(over.status.success(), "{err}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "only the new run's rows");
    assert_eq!(read_json(&out.join("config.json"))["seed"], 2);
    assert_eq!(std::fs::read(out.join("my-notes.txt")).unwrap(), b"keep me");
}

#[test]
fn a_run_killed_mid_way_leaves_every_finished_step_and_says_it_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = train(&out, "100000", &[]).spawn().unwrap();
    let partial = out.join("metrics.csv.partial");
    // Killed once 20 steps are in the file (however long that takes): what is checked after
    // does not depend on when the kill lands.
    let started = Instant::now();
    while std::fs::read_to_string(&partial).map_or(0, |t| t.lines().count()) < 21 {
        assert!(started.elapsed() < Duration::from_secs(120), "no rows");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = std::fs::read_to_string(&partial).unwrap();
    assert!(text.ends_with('\n'), "no half-written last line");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(cari_mtl::train::metrics::METRICS_HEADER),
        "the header"
    );
    let mut steps = Vec::new();
    cari_mtl::train::metrics::read_metrics_csv(std::io::Cursor::new(text.as_bytes()), |row| {
        steps.push(row.step)
    })
    .expect("every row parses");
    assert!(steps.len() >= 20, "{} rows", steps.len());
    let contiguous: Vec<u64> = (1..=steps.len() as u64).collect();
    assert_eq!(
        steps, contiguous,
        "every finished step, in order, none missing"
    );
    assert!(out.join("INCOMPLETE").is_file());
    assert!(out.join("config.json").is_file());
    assert!(
        !out.join("metrics.csv").exists(),
        "no file claims to be the whole run"
    );
    assert!(!out.join("summary.json").exists());
    assert!(std::fs::read_dir(&out).unwrap().all(|e| {
        let name = e.unwrap().file_name();
        !name.to_string_lossy().ends_with(".tmp")
    }));
}

#[test]
fn absurd_numbers_get_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cases: [(&[&str], &str); 5] = [
        (&["train", "--steps", "18446744073709551615"], "max_steps"),
        (
            &[
                "train",
                "--steps",
                "1",
                "--identities",
                "9223372036854775807",
            ],
            "train_identities",
        ),
        (
            &[
                "train",
                "--steps",
                "1",
                "--images-per-modality",
                "9223372036854775807",
            ],
            "photos_per_identity",
        ),
        (&["bench", "--steps", "18446744073709551615"], "--steps"),
        (&["compare", "--seeds", "18446744073709551615"], "runs"),
    ];
    for (args, named) in cases {
        let mut c = cari(args);
        c.arg("--out").arg(&out);
        if args[0] == "bench" {
            c = cari(args);
        }
        let (o, err) = run(c);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_failed_run_inside_compare_is_recorded_and_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let mut c = cari(&[
        "compare",
        "--strategies",
        "proposed,naive",
        "--seeds",
        "1",
        "--steps",
        "6",
        "--jobs",
        "1",
    ]);
    c.args(SMALL)
        .arg("--out")
        .arg(&out)
        .env("CARI_MTL_FAULT", "naive@3");
    let (o, err) = run(c);
    assert!(
        !o.status.success(),
        "a failed run makes compare exit non-zero"
    );
    assert!(err.contains("failed: naive seed 1 at step 3"), "{err}");
    let results = read_json(&out.join("results.json"));
    let failed = results["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0]["strategy"].as_str(), failed[0]["step"].as_u64()),
        (Some("naive"), Some(3))
    );
    assert!(failed[0]["reason"].as_str().unwrap().contains("NaN"));
    assert_eq!(
        results["proposed"]["verif_acc"]["values"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let marker = std::fs::read_to_string(out.join("naive/seed1/INCOMPLETE")).unwrap();
    assert!(marker.contains("failed at step 3"), "{marker}");
    assert!(out.join("proposed/seed1/metrics.csv").is_file());
}

#[test]
fn a_sharded_sweep_collects_to_the_same_results_as_one_compare() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = [
        "--strategies",
        "proposed,naive",
        "--seeds",
        "2",
        "--steps",
        "8",
        "--jobs",
        "2",
    ];
    let whole = dir.path().join("whole");
    let mut c = cari(&["compare"]);
    c.args(sweep).args(SMALL).arg("--out").arg(&whole);
    let (o, err) = run(c);
    assert!(o.status.success(), "{err}");
    let sharded = dir.path().join("sharded");
    for shard in ["1/2", "2/2"] {
        let mut c = cari(&["compare", "--shard", shard]);
        c.args(sweep).args(SMALL).arg("--out").arg(&sharded);
        let (o, err) = run(c);
        assert!(o.status.success(), "{shard}: {err}");
        assert!(
            !sharded.join("results.json").exists(),
            "a shard alone writes no results"
        );
    }
    let mut c = cari(&["compare", "--collect"]);
    c.arg(&sharded);
    let (o, err) = run(c);
    assert!(o.status.success(), "{err}");
    let (a, b) = (
        read_json(&whole.join("results.json")),
        read_json(&sharded.join("results.json")),
    );
    assert_eq!(a, b, "the collected results equal the unsharded sweep's");
    assert_eq!(a["proposed"]["auc"]["values"].as_array().unwrap().len(), 2);
    // Each figure's sd is the sample sd (n − 1) of the values it lists, with n beside it.
    for strategy in ["proposed", "naive"] {
        for (key, entry) in a[strategy].as_object().unwrap() {
            let values: Vec<f64> = entry["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let sample_sd =
                (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            assert_eq!(entry["n"], 2, "{strategy} {key}");
            let sd = entry["sd"].as_f64().unwrap();
            assert!((sd - sample_sd).abs() < 1e-12, "{strategy} {key}: {entry}");
        }
    }
    // The paired section: proposed − naive per seed, from the figures the same file lists.
    let values = |s: &str| -> Vec<f64> {
        let v = &a[s]["auc"];
        assert_eq!(v["seeds"], serde_json::json!([1, 2]));
        v["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (p, n) = (values("proposed"), values("naive"));
    let paired = &a["paired"]["proposed_vs_naive"]["auc"];
    assert_eq!(paired["n"], 2);
    let mean_diff = ((p[0] - n[0]) + (p[1] - n[1])) / 2.0;
    assert!(
        (paired["mean_diff"].as_f64().unwrap() - mean_diff).abs() < 1e-12,
        "{paired}"
    );
    assert!(paired["ci_low"].as_f64().unwrap() <= mean_diff);
    assert!(paired["ci_high"].as_f64().unwrap() >= mean_diff);
    // A missing shard is listed, not silently averaged away.
    std::fs::remove_dir_all(sharded.join("naive/seed2")).unwrap();
    let mut c = cari(&["compare", "--collect"]);
    c.arg(&sharded);
    let (o, err) = run(c);
    assert!(
        !o.status.success() && err.contains("missing: naive seed 2"),
        "{err}"
    );
}

#[test]
fn a_sweep_over_folds_shards_and_collects_like_one_compare() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = dir.path().join("wc");
    test_util::webcaricature_protocol_tree(&root, &test_util::WcTree::small());
    let dataset = format!("webcaricature:{}", root.display());
    let sweep = [
        "--strategies",
        "proposed,naive",
        "--seeds",
        "2",
        "--steps",
        "3",
        "--jobs",
        "2",
        "--folds",
        "3,1",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--dataset",
        &dataset,
    ];
    let compare = |extra: &[&str], out: &Path| {
        let mut c = cari(&["compare"]);
        c.args(sweep)
            .args(extra)
            .arg("--out")
            .arg(out)
            .env("XDG_CACHE_HOME", cache.path());
        run(c)
    };
    let whole = dir.path().join("whole");
    let (o, err) = compare(&[], &whole);
    assert!(o.status.success(), "{err}");
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        table.contains("over 2 folds (the 2 seeds of each fold averaged first)"),
        "{table}"
    );
    assert_eq!(
        read_json(&whole.join("sweep.json"))["folds"],
        serde_json::json!([1, 3])
    );
    let summary = read_json(&whole.join("naive/seed2/fold3/summary.json"));
    assert_eq!(summary["protocol"]["fold"], 3);
    let sharded = dir.path().join("sharded");
    for shard in ["1/2", "2/2"] {
        let (o, err) = compare(&["--shard", shard], &sharded);
        assert!(o.status.success(), "{shard}: {err}");
    }
    let mut c = cari(&["compare", "--collect"]);
    c.arg(&sharded);
    let (o, err) = run(c);
    assert!(o.status.success(), "{err}");
    let (a, b) = (
        read_json(&whole.join("results.json")),
        read_json(&sharded.join("results.json")),
    );
    assert_eq!(a, b, "the collected results equal the unsharded sweep's");
    let acc = &a["proposed"]["verif_acc"];
    assert_eq!(acc["folds"], serde_json::json!([1, 1, 3, 3]));
    assert_eq!(acc["seeds"], serde_json::json!([1, 2, 1, 2]));
    assert_eq!(acc["over"], "folds");
    assert_eq!(acc["fold_means"].as_object().unwrap().len(), 2);
    // A fold the dataset does not have is refused before anything trains.
    let mut c = cari(&["compare", "--folds", "2,12", "--dataset", &dataset]);
    c.arg("--out").arg(dir.path().join("bad"));
    let (o, err) = run(c);
    assert!(
        !o.status.success()
            && err.contains("fold 12 does not exist")
            && err.contains("folds 1 to 10"),
        "{err}"
    );
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn a_checkpoint_is_not_read_against_another_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (o, err) = run(train(&out, "3", &["--seed", "3"]));
    assert!(o.status.success(), "{err}");
    let checkpoint = out.join("checkpoint.safetensors");
    let embed = |extra: &[&str]| {
        let mut c = cari(&[
            "embed",
            "--iterations",
            "60",
            "--device",
            "cpu",
            "--checkpoint",
        ]);
        c.arg(&checkpoint)
            .arg("--out")
            .arg(dir.path().join("embed"))
            .args(extra);
        run(c)
    };
    let (o, err) = embed(&["--seed", "4"]);
    assert!(!o.status.success());
    assert!(
        err.contains("seed: the checkpoint's is 3, this run's is 4"),
        "{err}"
    );
    let (o, err) = embed(&["--identities", "13"]);
    assert!(
        !o.status.success() && err.contains("training identities"),
        "{err}"
    );
    let (o, err) = embed(&[]);
    assert!(
        o.status.success(),
        "the checkpoint's own run by default: {err}"
    );
    let csv = std::fs::read_to_string(dir.path().join("embed/embedding.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 6 * 12,
        "6 held-out identities × 12 images"
    );
}

/// Copy a run folder's files (one level: what a run folder holds).
fn copy_run(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).unwrap();
    }
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_sweep_refuses_runs_and_calls_with_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = [
        "--strategies",
        "proposed,naive",
        "--steps",
        "4",
        "--jobs",
        "2",
        "--device",
        "cpu",
    ];
    let compare = |extra: &[&str], out: &Path| {
        let mut c = cari(&["compare"]);
        c.args(sweep).args(SMALL).args(extra).arg("--out").arg(out);
        run(c)
    };
    let (main, other) = (dir.path().join("main"), dir.path().join("other"));
    let (o, err) = compare(&["--seeds", "2"], &main);
    assert!(o.status.success(), "{err}");
    let recorded = read_json(&main.join("sweep.json"));
    assert_eq!(
        recorded["settings"]["runs"]["proposed"]["lr"],
        serde_json::json!(0.001)
    );
    assert!(recorded["settings"]["version"].is_string());
    let results = read_json(&main.join("results.json"));
    assert_eq!(results["sweep"]["settings"], recorded["settings"]);
    // A second call into the folder with another --lr and --seeds is refused, naming both.
    let (o, err) = compare(&["--lr", "0.01", "--seeds", "3"], &main);
    assert!(!o.status.success());
    assert!(
        err.contains("lr (--lr): 0.001 in the sweep, 0.01 in this call") && err.contains("seeds"),
        "{err}"
    );
    assert_eq!(read_json(&main.join("sweep.json")), recorded, "untouched");
    // A run copied in from a sweep trained with another --lr: collect refuses it by name.
    let (o, err) = compare(&["--seeds", "2", "--lr", "0.01"], &other);
    assert!(o.status.success(), "{err}");
    copy_run(&other.join("naive/seed2"), &main.join("naive/seed2"));
    std::fs::remove_file(main.join("results.json")).unwrap();
    let collect = |extra: &[&str]| {
        let mut c = cari(&["compare", "--collect"]);
        c.arg(&main).args(extra);
        run(c)
    };
    let (o, err) = collect(&[]);
    assert!(!o.status.success());
    assert!(
        err.contains("naive seed 2")
            && err.contains("lr (--lr): 0.001 in the sweep, 0.01 in the run"),
        "{err}"
    );
    assert!(err.contains("--allow-mixed"), "{err}");
    assert!(!main.join("results.json").exists(), "nothing written");
    // --allow-mixed collects it and lists what differs.
    let (o, err) = collect(&["--allow-mixed"]);
    assert!(o.status.success(), "{err}");
    let results = read_json(&main.join("results.json"));
    let mixed = results["mixed"].as_array().unwrap();
    assert_eq!(mixed.len(), 1, "{mixed:?}");
    assert_eq!(
        (mixed[0]["strategy"].as_str(), mixed[0]["seed"].as_u64()),
        (Some("naive"), Some(2))
    );
    let names: Vec<&str> = mixed[0]["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"lr") && names.contains(&"psi_lr"),
        "{names:?}"
    );
    assert_eq!(results["naive"]["verif_acc"]["n"], 2, "collected");
}
