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
