//! Write a run's metrics as TensorBoard files, to try `bench/tensorboard_check.py` before
//! `cari-mtl export --tensorboard` exists.
//!
//! ```text
//! cargo run --release --example tensorboard_demo -- RUN_DIR OUT_DIR
//! python3 bench/tensorboard_check.py OUT_DIR RUN_DIR
//! ```
//!
//! Reads RUN_DIR/metrics.csv (as `cari-mtl train` writes it) and the `metrics` of
//! RUN_DIR/summary.json, and writes one event file into OUT_DIR: weight/* and loss/* per row,
//! eval/* at the summary's step. Wall times are `wall_s` plus an offset that puts the run's end
//! at now. Also writes a small projector folder (12 seeded points, two metadata columns,
//! solid-colour thumbnails) into OUT_DIR.

use std::error::Error;
use std::path::Path;

use cari_mtl::seeded::SplitMix64;
use cari_mtl::tensorboard::{
    ProjectorInput, ScalarEvent, Thumbnails, write_event_file, write_projector,
};

const TASKS: [&str; 3] = ["verif", "visual", "cari"];

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [run_dir, out_dir] = args.as_slice() else {
        return Err("usage: tensorboard_demo RUN_DIR OUT_DIR".into());
    };
    let (run_dir, out_dir) = (Path::new(run_dir), Path::new(out_dir));
    let rows = read_metrics(&run_dir.join("metrics.csv"))?;
    let last_wall_s = rows.last().map_or(0.0, |r| r.wall_s);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let start_secs = now.as_secs_f64() - last_wall_s;
    let mut events = metric_events(&rows, start_secs);
    events.extend(summary_events(
        &run_dir.join("summary.json"),
        start_secs + last_wall_s,
    )?);
    let path = write_event_file(out_dir, &events)?;
    println!("{} events → {}", events.len(), path.display());
    write_demo_projector(out_dir)?;
    println!("projector → {}", out_dir.display());
    Ok(())
}

struct Row {
    step: i64,
    wall_s: f64,
    weights: [f32; 3],
    losses: [f32; 3],
}

/// metrics.csv by column name, so a reordering of its columns cannot mislabel a series.
fn read_metrics(path: &Path) -> Result<Vec<Row>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column {name}", path.display()))
    };
    let (step, wall) = (column("step")?, column("wall_s")?);
    let w: Vec<usize> = TASKS
        .iter()
        .map(|t| column(&format!("w_{t}")))
        .collect::<Result<_, _>>()?;
    let l: Vec<usize> = TASKS
        .iter()
        .map(|t| column(&format!("loss_{t}")))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let cell = |i: usize| cells.get(i).copied().unwrap_or_default();
        rows.push(Row {
            step: cell(step).parse()?,
            wall_s: cell(wall).parse()?,
            weights: [
                cell(w[0]).parse()?,
                cell(w[1]).parse()?,
                cell(w[2]).parse()?,
            ],
            losses: [
                cell(l[0]).parse()?,
                cell(l[1]).parse()?,
                cell(l[2]).parse()?,
            ],
        });
    }
    Ok(rows)
}

fn metric_events(rows: &[Row], start_secs: f64) -> Vec<ScalarEvent> {
    let mut events = Vec::new();
    for row in rows {
        for (t, task) in TASKS.iter().enumerate() {
            for (kind, value) in [("weight", row.weights[t]), ("loss", row.losses[t])] {
                events.push(ScalarEvent {
                    tag: format!("{kind}/{task}"),
                    step: row.step,
                    wall_secs: start_secs + row.wall_s,
                    value,
                });
            }
        }
    }
    events
}

/// eval/<key> for each number in summary.json's `metrics`, at the summary's step.
fn summary_events(path: &Path, wall_secs: f64) -> Result<Vec<ScalarEvent>, Box<dyn Error>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let step = summary["step"].as_i64().unwrap_or(0);
    let Some(metrics) = summary["metrics"].as_object() else {
        return Ok(Vec::new());
    };
    Ok(metrics
        .iter()
        .filter_map(|(key, v)| {
            Some(ScalarEvent {
                tag: format!("eval/{key}"),
                step,
                wall_secs,
                value: v.as_f64()? as f32,
            })
        })
        .collect())
}

fn write_demo_projector(dir: &Path) -> Result<(), Box<dyn Error>> {
    const N: usize = 12;
    const DIM: usize = 4;
    const SIDE: usize = 8;
    let mut rng = SplitMix64(7);
    let values: Vec<f32> = (0..N * DIM)
        .map(|_| rng.below(1000) as f32 / 100.0)
        .collect();
    let metadata: Vec<Vec<String>> = (0..N)
        .map(|i| {
            let modality = if i % 2 == 0 { "photo" } else { "caricature" };
            vec![format!("person {}", i / 2), modality.to_string()]
        })
        .collect();
    let rgb: Vec<u8> = (0..N)
        .flat_map(|i| {
            std::iter::repeat_n([(20 * i) as u8, 128, 255 - (20 * i) as u8], SIDE * SIDE).flatten()
        })
        .collect();
    let input = ProjectorInput {
        name: "demo faces",
        dim: DIM,
        values: &values,
        metadata_header: &["identity", "modality"],
        metadata: &metadata,
        thumbnails: Some(Thumbnails {
            width_px: SIDE,
            height_px: SIDE,
            rgb: &rgb,
        }),
    };
    Ok(write_projector(dir, &input)?)
}
