//! A sweep folder read while it grows, for the window's Sweep view: sweep.json once, then each
//! run's files as they change. Each metrics file is read on from where the last read stopped
//! (only whole lines; a line still being written waits for the next read), so a refresh costs
//! a few `stat`s per run when nothing changed and never reads a row twice. A run's settings
//! and final figures are read once, when its summary.json appears.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::results::{Collected, ReadRun, read_run};
use super::{RunSpec, SWEEP_FILE, Sweep, read_sweep};
use crate::eval::METRIC_KEYS;
use crate::task::TASKS;
use crate::train::run_folder::{
    EVALUATIONS_FILE, INCOMPLETE_FILE, METRICS_FILE, PARTIAL_EVALUATIONS_FILE,
    PARTIAL_METRICS_FILE, RunFolderError, SUMMARY_FILE,
};

/// Where a run of the sweep stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// No folder yet (another shard's, or not started).
    Missing,
    /// Training (or killed: INCOMPLETE without summary.json looks the same from outside).
    Running,
    /// Finished with figures.
    Finished,
    /// Finished without figures, or its folder is not what the sweep expects; the reason.
    Failed(String),
}

impl RunState {
    pub fn label(&self) -> &'static str {
        match self {
            RunState::Missing => "missing",
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Failed(_) => "failed",
        }
    }
}

/// Most rows kept per run: beyond it neighbouring rows are merged pairwise (means), so a run
/// of any length is held in bounded memory. Even, so rows merge in whole pairs.
pub const MAX_KEPT_ROWS: usize = 4096;

/// One quantity per task and kind: the weights, then the losses.
pub const SERIES: usize = 2 * TASKS;

/// A run's weights and losses by step, as means over blocks of `block` steps (1 until the run
/// has more than [`MAX_KEPT_ROWS`] rows).
#[derive(Clone, Debug)]
pub struct StepSeries {
    /// Steps each kept row stands for: a power of two.
    block: u64,
    /// The last step of each kept row.
    pub steps: Vec<u64>,
    /// w_verif, w_visual, w_cari, L_verif, L_visual, L_cari per kept row.
    pub values: [Vec<f32>; SERIES],
    /// The block being filled: rows taken, their sums, the last step.
    pending: (u64, [f64; SERIES], u64),
}

impl Default for StepSeries {
    fn default() -> Self {
        StepSeries {
            block: 1,
            steps: Vec::new(),
            values: Default::default(),
            pending: (0, [0.0; SERIES], 0),
        }
    }
}

impl StepSeries {
    fn new() -> StepSeries {
        StepSeries::default()
    }

    pub fn block(&self) -> u64 {
        self.block
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The last step taken (kept or pending).
    pub fn last_step(&self) -> u64 {
        self.pending.2.max(self.steps.last().copied().unwrap_or(0))
    }

    /// Take one step's row (the block's mean is kept once the block is full).
    pub fn push(&mut self, step: u64, values: [f32; SERIES]) {
        let (count, sums, last) = &mut self.pending;
        *count += 1;
        *last = step;
        for (sum, v) in sums.iter_mut().zip(values) {
            *sum += f64::from(v);
        }
        if *count < self.block {
            return;
        }
        let n = *count as f64;
        self.steps.push(*last);
        for (column, sum) in self.values.iter_mut().zip(sums.iter()) {
            column.push((sum / n) as f32);
        }
        self.pending = (0, [0.0; SERIES], 0);
        if self.steps.len() == MAX_KEPT_ROWS {
            self.halve();
        }
    }

    /// Merge neighbouring rows pairwise: each row then stands for twice the steps.
    fn halve(&mut self) {
        self.steps = self.steps.chunks(2).map(|p| p[p.len() - 1]).collect();
        for column in &mut self.values {
            *column = column
                .chunks(2)
                .map(|p| p.iter().sum::<f32>() / p.len() as f32)
                .collect();
        }
        self.block *= 2;
    }
}

/// One evaluation of a run: its step and every Table-I metric (NaN where absent).
#[derive(Clone, Debug, PartialEq)]
pub struct EvalRow {
    pub step: u64,
    pub metrics: [f64; METRIC_KEYS.len()],
}

/// A file read on from where the last read stopped: under its final name once it has one,
/// else under its `.partial` name (the rename keeps the bytes, so the offset holds across it).
#[derive(Clone, Debug, Default)]
struct Tail {
    offset: u64,
    /// Each wanted column's index in the file, from its header.
    columns: Option<Vec<usize>>,
}

impl Tail {
    /// New whole lines of `complete` (or `partial`) after the offset; `restarted` when the
    /// file is shorter than what was read (replaced by a new run): read again from 0.
    fn read(
        &mut self,
        complete: &Path,
        partial: &Path,
        restarted: &mut bool,
    ) -> Result<Vec<String>, RunFolderError> {
        let path = if complete.is_file() {
            complete
        } else {
            partial
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(Vec::new());
        };
        if meta.len() < self.offset {
            *self = Tail::default();
            *restarted = true;
        }
        if meta.len() == self.offset {
            return Ok(Vec::new());
        }
        let io = |source| RunFolderError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        file.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut bytes = Vec::with_capacity((meta.len() - self.offset) as usize);
        file.take(meta.len() - self.offset)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        // Only whole lines: a line being written now is read next time.
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.offset += whole as u64;
        let text = String::from_utf8_lossy(&bytes[..whole]);
        Ok(text.lines().map(str::to_string).collect())
    }

    /// Split off the header (the file's first line) and find `wanted` in it.
    fn take_header(&mut self, lines: &mut Vec<String>, wanted: &[String]) -> Result<(), String> {
        if self.columns.is_some() || lines.is_empty() {
            return Ok(());
        }
        let header = lines.remove(0);
        let names: Vec<&str> = header.trim().split(',').collect();
        let columns = wanted
            .iter()
            .map(|w| {
                names
                    .iter()
                    .position(|n| n == w)
                    .ok_or_else(|| format!("no column '{w}' in its header"))
            })
            .collect::<Result<Vec<usize>, String>>()?;
        self.columns = Some(columns);
        Ok(())
    }
}

/// The columns read from metrics.csv, in [`StepSeries`]' order after `step`.
fn metrics_columns() -> Vec<String> {
    let mut names = vec!["step".to_string()];
    for kind in ["w", "loss"] {
        for key in ["verif", "visual", "cari"] {
            names.push(format!("{kind}_{key}"));
        }
    }
    names
}

/// The columns read from evaluations.csv: `step`, then every metric.
fn evaluation_columns() -> Vec<String> {
    std::iter::once("step")
        .chain(METRIC_KEYS)
        .map(String::from)
        .collect()
}

/// One run of the sweep as read so far.
pub struct WatchedRun {
    pub spec: RunSpec,
    pub folder: PathBuf,
    pub state: RunState,
    pub series: StepSeries,
    pub evals: Vec<EvalRow>,
    /// Its settings and final figures, once its summary.json is there.
    pub read: Option<ReadRun>,
    metrics: Tail,
    evaluations: Tail,
}

impl WatchedRun {
    fn new(spec: RunSpec, root: &Path) -> WatchedRun {
        WatchedRun {
            folder: root.join(&spec.dir),
            spec,
            state: RunState::Missing,
            series: StepSeries::new(),
            evals: Vec::new(),
            read: None,
            metrics: Tail::default(),
            evaluations: Tail::default(),
        }
    }

    /// Read what changed; whether anything did.
    fn refresh(&mut self) -> bool {
        if !self.folder.is_dir() {
            let changed = self.state != RunState::Missing;
            self.state = RunState::Missing;
            return changed;
        }
        let mut changed = self.state == RunState::Missing;
        if self.state == RunState::Missing {
            self.state = RunState::Running;
        }
        match self.read_rows() {
            Ok(new_rows) => changed |= new_rows,
            Err(reason) => {
                changed |= self.state != RunState::Failed(reason.clone());
                self.state = RunState::Failed(reason);
                return changed;
            }
        }
        if self.read.is_none() && self.finished_on_disk() {
            let read = read_run(&self.spec, &self.folder);
            self.state = match &read.figures {
                Ok(_) => RunState::Finished,
                Err((_, reason)) => RunState::Failed(reason.clone()),
            };
            self.read = Some(read);
            changed = true;
        }
        changed
    }

    /// summary.json is written last but for the marker's removal; a failed run writes it too.
    fn finished_on_disk(&self) -> bool {
        let summary = self.folder.join(SUMMARY_FILE).is_file();
        let marker = self.folder.join(INCOMPLETE_FILE).is_file();
        summary
            && (!marker
                || std::fs::read_to_string(self.folder.join(INCOMPLETE_FILE))
                    .is_ok_and(|text| text.contains("failed at step")))
    }

    /// New metrics and evaluation rows; whether there were any. A file replaced by a new run
    /// (shorter than what was read) starts the run's rows again.
    fn read_rows(&mut self) -> Result<bool, String> {
        let mut restarted = false;
        let dir = &self.folder;
        let mut lines = self
            .metrics
            .read(
                &dir.join(METRICS_FILE),
                &dir.join(PARTIAL_METRICS_FILE),
                &mut restarted,
            )
            .map_err(|e| e.to_string())?;
        if restarted {
            self.series = StepSeries::new();
            self.read = None;
        }
        let mut changed = restarted || !lines.is_empty();
        self.metrics
            .take_header(&mut lines, &metrics_columns())
            .map_err(|e| format!("{}: {e}", dir.join(METRICS_FILE).display()))?;
        if let Some(columns) = &self.metrics.columns {
            for line in &lines {
                if let Some((step, values)) = parse_step(line, columns) {
                    self.series.push(step, values);
                }
            }
        }
        let mut restarted = false;
        let mut lines = self
            .evaluations
            .read(
                &dir.join(EVALUATIONS_FILE),
                &dir.join(PARTIAL_EVALUATIONS_FILE),
                &mut restarted,
            )
            .map_err(|e| e.to_string())?;
        if restarted {
            self.evals.clear();
        }
        changed |= restarted || !lines.is_empty();
        self.evaluations
            .take_header(&mut lines, &evaluation_columns())
            .map_err(|e| format!("{}: {e}", dir.join(EVALUATIONS_FILE).display()))?;
        if let Some(columns) = &self.evaluations.columns {
            self.evals
                .extend(lines.iter().filter_map(|l| parse_eval(l, columns)));
        }
        Ok(changed)
    }
}

/// A metrics row's step and six values (None for a line that does not parse: a row of a file
/// being replaced is skipped, not fatal).
fn parse_step(line: &str, columns: &[usize]) -> Option<(u64, [f32; SERIES])> {
    let cells: Vec<&str> = line.split(',').collect();
    let step = cells.get(columns[0])?.trim().parse().ok()?;
    let mut values = [0f32; SERIES];
    for (value, &column) in values.iter_mut().zip(&columns[1..]) {
        *value = cells.get(column)?.trim().parse().ok()?;
    }
    Some((step, values))
}

fn parse_eval(line: &str, columns: &[usize]) -> Option<EvalRow> {
    let cells: Vec<&str> = line.split(',').collect();
    let step = cells.get(columns[0])?.trim().parse().ok()?;
    let mut metrics = [f64::NAN; METRIC_KEYS.len()];
    for (value, &column) in metrics.iter_mut().zip(&columns[1..]) {
        *value = cells
            .get(column)
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(f64::NAN);
    }
    Some(EvalRow { step, metrics })
}

/// A sweep folder and what has been read of its runs.
pub struct SweepWatch {
    pub dir: PathBuf,
    pub sweep: Sweep,
    pub runs: Vec<WatchedRun>,
}

impl SweepWatch {
    /// Open a `compare` folder (its sweep.json); nothing of the runs is read yet.
    pub fn open(dir: &Path) -> Result<SweepWatch, RunFolderError> {
        let path = dir.join(SWEEP_FILE);
        if !path.is_file() {
            return Err(RunFolderError::Format {
                path: dir.to_path_buf(),
                reason: format!(
                    "not a sweep folder: no {SWEEP_FILE} (a sweep folder is what `cari-mtl compare --out` writes)"
                ),
            });
        }
        let sweep = read_sweep(&path)?;
        let runs = sweep
            .runs
            .iter()
            .map(|spec| WatchedRun::new(spec.clone(), dir))
            .collect();
        Ok(SweepWatch {
            dir: dir.to_path_buf(),
            sweep,
            runs,
        })
    }

    /// Read what changed in every run, one after another; whether anything did. Not on
    /// rayon's pool: the window builds its dataset there at start, and an open sweep waited
    /// behind it for seconds.
    pub fn refresh(&mut self) -> bool {
        let mut changed = false;
        for run in &mut self.runs {
            changed |= run.refresh();
        }
        changed
    }

    /// The finished runs' figures, the failed and missing runs, as `compare --collect` would
    /// find them now (runs still training are in none of them).
    pub fn collected(&self) -> Collected {
        let mut out = Collected {
            strategies: self.sweep.strategies.clone(),
            seeds: self.sweep.seeds,
            folds: self.sweep.folds.clone(),
            steps: self.sweep.steps,
            settings: self.sweep.settings.clone(),
            ..Collected::default()
        };
        for run in &self.runs {
            match (&run.state, &run.read) {
                (RunState::Missing, _) => out.missing.push(run.spec.clone()),
                (_, Some(read)) => out.add(&run.spec, &run.folder, read.clone()),
                (RunState::Failed(reason), None) => out.add(
                    &run.spec,
                    &run.folder,
                    ReadRun {
                        settings: None,
                        figures: Err((None, reason.clone())),
                    },
                ),
                _ => {}
            }
        }
        out
    }

    /// How many runs are in each state: (finished, running, failed, missing).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for run in &self.runs {
            match run.state {
                RunState::Finished => c.0 += 1,
                RunState::Running => c.1 += 1,
                RunState::Failed(_) => c.2 += 1,
                RunState::Missing => c.3 += 1,
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::{METRICS_HEADER, StepMetrics, csv_row};
    use std::io::Write;

    fn row(step: u64) -> String {
        csv_row(&StepMetrics {
            step,
            wall_secs: step as f64 * 0.1,
            strategy: "proposed".into(),
            weights: [0.2, 0.3, 0.5],
            losses: [1.0, 2.0, step as f32],
            lr: 1e-3,
            coalesced_steps: 1,
            lens: None,
        })
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_growing_run_is_read_on_from_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let sweep = Sweep::new(vec!["proposed".into()], 1, 10, vec![]);
        std::fs::write(
            dir.path().join(SWEEP_FILE),
            serde_json::to_string(&sweep).unwrap(),
        )
        .unwrap();
        let mut watch = SweepWatch::open(dir.path()).unwrap();
        assert!(!watch.refresh(), "nothing there yet");
        assert_eq!(watch.runs[0].state, RunState::Missing);
        let run = dir.path().join("proposed/seed1");
        std::fs::create_dir_all(&run).unwrap();
        let partial = run.join(PARTIAL_METRICS_FILE);
        // Two whole rows and half of a third.
        let third = row(3);
        let (head, tail) = third.split_at(5);
        append(
            &partial,
            &format!("{METRICS_HEADER}\n{}\n{}\n{head}", row(1), row(2)),
        );
        assert!(watch.refresh());
        assert_eq!(watch.runs[0].state, RunState::Running);
        assert_eq!(watch.runs[0].series.steps, [1, 2], "the half line waits");
        assert!(!watch.refresh(), "nothing new");
        append(&partial, &format!("{tail}\n{}\n", row(4)));
        // The run ends: the rows move to their final name, the summary appears.
        std::fs::rename(&partial, run.join(METRICS_FILE)).unwrap();
        assert!(watch.refresh());
        let series = &watch.runs[0].series;
        assert_eq!(series.steps, [1, 2, 3, 4], "each row read once");
        assert_eq!(series.values[5], [1.0, 2.0, 3.0, 4.0]);
        // A folder without config.json is no finished run, whatever its summary says.
        std::fs::write(run.join(SUMMARY_FILE), r#"{"step": 4, "metrics": {}}"#).unwrap();
        assert!(watch.refresh());
        assert!(
            matches!(&watch.runs[0].state, RunState::Failed(r) if r.contains("config.json")),
            "{:?}",
            watch.runs[0].state
        );
        assert_eq!(watch.counts(), (0, 0, 1, 0));
    }

    #[test]
    fn a_long_run_is_kept_in_bounded_blocks() {
        let mut s = StepSeries::default();
        let steps = 3 * MAX_KEPT_ROWS as u64;
        for step in 1..=steps {
            s.push(step, [step as f32; SERIES]);
        }
        assert!(s.len() < MAX_KEPT_ROWS, "{}", s.len());
        assert_eq!(s.block(), 4);
        assert_eq!(s.last_step(), steps);
        // Each kept row is the mean of its block of steps, at the block's last step.
        assert_eq!(s.steps[0], 4);
        assert!((s.values[0][0] - 2.5).abs() < 1e-6);
    }
}
