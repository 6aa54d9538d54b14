//! The Sweep tab's state: a `compare` folder read on a named background thread
//! (`sweep-watch`), which re-reads what changed about once a second and hands over a whole
//! [`SweepSnapshot`] when anything did; the window takes the newest without waiting. The view
//! options (band, baseline, what the curves show) and the tables made from the snapshot live
//! here too, so the panel only draws.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::eval::METRIC_KEYS;
use crate::eval::paired::PairedDiff;
use crate::eval::stats::{BandKind, mean_sd};
use crate::session::Waker;
use crate::train::sweep::curves::{SweepSnapshot, snapshot};
use crate::train::sweep::paired::compare;
use crate::train::sweep::watch::SweepWatch;

/// How often the reading thread looks for changes.
const POLL_INTERVAL: Duration = Duration::from_millis(1000);
/// How often it checks whether it should stop while it waits.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// What the curves show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SweepCurves {
    /// One Table-I metric (index into `METRIC_KEYS`) over steps, one curve per rule.
    Metric(usize),
    /// Fig. 3 over seeds: each rule's weights above its losses.
    #[default]
    WeightsAndLosses,
}

/// A figure of Table I: mean ± sample sd over n.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figure {
    pub mean: f64,
    pub sd: f64,
    pub n: usize,
}

/// One rule's row of the Sweep view's tables.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub rule: String,
    /// Table I, in `METRIC_KEYS` order.
    pub figures: Vec<Figure>,
    /// rule − baseline per metric (None for the baseline itself).
    pub against_baseline: Option<Vec<PairedDiff>>,
    /// Δm in percent against the single-task runs, and over how many metrics.
    pub delta_m: Option<(f64, usize)>,
}

/// What the reading thread hands over.
type Handover = Arc<Mutex<Option<Result<Arc<SweepSnapshot>, String>>>>;

/// The reading thread of an open sweep.
struct Watcher {
    latest: Handover,
    stop: Arc<AtomicBool>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The thread ends within one STOP_CHECK (or when its current read ends); not joined,
        // so closing a sweep never waits on a disk.
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a poll of the reading thread brought.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepNews {
    Nothing,
    /// The first snapshot, this long after the folder was opened.
    Opened {
        secs: f64,
    },
    /// A newer snapshot: runs moved on or finished.
    Updated,
    /// The folder could not be read; the reading thread has ended.
    Failed(String),
}

#[derive(Default)]
pub struct SweepState {
    /// The folder open, if any.
    pub dir: Option<PathBuf>,
    /// The newest snapshot taken from the reading thread.
    pub snapshot: Option<Arc<SweepSnapshot>>,
    /// Why the folder could not be read.
    pub error: Option<String>,
    /// Seconds from opening to the first snapshot (the open time).
    pub open_secs: Option<f64>,
    /// View options.
    pub band: BandKind,
    pub curves: SweepCurves,
    /// The rule the others are paired against (None: the sweep's first).
    pub baseline: Option<String>,
    /// Rules whose curves are hidden.
    pub hidden: std::collections::BTreeSet<String>,
    /// Snapshots taken so far (what the tables were made from is known by it).
    generation: usize,
    /// The tables of the current snapshot and baseline.
    rows: Vec<SweepRow>,
    rows_for: Option<(usize, Option<String>)>,
    watcher: Option<Watcher>,
    opened_at: Option<Instant>,
}

impl SweepState {
    /// Start reading `dir` on a background thread; a sweep open before is closed.
    pub fn open(&mut self, dir: &Path, waker: Option<Waker>) -> Result<(), String> {
        let (band, curves) = (self.band, self.curves);
        *self = SweepState {
            band,
            curves,
            ..SweepState::default()
        };
        let latest: Handover = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_latest, thread_stop, folder) =
            (latest.clone(), stop.clone(), dir.to_path_buf());
        std::thread::Builder::new()
            .name("sweep-watch".into())
            .spawn(move || watch_loop(&folder, &thread_latest, &thread_stop, waker))
            .map_err(|e| format!("could not start the thread that reads the sweep: {e}"))?;
        self.dir = Some(dir.to_path_buf());
        self.watcher = Some(Watcher { latest, stop });
        self.opened_at = Some(Instant::now());
        Ok(())
    }

    /// Stop reading and forget the sweep.
    pub fn close(&mut self) {
        let (band, curves) = (self.band, self.curves);
        *self = SweepState {
            band,
            curves,
            ..SweepState::default()
        };
    }

    /// Whether a sweep is open and its first snapshot has not come yet.
    pub fn loading(&self) -> bool {
        self.watcher.is_some() && self.snapshot.is_none() && self.error.is_none()
    }

    /// Take the newest snapshot, if one came (never waits); what came.
    pub fn poll(&mut self) -> SweepNews {
        let Some(watcher) = &self.watcher else {
            return SweepNews::Nothing;
        };
        let taken = watcher
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match taken {
            Some(Ok(snapshot)) => {
                let first = self.snapshot.is_none();
                self.snapshot = Some(snapshot);
                self.generation += 1;
                self.error = None;
                if !first {
                    return SweepNews::Updated;
                }
                let secs = self.opened_at.map_or(0.0, |t| t.elapsed().as_secs_f64());
                self.open_secs = Some(secs);
                SweepNews::Opened { secs }
            }
            Some(Err(e)) => {
                self.error = Some(e.clone());
                self.watcher = None;
                SweepNews::Failed(e)
            }
            None => SweepNews::Nothing,
        }
    }

    /// The rule the others are paired against: the chosen one, else the sweep's first.
    pub fn baseline(&self) -> Option<String> {
        let rules = &self.snapshot.as_ref()?.collected.strategies;
        self.baseline
            .clone()
            .filter(|b| rules.contains(b))
            .or_else(|| rules.first().cloned())
    }

    /// Table I, the paired differences against the baseline and Δm, per rule (made again only
    /// when the snapshot or the baseline changed).
    pub fn rows(&mut self) -> &[SweepRow] {
        let Some(snapshot) = &self.snapshot else {
            return &[];
        };
        let key = (self.generation, self.baseline());
        if self.rows_for.as_ref() != Some(&key) {
            self.rows = sweep_rows(snapshot, key.1.as_deref());
            self.rows_for = Some(key);
        }
        &self.rows
    }
}

/// Every rule's figures, its difference from `baseline` (paired by seed, or by fold) and Δm.
pub fn sweep_rows(snapshot: &SweepSnapshot, baseline: Option<&str>) -> Vec<SweepRow> {
    let c = &snapshot.collected;
    c.strategies
        .iter()
        .map(|rule| SweepRow {
            rule: rule.clone(),
            figures: METRIC_KEYS
                .iter()
                .map(|key| {
                    let values = c.summarised(rule, key);
                    let (mean, sd) = mean_sd(&values);
                    Figure {
                        mean,
                        sd,
                        n: values.len(),
                    }
                })
                .collect(),
            against_baseline: baseline.filter(|b| *b != rule).map(|b| {
                METRIC_KEYS
                    .iter()
                    .map(|key| compare(c, rule, b, key))
                    .collect()
            }),
            delta_m: c.delta_m(rule),
        })
        .collect()
}

/// The reading thread: open the folder, then refresh and hand over a snapshot whenever
/// something changed, until told to stop.
fn watch_loop(dir: &Path, latest: &Handover, stop: &AtomicBool, waker: Option<Waker>) {
    let hand_over = |result: Result<Arc<SweepSnapshot>, String>| {
        *latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
        if let Some(wake) = &waker {
            wake();
        }
    };
    let mut watch = match SweepWatch::open(dir) {
        Ok(watch) => watch,
        Err(e) => return hand_over(Err(e.to_string())),
    };
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        if watch.refresh() || first {
            first = false;
            hand_over(Ok(Arc::new(snapshot(&watch))));
        }
        let waited = Instant::now();
        while waited.elapsed() < POLL_INTERVAL && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(STOP_CHECK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::sweep::results::{Collected, cari_only_run as run};

    #[test]
    fn rows_pair_each_rule_with_the_baseline_and_give_delta_m() {
        let snapshot = SweepSnapshot {
            collected: Collected {
                strategies: vec!["proposed".into(), "naive".into(), "single-cari".into()],
                seeds: 2,
                results: vec![
                    run("proposed", 1, 0.50),
                    run("proposed", 2, 0.60),
                    run("naive", 1, 0.40),
                    run("naive", 2, 0.45),
                    run("single-cari", 1, 0.50),
                    run("single-cari", 2, 0.50),
                ],
                ..Collected::default()
            },
            ..SweepSnapshot::default()
        };
        let rows = sweep_rows(&snapshot, Some("naive"));
        let cari = METRIC_KEYS
            .iter()
            .position(|k| *k == "cari_id_top1")
            .unwrap();
        let proposed = &rows[0];
        assert_eq!(proposed.figures[cari].n, 2);
        assert!((proposed.figures[cari].mean - 0.55).abs() < 1e-12);
        // statistics.stdev([0.5, 0.6]) = 0.07071067811865478
        assert!((proposed.figures[cari].sd - 0.07071067811865478).abs() < 1e-12);
        let d = proposed.against_baseline.as_ref().unwrap()[cari];
        assert!((d.mean_diff - 0.125).abs() < 1e-12 && d.n == 2);
        assert!(rows[1].against_baseline.is_none(), "the baseline itself");
        // Δm over cari-id only (the one metric with its single-task run): (0.55 − 0.5)/0.5.
        let (dm, k) = proposed.delta_m.unwrap();
        assert!((dm - 10.0).abs() < 1e-9 && k == 1, "{dm} over {k}");
        assert_eq!(rows[2].delta_m, None, "no Δm for a single-task run");
    }
}
