//! Run folders for other tools and back: `export --tensorboard` read back with the event
//! format's own reader.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn export_writes_every_metrics_row_as_scalars_and_the_projector_files() {
    let dir = tempfile::tempdir().unwrap();
    let (run, out) = (dir.path().join("run"), dir.path().join("tb"));
    let train = Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args([
            "train",
            "--steps",
            "12",
            "--device",
            "cpu",
            "--identities",
            "12",
        ])
        .args([
            "--open-identities",
            "6",
            "--images-per-modality",
            "6",
            "--test-images",
            "2",
        ])
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let export = |out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
            .args(["export", "--device", "cpu", "--tensorboard"])
            .arg(&run)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let o = export(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let event_file = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("tfevents"))
        .expect("an event file");
    let bytes = std::fs::read(&event_file).unwrap();
    let events = cari_mtl::tensorboard::events::scalar_events(&bytes).unwrap();
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 12);
    for (tag, column) in [
        ("weight/verif", 3),
        ("weight/visual", 4),
        ("weight/cari", 5),
        ("loss/verif", 6),
        ("loss/visual", 7),
        ("loss/cari", 8),
    ] {
        let series: Vec<_> = events.iter().filter(|e| e.tag == tag).collect();
        assert_eq!(series.len(), rows.len(), "{tag}");
        for (e, row) in series.iter().zip(&rows) {
            assert_eq!(e.step.to_string(), row[0]);
            let value: f32 = row[column].parse().unwrap();
            assert!(
                (e.value - value).abs() <= 1e-6 * value.abs().max(1.0),
                "{tag}"
            );
        }
        let first_wall: f64 = rows[0][1].parse().unwrap();
        let last_wall: f64 = rows[11][1].parse().unwrap();
        let span = series[11].wall_secs - series[0].wall_secs;
        assert!(
            (span - (last_wall - first_wall)).abs() < 1e-3,
            "wall times from metrics.csv"
        );
    }
    assert_eq!(
        events.iter().filter(|e| e.tag.starts_with("eval/")).count(),
        10
    );
    for name in [
        "projector_config.pbtxt",
        "tensors.tsv",
        "metadata.tsv",
        "sprite.png",
    ] {
        assert!(out.join(name).is_file(), "{name}");
    }
    let tensors = std::fs::read_to_string(out.join("tensors.tsv")).unwrap();
    assert_eq!(
        tensors.lines().count(),
        6 * 12,
        "one row per held-out image"
    );
    let again = export(&out);
    assert!(
        !again.status.success(),
        "a second export into the same folder is refused"
    );
}

#[test]
fn eval_every_writes_each_evaluation_and_the_final_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let train = Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args([
            "train",
            "--steps",
            "10",
            "--eval-every",
            "5",
            "--device",
            "cpu",
        ])
        .args(["--identities", "12", "--open-identities", "6"])
        .args(["--images-per-modality", "6", "--test-images", "2"])
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let csv = std::fs::read_to_string(run.join("evaluations.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "step");
    assert_eq!(&header[1..], cari_mtl::eval::METRIC_KEYS);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let steps: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        steps,
        ["5", "10"],
        "the last evaluation is the final one, made once"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["step"], 10);
    for (key, cell) in header[1..].iter().zip(&rows[1][1..]) {
        let value: f64 = cell.parse().unwrap();
        let final_value = summary["metrics"][key].as_f64().unwrap();
        assert!(
            (value - final_value).abs() < 1e-6,
            "{key}: {value} vs {final_value}"
        );
    }
    assert!(!run.join("evaluations.csv.partial").exists());
}

/// `train` with the small synthetic set, `extra` flags added; returns metrics.csv's rows.
fn train_rows(dir: &std::path::Path, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let run = dir.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args(["train", "--device", "cpu", "--identities", "12"])
        .args(["--open-identities", "6", "--images-per-modality", "6"])
        .args(["--test-images", "2", "--batch-size", "16"])
        .args(extra)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn a_held_weight_is_written_on_its_rows_and_the_rule_decides_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let hold = ["--strategy", "naive", "--steps", "205"];
    let rows = train_rows(
        dir.path(),
        "held",
        &[&hold[..], &["--hold", "cari:0.6@100-200"]].concat(),
    );
    assert_eq!(rows.len(), 205);
    let weights =
        |row: &[String]| -> [f64; 3] { [3, 4, 5].map(|c| row[c].parse::<f64>().unwrap()) };
    for row in &rows {
        let step: u64 = row[0].parse().unwrap();
        let w = weights(row);
        assert!(
            (w.iter().sum::<f64>() - 1.0).abs() < 1e-4,
            "step {step}: {w:?}"
        );
        if (100..=200).contains(&step) {
            assert_eq!(row[5], "0.600000", "step {step}");
        } else {
            assert!((w[2] - 0.6).abs() > 1e-3, "step {step} is not held: {w:?}");
        }
    }
    // Under the hold naive's own ratio of the other two goes on: verif : visual is the rule's.
    let held = weights(&rows[149]);
    assert!(held[0] > 0.0 && held[1] > 0.0);
    // Before the hold the run is naive's, row for row (weights and losses; the trainer is
    // deterministic, see tests/engine.rs).
    let plain = train_rows(dir.path(), "plain", &hold);
    for (a, b) in rows[..99].iter().zip(&plain[..99]) {
        assert_eq!(a[3..9], b[3..9], "step {}", a[0]);
    }
    // A hold that cannot be met is refused before training, naming the flag.
    let refused = Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args([
            "train",
            "--steps",
            "3",
            "--hold",
            "cari:0.6@1-5",
            "--hold",
            "verif:0.6@2-3",
        ])
        .arg("--out")
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("--hold") && message.contains("more than 1"),
        "{message}"
    );
}

#[test]
fn the_landscape_prints_the_end_of_a_path_and_writes_it_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("path.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args(["toy", "--landscape", "cagrad", "--rule", "mgda"])
        .args(["--start", "-8.5,7.5", "--steps", "100000", "--path-csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let min_norm = line["min_norm"].as_f64().unwrap();
    assert!(min_norm < 1e-3, "{line}");
    assert!(line["pareto_distance"].as_f64().unwrap() < 1e-3, "{line}");
    assert_eq!(line["theta"].as_array().unwrap().len(), 2);
    assert_eq!(line["losses"].as_array().unwrap().len(), 2);
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        rows.lines().count(),
        1 + 1001,
        "header, every 100th step, the end"
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args([
            "toy",
            "--landscape",
            "cagrad",
            "--rule",
            "gradnorm",
            "--steps",
            "10",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot run on the landscape"));
}
