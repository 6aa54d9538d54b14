//! `cari-mtl compare`: the paper's Table I over strategies, seeds and published folds.
//!
//! The sweep's runs are trained `--jobs` at a time, each on its share of the cores, each into
//! its own folder under --out; `results.json` and the table are then read back from those
//! folders. `--shard K/N` trains one slice of the sweep (a Slurm array task, a GNU parallel
//! job); `--collect DIR…` builds the results of a sweep from its folders once every shard is
//! done. A run that fails is recorded (reason, step) and the others go on. `--folds all` (or
//! `--folds 1,3,5`) adds the dataset's published folds to the sweep: one run per (strategy,
//! seed, fold), and figures as mean ± sample sd over folds (see `train::sweep::results`).
//!
//! The first call into a folder records in sweep.json every setting that shapes a run and the
//! program's version; a later call or shard with other settings is refused, naming each, and
//! `--collect` checks every run's config.json against them (`--allow-mixed` collects anyway and
//! lists what differs in results.json).

use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::atomic_file::{create_new, write_bytes};
use crate::data::{DataConfig, Dataset};
use crate::session::ThreadBudget;
use crate::session::budget::SizedPool;
use crate::train::trainer::select_device;
use crate::weighting::Strategy;

use super::train::{injected_fault, load_dataset};
use crate::train::config::TrainConfig;
use crate::train::headless::{RunEnd, RunOptions, train_to_folder};
use crate::train::sweep::paired;
use crate::train::sweep::results::{Collected, collect};
use crate::train::sweep::settings::{SweepSettings, describe};
use crate::train::sweep::{RunSpec, SWEEP_FILE, Shard, Sweep, read_sweep};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Comma-separated strategies, or `all`.
    #[arg(
        long,
        default_value = "proposed,naive,single-verif,single-visual,single-cari"
    )]
    pub strategies: String,
    /// Number of seeds (1..=N).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    #[arg(long, default_value_t = 600)]
    pub steps: u64,
    /// Published folds to sweep: `all` (every fold the dataset has) or a list such as 1,3,5.
    /// Figures are then mean ± sample sd over folds, the seeds of each fold averaged first.
    #[arg(long, value_name = "all|K,…", conflicts_with = "fold")]
    pub folds: Option<String>,
    /// The sweep's folder: sweep.json, results.json and one folder per run (strategy/seedS, or
    /// strategy/seedS/foldK over folds).
    #[arg(long, required_unless_present = "collect")]
    pub out: Option<PathBuf>,
    /// Runs trained at once, each on cores/J threads (default: as many as there are cores,
    /// which measured fastest; see bench/README.md).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Train only the K-th of N slices of the sweep (1-based), e.g. --shard $SLURM_ARRAY_TASK_ID/N.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Build results.json and the table from the run folders of these sweep folders (written by
    /// compare or its shards), listing failed and missing runs; trains nothing.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with = "shard")]
    pub collect: Vec<PathBuf>,
    /// Replace previous runs in their folders (only the runs' own files are removed); without
    /// --shard, also a sweep.json with other settings.
    #[arg(long)]
    pub overwrite: bool,
    /// Collect runs trained with other settings than the sweep's (refused otherwise);
    /// results.json then lists each such run and what differs.
    #[arg(long)]
    pub allow_mixed: bool,
    #[command(flatten)]
    pub run: crate::cli::train::RunArgs,
}

/// Most runs one sweep may have.
const MAX_RUNS: u64 = 10_000;

impl CompareArgs {
    /// Runs trained at once: --jobs, or one per core.
    pub fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| ThreadBudget::for_this_machine().total())
    }

    fn strategies(&self) -> Result<Vec<String>> {
        let strategies: Vec<String> = if self.strategies == "all" {
            Strategy::keys().into_iter().map(String::from).collect()
        } else {
            self.strategies
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        if strategies.is_empty() {
            bail!("--strategies: name at least one strategy");
        }
        for s in &strategies {
            Strategy::parse(s)
                .map_err(anyhow::Error::msg)
                .context("--strategies")?;
        }
        Ok(strategies)
    }

    fn sweep(&self) -> Result<Sweep> {
        let strategies = self.strategies()?;
        if self.seeds == 0 || self.steps == 0 {
            bail!("--seeds and --steps must be at least 1");
        }
        let per_seed = strategies.len() as u64;
        if self.seeds.saturating_mul(per_seed) > MAX_RUNS {
            bail!(
                "--seeds {} × {} strategies is more than {MAX_RUNS} runs",
                self.seeds,
                strategies.len()
            );
        }
        if self.jobs == Some(0) {
            bail!("--jobs must be at least 1");
        }
        let folds = self.folds()?;
        let runs = self
            .seeds
            .saturating_mul(per_seed)
            .saturating_mul(folds.len().max(1) as u64);
        if runs > MAX_RUNS {
            bail!(
                "--seeds {} × {} strategies × {} folds is more than {MAX_RUNS} runs",
                self.seeds,
                strategies.len(),
                folds.len()
            );
        }
        let mut sweep = Sweep::new(strategies, self.seeds, self.steps, folds);
        sweep.settings = Some(self.settings(&sweep)?);
        Ok(sweep)
    }

    /// The settings every run of `sweep` trains with, per strategy (seed and fold aside).
    fn settings(&self, sweep: &Sweep) -> Result<SweepSettings> {
        let first_fold = sweep.folds.first().copied();
        let configs: Vec<(String, TrainConfig)> = sweep
            .strategies
            .iter()
            .map(|strategy| {
                let run = RunSpec {
                    strategy: strategy.clone(),
                    seed: 1,
                    fold: first_fold,
                    dir: PathBuf::new(),
                };
                Ok((strategy.clone(), self.run_config(&run)?))
            })
            .collect::<Result<_>>()?;
        Ok(SweepSettings::of(
            configs.iter().map(|(s, c)| (s.as_str(), c)),
        ))
    }

    /// The folds to sweep (`--folds`, or the one `--fold`), checked against the folds the
    /// dataset's protocol files define; empty when neither is given.
    fn folds(&self) -> Result<Vec<usize>> {
        let spec = match (&self.folds, self.run.fold) {
            (Some(spec), _) => spec.trim().to_string(),
            (None, Some(k)) => k.to_string(),
            (None, None) => return Ok(Vec::new()),
        };
        let flag = if self.folds.is_some() {
            "--folds"
        } else {
            "--fold"
        };
        let data = DataConfig {
            dataset: self.run.dataset.clone(),
            ..DataConfig::default()
        };
        let count = crate::data::fold_count(&data)
            .with_context(|| format!("{flag}: reading the folds of {}", self.run.dataset))?
            .with_context(|| {
                format!(
                    "{flag}: {} has no published folds (it holds out identities of its own); leave {flag} out",
                    self.run.dataset
                )
            })?;
        let folds: Vec<usize> = if spec.eq_ignore_ascii_case("all") {
            (1..=count.count).collect()
        } else {
            let mut folds = Vec::new();
            for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let k: usize = part.parse().map_err(|_| {
                    anyhow::anyhow!("{flag}: `{part}` is not a fold number; expected `all` or a list such as 1,3,5")
                })?;
                folds.push(k);
            }
            folds.sort_unstable();
            folds.dedup();
            folds
        };
        if folds.is_empty() {
            bail!("{flag}: name at least one fold, or `all`");
        }
        if let Some(&bad) = folds.iter().find(|&&k| k == 0 || k > count.count) {
            bail!(
                "{flag}: fold {bad} does not exist in {}: its protocol has folds 1 to {} ({})",
                self.run.dataset,
                count.count,
                count.source
            );
        }
        Ok(folds)
    }

    /// One run's settings: the shared flags with the run's strategy, seed and fold.
    fn run_config(&self, run: &RunSpec) -> Result<TrainConfig> {
        let mut config = self.run.config(&run.strategy, run.seed, self.steps)?;
        if run.fold.is_some() {
            config.data.fold = run.fold;
        }
        Ok(config)
    }
}

pub fn run(args: CompareArgs) -> Result<()> {
    if !args.collect.is_empty() {
        return collect_only(&args);
    }
    let out = args.out.clone().context("--out is required")?;
    let sweep = args.sweep()?;
    let runs = sweep.shard(args.shard.unwrap_or(Shard::WHOLE));
    // Every run's settings are checked before anything trains.
    for run in &runs {
        args.run_config(run)?;
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    record_sweep(&args, &out, &sweep)?;
    let started = Instant::now();
    let trained = train_runs(&args, &out, &runs)?;
    if args.shard.is_some_and(|s| s.count > 1) {
        let failed = trained.iter().filter(|ok| !**ok).count();
        eprintln!(
            "shard: {} runs in {:.0} s ({failed} failed); when every shard is done: cari-mtl compare --collect {}",
            runs.len(),
            started.elapsed().as_secs_f64(),
            out.display()
        );
        if failed > 0 {
            bail!("{failed} of this shard's runs failed (see their INCOMPLETE files)");
        }
        return Ok(());
    }
    let collected = collect(&sweep, std::slice::from_ref(&out));
    eprintln!(
        "{} runs in {:.0} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    report(&collected, &out, args.allow_mixed)
}

/// Write sweep.json unless the folder has one; refuse one with other settings (naming each),
/// unless the whole sweep is trained again with --overwrite. Two shards starting at once: one
/// writes it, the other reads and checks it.
fn record_sweep(args: &CompareArgs, out: &Path, sweep: &Sweep) -> Result<()> {
    let path = out.join(SWEEP_FILE);
    let json = serde_json::to_string_pretty(sweep)?;
    if create_new(&path, json.as_bytes())? {
        return Ok(());
    }
    let recorded = read_sweep(&path)?;
    if recorded.settings.is_none() {
        eprintln!(
            "note: {} records no settings (written by an older cari-mtl); recording this call's",
            path.display()
        );
        write_bytes(&path, json.as_bytes())?;
        return Ok(());
    }
    let diffs = recorded.differences(sweep);
    if diffs.is_empty() {
        return Ok(());
    }
    let whole = args.shard.is_none_or(|s| s.count == 1);
    if args.overwrite && whole {
        eprintln!(
            "replacing {} (--overwrite): {}",
            path.display(),
            describe(&diffs, "now")
        );
        write_bytes(&path, json.as_bytes())?;
        return Ok(());
    }
    bail!(
        "{} is a sweep with other settings: {}. Use another --out, the sweep's settings, or (for the whole sweep, without --shard) --overwrite",
        out.display(),
        describe(&diffs, "in this call")
    )
}

/// `--collect DIR…`: results from the sweep folders' runs.
fn collect_only(args: &CompareArgs) -> Result<()> {
    let sweeps: Vec<Sweep> = args
        .collect
        .iter()
        .map(|dir| Ok(read_sweep(&dir.join(SWEEP_FILE))?))
        .collect::<Result<_>>()?;
    let sweep = &sweeps[0];
    for (other, dir) in sweeps.iter().zip(&args.collect).skip(1) {
        let diffs = sweep.differences(other);
        if !diffs.is_empty() {
            bail!(
                "{} describes a different sweep than {}: {}",
                dir.join(SWEEP_FILE).display(),
                args.collect[0].join(SWEEP_FILE).display(),
                describe(&diffs, "there")
            );
        }
    }
    let out = args.out.clone().unwrap_or_else(|| args.collect[0].clone());
    report(&collect(sweep, &args.collect), &out, args.allow_mixed)
}

/// Write results.json, print the table, and fail if any run failed or is missing. Runs
/// trained with other settings than the sweep's are refused (nothing is written) unless
/// `allow_mixed`.
fn report(collected: &Collected, out: &Path, allow_mixed: bool) -> Result<()> {
    let mixed = collected.mixed_lines();
    if !mixed.is_empty() && !allow_mixed {
        bail!(
            "{} run(s) were trained with other settings than the sweep's ({}):\n  {}\nPass --allow-mixed to collect them anyway (results.json then lists what differs)",
            mixed.len(),
            out.join(SWEEP_FILE).display(),
            mixed.join("\n  ")
        );
    }
    for line in &mixed {
        eprintln!("mixed (--allow-mixed): {line}");
    }
    let path = out.join("results.json");
    let mut json = collected.to_json();
    json["paired"] = paired::to_json(collected);
    write_bytes(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    println!("{}", collected.markdown());
    if let Some(table) = paired_markdown(collected) {
        println!("\n{table}");
    }
    for line in collected.problems() {
        eprintln!("{line}");
    }
    eprintln!("results in {}", path.display());
    let (failed, missing) = (collected.failed.len(), collected.missing.len());
    if failed + missing > 0 {
        bail!("{failed} run(s) failed and {missing} are missing; results.json lists them");
    }
    Ok(())
}

/// The paired differences as a table (None when the sweep has nothing to pair with proposed).
fn paired_markdown(collected: &Collected) -> Option<String> {
    let rows: Vec<(String, Vec<String>)> = paired::comparisons(&collected.strategies)
        .into_iter()
        .map(|(first, second)| {
            let cells = crate::eval::METRIC_KEYS
                .iter()
                .map(|key| paired::cell(&paired::compare(collected, &first, &second, key)))
                .collect();
            (format!("{first} − {second}"), cells)
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let over = if collected.folds.is_empty() {
        "seed"
    } else {
        "fold"
    };
    Some(format!(
        "Paired differences (percentage points), mean [95 % t interval, n − 1 df], paired by {over}.\n\n{}",
        crate::eval::table_markdown("difference", &rows)
    ))
}

/// Train `runs`, `jobs` at a time. Returns, per run, whether it finished; an error only for
/// what stops the whole sweep (a folder that may not be written, a dataset that cannot be made).
fn train_runs(args: &CompareArgs, out: &Path, runs: &[RunSpec]) -> Result<Vec<bool>> {
    let device = select_device(&args.run.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let datasets = Datasets::new(args, runs);
    let jobs = args.jobs().clamp(1, runs.len().max(1));
    let budget = ThreadBudget::for_this_machine();
    let queue: Mutex<std::collections::VecDeque<(usize, &RunSpec)>> =
        Mutex::new(runs.iter().enumerate().collect());
    let finished: Mutex<Vec<Option<bool>>> = Mutex::new(vec![None; runs.len()]);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for job in 0..jobs {
            let (queue, finished, first_error) = (&queue, &finished, &first_error);
            let (budget, device, datasets) = (&budget, &device, &datasets);
            std::thread::Builder::new()
                .name(format!("compare-job-{job}"))
                .spawn_scoped(scope, move || {
                    let seat = budget.seat();
                    seat.set_active(true);
                    let mut pool = SizedPool::new(&format!("compare-job-{job}"));
                    while let Some((i, run)) = next(queue, first_error) {
                        let result = datasets.get(run).and_then(|dataset| {
                            pool.install(seat.threads(), || {
                                train_one(args, out, run, dataset, device, started)
                            })
                        });
                        datasets.done(run);
                        match result {
                            Ok(ok) => lock(finished)[i] = Some(ok),
                            Err(e) => {
                                lock(first_error).get_or_insert(e);
                            }
                        }
                    }
                })
                .map(|_| ())
                .unwrap_or_else(|e| {
                    lock(first_error)
                        .get_or_insert(anyhow::anyhow!("could not start a job thread: {e}"));
                });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let finished = finished.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(finished.into_iter().map(|f| f.unwrap_or(false)).collect())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The next run to train, unless the sweep has been stopped by an error.
fn next<'a>(
    queue: &Mutex<std::collections::VecDeque<(usize, &'a RunSpec)>>,
    first_error: &Mutex<Option<anyhow::Error>>,
) -> Option<(usize, &'a RunSpec)> {
    if lock(first_error).is_some() {
        return None;
    }
    lock(queue).pop_front()
}

/// The datasets of a sweep's runs, one per (seed, fold), shared by every strategy of it (so
/// runs differ only in weighting). Each is made when its first run starts and dropped when its
/// last run ends: a sweep over ten folds and three seeds never holds thirty copies of the images.
struct Datasets<'a> {
    args: &'a CompareArgs,
    slots: Mutex<BTreeMap<(u64, Option<usize>), Slot>>,
}

struct Slot {
    dataset: Option<Arc<Dataset>>,
    /// Runs of this dataset not yet ended.
    remaining: usize,
}

impl<'a> Datasets<'a> {
    fn new(args: &'a CompareArgs, runs: &[RunSpec]) -> Self {
        let mut slots: BTreeMap<(u64, Option<usize>), Slot> = BTreeMap::new();
        for run in runs {
            slots
                .entry((run.seed, run.fold))
                .or_insert(Slot {
                    dataset: None,
                    remaining: 0,
                })
                .remaining += 1;
        }
        Datasets {
            args,
            slots: Mutex::new(slots),
        }
    }

    /// The run's dataset, made now if no run has made it yet (under the lock, so it is made
    /// once; loading decodes on all cores anyway).
    fn get(&self, run: &RunSpec) -> Result<Arc<Dataset>> {
        let mut slots = lock(&self.slots);
        let slot = slots
            .get_mut(&(run.seed, run.fold))
            .context("a run outside the sweep")?;
        if let Some(dataset) = &slot.dataset {
            return Ok(dataset.clone());
        }
        let config = self.args.run_config(run)?;
        let dataset = load_dataset(&config, true)?;
        slot.dataset = Some(dataset.clone());
        Ok(dataset)
    }

    /// A run of the dataset has ended: the last one releases it.
    fn done(&self, run: &RunSpec) {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get_mut(&(run.seed, run.fold)) {
            slot.remaining = slot.remaining.saturating_sub(1);
            if slot.remaining == 0 {
                slot.dataset = None;
            }
        }
    }
}

/// Train one run into its folder; Ok(false) when the run failed while training (recorded in
/// its folder), an error when its folder could not be written.
fn train_one(
    args: &CompareArgs,
    out: &Path,
    run: &RunSpec,
    dataset: Arc<Dataset>,
    device: &candle_core::Device,
    started: Instant,
) -> Result<bool> {
    let config = args.run_config(run)?;
    let dir = out.join(&run.dir);
    eprintln!(
        "[{:>6.0} s] {} → {}",
        started.elapsed().as_secs_f64(),
        run.label(),
        dir.display()
    );
    let options = RunOptions {
        overwrite: args.overwrite,
        inject_failure: injected_fault(&config),
    };
    match train_to_folder(&config, dataset, device, &dir, &options, &mut |_| {})? {
        RunEnd::Finished(outcome) => {
            if let Err(e) = &outcome.report {
                eprintln!("warning: {}: evaluation failed: {e}", run.label());
            }
            Ok(outcome.report.is_ok())
        }
        RunEnd::Failed { step, reason } => {
            eprintln!("{} failed at step {step}: {reason}", run.label());
            Ok(false)
        }
    }
}
