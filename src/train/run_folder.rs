//! A run's folder, as `cari-mtl train` and `compare` write it and the window and `export` read
//! it back:
//!
//! | file | written |
//! |---|---|
//! | `config.json` | first: every setting of the run, and the version that wrote it (`cari_mtl_version`) |
//! | `INCOMPLETE` | at the start; removed last, when everything else is in place |
//! | `metrics.csv.partial` | one row per step while training, each written as it comes (a kill loses no finished step), synced at every evaluation; synced and renamed `metrics.csv` at the end |
//! | `evaluations.csv.partial` | one row per evaluation (`--eval-every`, and the final one), written and synced as it comes; renamed `evaluations.csv` at the end |
//! | `checkpoint.safetensors` | at the end, with the run's facts in its metadata |
//! | `summary.json` | at the end: the final evaluation (or why it failed) |
//!
//! A folder is never left mixed: a non-empty folder is refused unless the caller asked to
//! overwrite, and then the previous run's files are removed before anything is written. Every
//! whole file is written atomically. A crash leaves `INCOMPLETE` and `metrics.csv.partial`,
//! which say the run did not finish.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::config::TrainConfig;
use super::metrics::{METRICS_HEADER, StepMetrics, csv_row};
use crate::atomic_file::{WriteError, sync_folder_of, write_bytes};
use crate::eval::METRIC_KEYS;

pub const CONFIG_FILE: &str = "config.json";
/// This program's version, as recorded in each run's config.json (and a sweep's files).
pub const PROGRAM_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The key under which a run's config.json records the version that wrote it, beside the
/// config's own fields (a config.json without it was written before versions were recorded).
pub const VERSION_KEY: &str = "cari_mtl_version";
pub const METRICS_FILE: &str = "metrics.csv";
pub const PARTIAL_METRICS_FILE: &str = "metrics.csv.partial";
pub const EVALUATIONS_FILE: &str = "evaluations.csv";
pub const PARTIAL_EVALUATIONS_FILE: &str = "evaluations.csv.partial";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub const SUMMARY_FILE: &str = "summary.json";
pub const INCOMPLETE_FILE: &str = "INCOMPLETE";
/// Every file a run writes; `--overwrite` removes these and nothing else.
pub const RUN_FILES: [&str; 8] = [
    CONFIG_FILE,
    METRICS_FILE,
    PARTIAL_METRICS_FILE,
    EVALUATIONS_FILE,
    PARTIAL_EVALUATIONS_FILE,
    CHECKPOINT_FILE,
    SUMMARY_FILE,
    INCOMPLETE_FILE,
];

#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error(
        "{} is not empty (it holds {}); choose an empty or new folder, or pass --overwrite to replace the run in it",
        path.display(),
        entries
    )]
    NotEmpty { path: PathBuf, entries: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunFolderError + '_ {
    move |source| RunFolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A CSV file written a row at a time under its `.partial` name: each row reaches the file in
/// one write of the whole line as soon as it is given (no buffer to lose on a kill, no half
/// line), the file is synced to disk when asked, and renamed to its final name at the end.
struct RowFile {
    partial: PathBuf,
    file: File,
    /// The line being written, kept to reuse its allocation.
    line: String,
}

impl RowFile {
    fn create(partial: &Path, header: &str) -> Result<RowFile, RunFolderError> {
        let file = File::create(partial).map_err(io_error(partial))?;
        let mut rows = RowFile {
            partial: partial.to_path_buf(),
            file,
            line: String::new(),
        };
        rows.append(header)?;
        Ok(rows)
    }

    fn append(&mut self, row: &str) -> Result<(), RunFolderError> {
        self.line.clear();
        self.line.push_str(row);
        self.line.push('\n');
        self.file
            .write_all(self.line.as_bytes())
            .map_err(io_error(&self.partial))
    }

    /// Make every row so far durable (a power cut, not only a kill, keeps them).
    fn sync(&self) -> Result<(), RunFolderError> {
        self.file.sync_data().map_err(io_error(&self.partial))
    }

    /// Sync, rename to `complete`, and make the rename durable.
    fn finish(self, complete: &Path) -> Result<(), RunFolderError> {
        self.file.sync_all().map_err(io_error(&self.partial))?;
        std::fs::rename(&self.partial, complete).map_err(io_error(complete))?;
        sync_folder_of(complete);
        Ok(())
    }
}

/// evaluations.csv's header: the step, then every Table-I metric.
pub fn evaluations_header() -> String {
    std::iter::once("step")
        .chain(METRIC_KEYS)
        .collect::<Vec<_>>()
        .join(",")
}

/// One evaluations.csv line: the step and every metric (fractions; empty where absent).
pub fn evaluation_row(step: u64, summary: &std::collections::BTreeMap<String, f64>) -> String {
    let mut line = step.to_string();
    for key in METRIC_KEYS {
        line.push(',');
        if let Some(value) = summary.get(key).filter(|v| v.is_finite()) {
            line.push_str(&format!("{value:.6}"));
        }
    }
    line
}

/// Writes one run's folder while it trains.
pub struct RunWriter {
    dir: PathBuf,
    metrics: RowFile,
    evaluations: RowFile,
}

impl RunWriter {
    /// Make `dir` ready for a new run and write its config. `overwrite`: a folder holding a
    /// previous run is emptied of that run's files first; other files are left alone.
    pub fn create(
        dir: &Path,
        config: &TrainConfig,
        overwrite: bool,
    ) -> Result<RunWriter, RunFolderError> {
        prepare(dir, overwrite)?;
        let marker = format!(
            "This run has not finished: it was started and never reached its end, or it is still \
             training. {METRICS_FILE} is {PARTIAL_METRICS_FILE} until it ends.\n"
        );
        write_bytes(&dir.join(INCOMPLETE_FILE), marker.as_bytes())?;
        let format = |e: serde_json::Error| RunFolderError::Format {
            path: dir.join(CONFIG_FILE),
            reason: e.to_string(),
        };
        let mut value = serde_json::to_value(config).map_err(format)?;
        value[VERSION_KEY] = serde_json::Value::String(PROGRAM_VERSION.into());
        let json = serde_json::to_string_pretty(&value).map_err(format)?;
        write_bytes(&dir.join(CONFIG_FILE), json.as_bytes())?;
        let metrics = RowFile::create(&dir.join(PARTIAL_METRICS_FILE), METRICS_HEADER)?;
        let evaluations =
            RowFile::create(&dir.join(PARTIAL_EVALUATIONS_FILE), &evaluations_header())?;
        Ok(RunWriter {
            dir: dir.to_path_buf(),
            metrics,
            evaluations,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Append one step's row (in the file at once: a kill after this loses none of it).
    pub fn row(&mut self, row: &StepMetrics) -> Result<(), RunFolderError> {
        self.metrics.append(&csv_row(row))
    }

    /// Make the rows so far durable on disk (at each evaluation: a run that has been evaluated
    /// keeps every row up to it through a power cut too).
    pub fn sync(&self) -> Result<(), RunFolderError> {
        self.metrics.sync()?;
        self.evaluations.sync()
    }

    /// Append an evaluation's figures to evaluations.csv, then sync both files.
    pub fn evaluation(
        &mut self,
        step: u64,
        summary: &std::collections::BTreeMap<String, f64>,
    ) -> Result<(), RunFolderError> {
        self.evaluations.append(&evaluation_row(step, summary))?;
        self.sync()
    }

    /// The end of the run: its checkpoint (written by `save_checkpoint` at the path given),
    /// its summary, the metrics under their final name, and the marker removed.
    pub fn finish(
        self,
        save_checkpoint: impl FnOnce(&Path) -> Result<(), String>,
        summary: &serde_json::Value,
    ) -> Result<(), RunFolderError> {
        let checkpoint = self.dir.join(CHECKPOINT_FILE);
        save_checkpoint(&checkpoint).map_err(|reason| RunFolderError::Format {
            path: checkpoint.clone(),
            reason,
        })?;
        self.write_summary(summary)?;
        let RunWriter {
            dir,
            metrics,
            evaluations,
        } = self;
        evaluations.finish(&dir.join(EVALUATIONS_FILE))?;
        metrics.finish(&dir.join(METRICS_FILE))?;
        let marker = dir.join(INCOMPLETE_FILE);
        std::fs::remove_file(&marker).map_err(io_error(&marker))?;
        sync_folder_of(&marker);
        Ok(())
    }

    /// The run failed: the marker says why and where; the rows so far stay in the partial file.
    pub fn fail(self, step: u64, reason: &str) -> Result<(), RunFolderError> {
        self.sync()?;
        let text = format!(
            "This run failed at step {step} and did not finish: {reason}\n\
             The rows it took are in {PARTIAL_METRICS_FILE}.\n"
        );
        write_bytes(&self.dir.join(INCOMPLETE_FILE), text.as_bytes())?;
        self.write_summary(&serde_json::json!({ "step": step, "failed": reason }))
    }

    fn write_summary(&self, summary: &serde_json::Value) -> Result<(), RunFolderError> {
        let path = self.dir.join(SUMMARY_FILE);
        let json = serde_json::to_string_pretty(summary).map_err(|e| RunFolderError::Format {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(write_bytes(&path, json.as_bytes())?)
    }
}

/// Create `dir` if needed; refuse it if it holds anything, unless `overwrite`, in which case
/// a previous run's files are removed.
fn prepare(dir: &Path, overwrite: bool) -> Result<(), RunFolderError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(RunFolderError::NotEmpty {
            path: dir.to_path_buf(),
            entries: describe_entries(&entries),
        });
    }
    for name in RUN_FILES {
        let path = dir.join(name);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(())
}

/// A run folder read back (for the window, `export` and `compare --collect`).
#[derive(Clone, Debug)]
pub struct OpenedRun {
    pub dir: PathBuf,
    pub config: TrainConfig,
    /// summary.json, when the run got that far.
    pub summary: Option<serde_json::Value>,
    /// metrics.csv, or metrics.csv.partial for a run that did not finish.
    pub metrics_path: PathBuf,
    /// Whether the run finished (no INCOMPLETE marker, metrics under their final name).
    pub finished: bool,
    pub checkpoint: Option<PathBuf>,
}

impl OpenedRun {
    /// Read a run folder's config and summary; the metrics stay on disk until asked for.
    pub fn open(dir: &Path) -> Result<OpenedRun, RunFolderError> {
        if !dir.is_dir() {
            return Err(RunFolderError::Format {
                path: dir.to_path_buf(),
                reason: "not a folder".into(),
            });
        }
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(RunFolderError::Format {
                path: dir.to_path_buf(),
                reason: format!(
                    "not a run folder: no {CONFIG_FILE} (a run folder is what `cari-mtl train --out` or `compare` writes)"
                ),
            });
        }
        let config: TrainConfig = read_json(&config_path, "a run's config.json")?;
        let summary_path = dir.join(SUMMARY_FILE);
        let summary = if summary_path.is_file() {
            Some(read_json(&summary_path, "a run's summary.json")?)
        } else {
            None
        };
        let finished = !dir.join(INCOMPLETE_FILE).exists() && dir.join(METRICS_FILE).is_file();
        let metrics_path = if finished {
            dir.join(METRICS_FILE)
        } else {
            dir.join(PARTIAL_METRICS_FILE)
        };
        let checkpoint = Some(dir.join(CHECKPOINT_FILE)).filter(|p| p.is_file());
        Ok(OpenedRun {
            dir: dir.to_path_buf(),
            config,
            summary,
            metrics_path,
            finished,
            checkpoint,
        })
    }

    /// Call `each` for every metrics row (streamed: a long run is not held in memory here).
    pub fn for_each_row(&self, each: impl FnMut(StepMetrics)) -> Result<u64, RunFolderError> {
        let file = File::open(&self.metrics_path).map_err(io_error(&self.metrics_path))?;
        super::metrics::read_metrics_csv(std::io::BufReader::new(file), each).map_err(|reason| {
            RunFolderError::Format {
                path: self.metrics_path.clone(),
                reason,
            }
        })
    }

    /// The final evaluation's figures by metric key (empty when there are none).
    pub fn final_metrics(&self) -> Vec<(String, f64)> {
        let Some(metrics) = self
            .summary
            .as_ref()
            .and_then(|s| s.get("metrics"))
            .and_then(|m| m.as_object())
        else {
            return Vec::new();
        };
        metrics
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
            .collect()
    }

    /// The step of the final evaluation, if any.
    pub fn summary_step(&self) -> Option<u64> {
        self.summary.as_ref()?.get("step")?.as_u64()
    }
}

/// The largest JSON file of a run read back (configs and summaries are a few kilobytes).
pub const MAX_JSON_FILE: u64 = 16 << 20;

/// Read a small JSON file of a run: only a regular file, at most [`MAX_JSON_FILE`] bytes; the
/// error names the file and says what it should have been (`what`).
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<T, RunFolderError> {
    let text = read_small_file(path, MAX_JSON_FILE)?;
    serde_json::from_str(&text).map_err(|e| RunFolderError::Format {
        path: path.to_path_buf(),
        reason: format!("not {what} ({e})"),
    })
}

/// A regular file's text, refusing anything larger than `limit` bytes.
pub fn read_small_file(path: &Path, limit: u64) -> Result<String, RunFolderError> {
    use std::io::Read;
    let format = |reason: String| RunFolderError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    if !meta.is_file() {
        return Err(format("not a regular file".into()));
    }
    let file = File::open(path).map_err(io_error(path))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > limit {
        return Err(format(format!("larger than {limit} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| format("not UTF-8 text".into()))
}

fn describe_entries(entries: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = entries
        .iter()
        .take(SHOWN)
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > SHOWN {
        text.push_str(&format!(" and {} more", entries.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64) -> StepMetrics {
        StepMetrics {
            step,
            wall_secs: step as f64 * 0.1,
            strategy: "proposed".into(),
            weights: [0.3, 0.3, 0.4],
            losses: [1.0, 2.0, 3.0],
            lr: 1e-3,
            coalesced_steps: 1,
            lens: None,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_running_folder_says_it_is_incomplete_and_a_finished_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut w = RunWriter::create(&out, &TrainConfig::default(), false).unwrap();
        w.row(&row(1)).unwrap();
        assert_eq!(
            names(&out),
            [
                INCOMPLETE_FILE,
                CONFIG_FILE,
                PARTIAL_EVALUATIONS_FILE,
                PARTIAL_METRICS_FILE
            ]
        );
        // The row is in the file as soon as it is written, whole, before any flush or end.
        let partial = std::fs::read_to_string(out.join(PARTIAL_METRICS_FILE)).unwrap();
        assert_eq!(partial, format!("{METRICS_HEADER}\n{}\n", csv_row(&row(1))));
        w.sync().unwrap();
        w.finish(
            |p| std::fs::write(p, b"ckpt").map_err(|e| e.to_string()),
            &serde_json::json!({"step": 1}),
        )
        .unwrap();
        assert_eq!(
            names(&out),
            [
                CHECKPOINT_FILE,
                CONFIG_FILE,
                EVALUATIONS_FILE,
                METRICS_FILE,
                SUMMARY_FILE
            ]
        );
        let csv = std::fs::read_to_string(out.join(METRICS_FILE)).unwrap();
        assert_eq!(csv.lines().count(), 2);
    }

    #[test]
    fn a_used_folder_is_refused_and_overwrite_replaces_only_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::write(out.join(SUMMARY_FILE), b"{\"old\": true}").unwrap();
        std::fs::write(out.join("notes.txt"), b"mine").unwrap();
        let err = RunWriter::create(out, &TrainConfig::default(), false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("not empty") && err.contains("'notes.txt'") && err.contains("--overwrite"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(out.join(SUMMARY_FILE)).unwrap(),
            b"{\"old\": true}"
        );
        let w = RunWriter::create(out, &TrainConfig::default(), true).unwrap();
        assert!(!out.join(SUMMARY_FILE).exists(), "the old summary is gone");
        assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
        w.fail(0, "stopped").unwrap();
        let marker = std::fs::read_to_string(out.join(INCOMPLETE_FILE)).unwrap();
        assert!(
            marker.contains("failed at step 0 and did not finish: stopped"),
            "{marker}"
        );
    }
}
