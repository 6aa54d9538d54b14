//! `cari-mtl export --tensorboard RUN_DIR --out DIR`: a run's curves and embedding in
//! TensorBoard's formats, so it sits beside the user's other experiments.
//!
//! Scalars: `weight/<task>` and `loss/<task>` for every metrics row (wall time: the run's
//! start, taken from its config.json's time, plus the row's `wall_s`), `eval/<metric>` at the
//! final evaluation's step. Projector: the checkpoint's verification embeddings of the held-out
//! images, with each point's identity, modality and file, and a sprite of the faces.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::eval::{EmbeddingRequest, EmbeddingSource};
use crate::task::Task;
use crate::tensorboard::{
    ProjectorInput, ScalarEvent, Thumbnails, write_event_file, write_projector,
};
use crate::train::checkpoint;
use crate::train::config::TrainConfig;
use crate::train::metrics::{LENS_COLUMNS, StepMetrics, lens_values};
use crate::train::run_folder::{CONFIG_FILE, OpenedRun};
use crate::train::trainer::{Trainer, select_device};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The run folder to export (written by `cari-mtl train` or `compare`).
    #[arg(long, value_name = "RUN_DIR")]
    pub tensorboard: PathBuf,
    /// Where the TensorBoard files go (a new or empty folder: TensorBoard shows every event
    /// file of a folder, so a second export into it would show the points twice).
    #[arg(long)]
    pub out: PathBuf,
    /// Write the scalars only (no embedding pass over the checkpoint).
    #[arg(long)]
    pub scalars_only: bool,
    /// Where the embedding pass runs: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Rows per event file: a long run is written in several files instead of one held in memory.
const ROWS_PER_FILE: usize = 100_000;

pub fn run(args: ExportArgs) -> Result<()> {
    let run = OpenedRun::open(&args.tensorboard)?;
    prepare_out(&args.out)?;
    if !run.finished {
        eprintln!(
            "note: {} did not finish; exporting the rows it has",
            run.dir.display()
        );
    }
    let (rows, files) = write_scalars(&run, &args.out)?;
    println!(
        "{rows} metrics rows as {} scalar events in {files} event file(s), {} evaluation scalars → {}",
        rows * 6,
        run.final_metrics().len(),
        args.out.display()
    );
    if args.scalars_only {
        return Ok(());
    }
    match &run.checkpoint {
        Some(path) => {
            let points = write_embeddings(&run, path, &args)?;
            println!(
                "projector: {points} held-out images → {}",
                args.out.display()
            );
        }
        None => eprintln!("note: the run has no checkpoint: no projector files"),
    }
    Ok(())
}

/// A new folder, or an empty one.
fn prepare_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let used = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .next()
        .is_some();
    if used {
        bail!(
            "{} is not empty: export into a new folder (TensorBoard would show points twice)",
            out.display()
        );
    }
    Ok(())
}

/// Seconds since the epoch when the run started: its config.json is written first.
fn run_start_secs(run: &OpenedRun) -> f64 {
    std::fs::metadata(run.dir.join(CONFIG_FILE))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Six scalars per row (fifteen where the gradient lens looked), and the evaluation's; returns
/// (rows, files written).
fn write_scalars(run: &OpenedRun, out: &Path) -> Result<(u64, usize)> {
    let start = run_start_secs(run);
    let mut events = Vec::new();
    let mut files = 0;
    let mut last_wall = 0.0;
    let mut failure = None;
    let rows = run.for_each_row(|row| {
        last_wall = row.wall_secs;
        events.extend(row_events(&row, start));
        if events.len() >= 15 * ROWS_PER_FILE && failure.is_none() {
            match write_event_file(out, &events) {
                Ok(_) => files += 1,
                Err(e) => failure = Some(e),
            }
            events.clear();
        }
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let step = run.summary_step().unwrap_or(0) as i64;
    for (key, value) in run.final_metrics() {
        events.push(ScalarEvent {
            tag: format!("eval/{key}"),
            step,
            wall_secs: start + last_wall,
            value: value as f32,
        });
    }
    if !events.is_empty() || files == 0 {
        write_event_file(out, &events)?;
        files += 1;
    }
    Ok((rows, files))
}

/// A row's scalars: each task's weight and loss, and on the steps the gradient lens looked its
/// nine values under `grad/` (the metrics.csv column names without `grad_`).
fn row_events(row: &StepMetrics, start: f64) -> impl Iterator<Item = ScalarEvent> + '_ {
    let wall_secs = start + row.wall_secs;
    let event = move |tag: String, value: f32| ScalarEvent {
        tag,
        step: row.step as i64,
        wall_secs,
        value,
    };
    let tasks = Task::ALL.into_iter().flat_map(move |task| {
        let i = task.index();
        [("weight", row.weights[i]), ("loss", row.losses[i])]
            .map(|(kind, value)| event(format!("{kind}/{}", task.key()), value))
    });
    let lens = row.lens.iter().flat_map(move |lens| {
        LENS_COLUMNS
            .iter()
            .zip(lens_values(lens))
            .map(move |(column, value)| {
                let name = column.trim_start_matches("grad_");
                event(format!("grad/{name}"), value)
            })
    });
    tasks.chain(lens)
}

/// The checkpoint's verification embeddings of the held-out images; returns the point count.
fn write_embeddings(run: &OpenedRun, checkpoint_path: &Path, args: &ExportArgs) -> Result<usize> {
    let config = checkpoint_config(run, checkpoint_path)?;
    let device = select_device(&args.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let dataset = Arc::new(
        config
            .load_dataset(&|_: f32| {})
            .context("the run's dataset")?,
    );
    let mut trainer = Trainer::new(config, dataset.clone(), &device)?;
    trainer.load_checkpoint(checkpoint_path)?;
    let samples = dataset.splits.open.clone();
    let embeddings = trainer.embed(&EmbeddingRequest {
        source: EmbeddingSource::Verif,
        samples: samples.clone(),
        at_step: None,
    })?;
    let images = &dataset.images;
    let metadata: Vec<Vec<String>> = samples
        .iter()
        .map(|&i| {
            let s = &images.samples[i];
            vec![
                images.identities[s.identity].clone(),
                s.modality.as_str().to_string(),
                s.source.clone(),
            ]
        })
        .collect();
    let rgb: Vec<u8> = samples
        .iter()
        .flat_map(|&i| images.image(i).to_vec())
        .collect();
    let input = ProjectorInput {
        name: "verification embedding (held-out images)",
        dim: embeddings.dim,
        values: &embeddings.values,
        metadata_header: &["identity", "modality", "source"],
        metadata: &metadata,
        thumbnails: Some(Thumbnails {
            width_px: images.image_size,
            height_px: images.image_size,
            rgb: &rgb,
        }),
    };
    write_projector(&args.out, &input)?;
    Ok(samples.len())
}

/// The run that wrote the checkpoint (its recorded facts), else the run folder's config.
fn checkpoint_config(run: &OpenedRun, path: &Path) -> Result<TrainConfig> {
    let mut config = run.config.clone();
    if let Some(recorded) = checkpoint::read_run(path).map_err(anyhow::Error::msg)? {
        config.seed = recorded.seed;
        config.preset = recorded.preset;
        config.data = recorded.data;
        config.data.synthetic.seed = recorded.seed;
        config.data.synthetic.image_size = recorded.preset.image_size();
    }
    config.max_steps = 0;
    Ok(config)
}
