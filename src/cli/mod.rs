//! The command line: `cari-mtl` alone opens the window; subcommands run headless.

use anyhow::Result;
use clap::{Parser, Subcommand};

pub mod args;
pub mod bench;
pub mod compare;
pub mod dataset;
pub mod embed;
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
}

#[derive(Subcommand, Debug)]
pub enum Commands {
    /// Train one run headless and write metrics.csv, config.json, checkpoint.safetensors and summary.json.
    Train(train::TrainArgs),
    /// Train several strategies over several seeds and print the paper's Table I as mean ± std.
    Compare(compare::CompareArgs),
    /// Measure training steps/s and images/s.
    Bench(bench::BenchArgs),
    /// The instant toy model of the weighting rules (no network); prints CSV.
    Toy(toy::ToyArgs),
    /// Write a checkpoint's embeddings and their t-SNE coordinates as CSV.
    Embed(embed::EmbedArgs),
    /// Inspect the embedded synthetic dataset.
    Dataset(dataset::DatasetArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => crate::ui::run_app(),
        Some(Commands::Train(args)) => train::run(args),
        Some(Commands::Compare(args)) => compare::run(args),
        Some(Commands::Bench(args)) => bench::run(args),
        Some(Commands::Toy(args)) => toy::run(args),
        Some(Commands::Embed(args)) => embed::run(args),
        Some(Commands::Dataset(args)) => dataset::run(args),
    }
}
