//! The command line: `cari-mtl` alone opens the window; subcommands run headless.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::lab::launch::{Launch, PlayRuns};

pub mod aggregate;
pub mod args;
pub mod bench;
pub mod bench_ab;
pub mod compare;
pub mod dataset;
pub mod embed;
pub mod export;
pub mod landscape;
pub mod reference;
pub mod roofline;
pub mod timing;
pub mod toy;
pub mod train;

#[derive(Parser, Debug)]
#[command(
    name = "cari-mtl",
    version,
    about = "A lab for dynamic multi-task learning (Ming, Burie & Luqman 2019): caricature–photo face recognition with live loss weights"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Commands>,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// Flags of the window (`cari-mtl` with no subcommand).
#[derive(Args, Debug, Default)]
pub struct WindowArgs {
    /// Start training as soon as the runs are ready: both runs, or only run a or b.
    #[arg(long, value_name = "RUNS", num_args = 0..=1, default_missing_value = "both", value_parser = parse_play)]
    pub play: Option<PlayRuns>,
    /// Close the window after SECS seconds of training (counted from the first step) and print
    /// one line: `window: A <n> steps, B <m> steps in <s> s`.
    #[arg(long, value_name = "SECS", value_parser = parse_positive_secs)]
    pub quit_after: Option<f64>,
    /// Train both runs on this dataset: synthetic, webcaricature:PATH, cavi:PATH or folder:PATH
    /// (the window remembers it).
    #[arg(long, value_name = "SPEC", value_parser = parse_dataset_spec)]
    pub dataset: Option<String>,
    /// With --dataset: the published fold to train and evaluate on (1-based), for a real
    /// dataset that ships folds (the window offers the others in its status bar).
    #[arg(long, value_name = "K", requires = "dataset", value_parser = parse_fold)]
    pub fold: Option<usize>,
    /// Open a finished run folder (from `train` or `compare`): the first into run A, a second
    /// into run B.
    #[arg(long, value_name = "DIR")]
    pub open_run: Vec<std::path::PathBuf>,
    /// Open a sweep folder (from `compare`, finished or still training) in the Sweep tab.
    #[arg(long, value_name = "DIR")]
    pub open_sweep: Option<std::path::PathBuf>,
    /// Open the lab a lab code describes (Files > Copy lab code in a window): its tab, rules,
    /// seed, preset, recipe, rates, scale, perturbations and holds, toy and landscape, lesson.
    /// The dataset and device stay this machine's.
    #[arg(long, value_name = "CODE", value_parser = parse_lab_code)]
    pub lab: Option<crate::lab::code::LabState>,
}

fn parse_lab_code(text: &str) -> Result<crate::lab::code::LabState, String> {
    let state = crate::lab::code::LabState::decode(text).map_err(|e| e.to_string())?;
    // Checked against the defaults here, so a code that cannot be used fails before the window
    // opens; the window applies it to its remembered settings.
    state
        .clone()
        .applied_to(&crate::lab::settings::Settings::default())
        .map_err(|e| e.to_string())?;
    Ok(state)
}

fn parse_fold(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("folds are numbered from 1".into()),
        Ok(fold) => Ok(fold),
        Err(_) => Err(format!("'{text}' is not a fold number (1, 2, …)")),
    }
}

fn parse_dataset_spec(text: &str) -> Result<String, String> {
    let spec: crate::data::DatasetSpec = text
        .parse()
        .map_err(|e: crate::data::LoadError| e.to_string())?;
    if let Some(path) = spec.path()
        && !path.is_dir()
    {
        return Err(format!("'{}' is not a folder", path.display()));
    }
    Ok(text.to_string())
}

impl Cli {
    /// Whether this command trains several runs in one process at once (the window, `bench
    /// --ab`), so candle's shared CPU pool must stay out of the way (see `kernels::threads`).
    pub fn trains_runs_side_by_side(&self) -> bool {
        match &self.command {
            None => true,
            Some(Commands::Bench(args)) => args.ab,
            Some(Commands::Compare(args)) => args.jobs() > 1,
            Some(_) => false,
        }
    }
}

impl WindowArgs {
    /// How the window is to start.
    pub fn launch(self) -> Launch {
        Launch {
            play: self.play,
            quit_after_secs: self.quit_after,
            dataset: self.dataset,
            fold: self.fold,
            open_runs: self.open_run,
            open_sweep: self.open_sweep,
            lab: self.lab.map(Box::new),
        }
    }

    fn any(&self) -> bool {
        self.play.is_some()
            || self.quit_after.is_some()
            || self.dataset.is_some()
            || self.fold.is_some()
            || !self.open_run.is_empty()
            || self.lab.is_some()
            || self.open_sweep.is_some()
    }
}

fn parse_play(text: &str) -> Result<PlayRuns, String> {
    match text.to_ascii_lowercase().as_str() {
        "both" | "ab" => Ok(PlayRuns::Both),
        "a" => Ok(PlayRuns::A),
        "b" => Ok(PlayRuns::B),
        other => Err(format!("'{other}': expected both, a or b")),
    }
}

pub(crate) fn parse_positive_secs(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 1e9 {
        Ok(secs)
    } else {
        Err(format!(
            "'{text}': seconds must be a positive finite number"
        ))
    }
}

#[derive(Subcommand, Debug)]
pub enum Commands {
    /// Train one run headless and write metrics.csv, config.json, checkpoint.safetensors and summary.json.
    Train(train::TrainArgs),
    /// Train several strategies over several seeds and print the paper's Table I as mean ± sample sd (n − 1).
    Compare(compare::CompareArgs),
    /// Measure training steps/s and images/s.
    Bench(bench::BenchArgs),
    /// The instant toy model of the weighting rules (no network); prints CSV. With
    /// `--landscape cagrad`: a rule's path on the two-parameter loss landscape.
    Toy(toy::ToyArgs),
    /// Write a checkpoint's embeddings and their t-SNE coordinates as CSV.
    Embed(embed::EmbedArgs),
    /// Inspect the embedded synthetic dataset.
    Dataset(dataset::DatasetArgs),
    /// One weighting rule on a gradient matrix (T rows of D numbers, CSV): prints
    /// {"rule", "weights", "direction"} as one JSON line, with the trainer's own code.
    Aggregate(aggregate::AggregateArgs),
    /// Export a run folder for other tools: `--tensorboard RUN_DIR --out DIR` writes
    /// TensorBoard event files and its embedding projector's files.
    Export(export::ExportArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    if cli.command.is_some() && cli.window.any() {
        anyhow::bail!(
            "--play, --quit-after, --open-run, --open-sweep, --dataset, --fold and --lab before a subcommand are flags of the window: use them without a subcommand (a subcommand's --dataset goes after it)"
        );
    }
    match cli.command {
        None => {
            if cli.window.open_run.len() > 2 {
                anyhow::bail!("--open-run: at most two runs (A and B)");
            }
            crate::ui::run_app(cli.window.launch())
        }
        Some(Commands::Train(args)) => train::run(args),
        Some(Commands::Compare(args)) => compare::run(args),
        Some(Commands::Bench(args)) if args.roofline => roofline::run(&args),
        Some(Commands::Bench(args)) => bench::run(args),
        Some(Commands::Toy(args)) => toy::run(args),
        Some(Commands::Embed(args)) => embed::run(args),
        Some(Commands::Dataset(args)) => dataset::run(args),
        Some(Commands::Export(args)) => export::run(args),
        Some(Commands::Aggregate(args)) => aggregate::run(args),
    }
}
