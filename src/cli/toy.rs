//! `cari-mtl toy`: the toy model's rows as CSV on stdout; with `--landscape`, a rule's path on
//! the two-parameter loss landscape (see `cli/landscape.rs`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use super::args::parse_list;
use super::landscape::LandscapeRequest;
use crate::weighting::toy::{ToyConfig, parse_rule, simulate, to_csv};

/// The toy's own defaults where a flag is shared with the landscape.
const TOY_LR: f64 = 1.0;
const TOY_STEPS: usize = 200;

#[derive(Args, Debug)]
pub struct ToyArgs {
    /// Weighting rule: any rule of `train --strategy` that runs without a network (an error
    /// names the others and why).
    #[arg(long, default_value = "proposed")]
    pub strategy: String,
    /// Starting loss of each task, comma-separated.
    #[arg(long, default_value = "2,1,0.5")]
    pub losses: String,
    /// Loss floor of each task.
    #[arg(long, default_value = "0.1,0.1,0.1")]
    pub floors: String,
    /// Learnability κ of each task, in (0, 1].
    #[arg(long, default_value = "0.05,0.2,0.5")]
    pub rates: String,
    /// Step size η of the logits (default 1); with --landscape, Adam's rate on θ (default
    /// 0.001, the paper's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Steps (default 200; with --landscape 100000, the paper's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Use the authors' bounded form w = softmax(s·a/‖a‖) with this s.
    #[arg(long)]
    pub scale: Option<f64>,
    /// Weights for `static`, comma-separated.
    #[arg(long)]
    pub weights: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The two-parameter loss landscape instead: `cagrad`, the toy of CAGrad's code (f1, f2 of
    /// a shared θ = (x, y)). Prints {"theta", "losses", "pareto_distance", "min_norm"} for the
    /// end of --rule's path from --start.
    #[arg(long, value_name = "NAME", value_parser = ["cagrad"])]
    pub landscape: Option<String>,
    /// With --landscape: the rule (any rule of the registry with a host form).
    #[arg(long, requires = "landscape")]
    pub rule: Option<String>,
    /// With --landscape: the starting point x,y (default -8.5,7.5).
    #[arg(long, requires = "landscape", allow_hyphen_values = true)]
    pub start: Option<String>,
    /// With --landscape: one loss times a factor, f1:FACTOR or f2:FACTOR (FAMO's toy: f1:0.1).
    #[arg(long, requires = "landscape", value_name = "LOSS:FACTOR")]
    pub scaled_loss: Option<String>,
    /// With --landscape: step size η of the rules' own parameters (proposed's and naive's
    /// logits; default 1).
    #[arg(long, requires = "landscape")]
    pub rule_lr: Option<f64>,
    /// With --landscape: CAGrad's c (default 0.4).
    #[arg(long, requires = "landscape")]
    pub cagrad_c: Option<f64>,
    /// With --landscape: write the path (about 1,000 recorded states) as CSV to this file.
    #[arg(long, requires = "landscape", value_name = "FILE")]
    pub path_csv: Option<PathBuf>,
    /// With --landscape: print the table every rule × the five starts → final distance to
    /// the Pareto set (✓: Pareto-stationary), as Markdown.
    #[arg(long, requires = "landscape")]
    pub table: bool,
}

pub fn run(args: ToyArgs) -> Result<()> {
    if args.landscape.is_some() {
        return super::landscape::run(&LandscapeRequest {
            rule: args.rule,
            start: args.start,
            scaled_loss: args.scaled_loss,
            steps: args.steps,
            lr: args.lr,
            rule_lr: args.rule_lr,
            scale: args.scale,
            cagrad_c: args.cagrad_c,
            seed: args.seed,
            path_csv: args.path_csv,
            table: args.table,
        });
    }
    let rule = match parse_rule(&args.strategy) {
        Ok(r) => r,
        Err(e) => bail!("--strategy: {e}"),
    };
    let start_losses = parse_list("--losses", &args.losses)?;
    let tasks = start_losses.len();
    let config = ToyConfig {
        rule,
        start_losses,
        floors: parse_list("--floors", &args.floors)?,
        rates: parse_list("--rates", &args.rates)?,
        lr: args.lr.unwrap_or(TOY_LR),
        steps: args.steps.unwrap_or(TOY_STEPS),
        scale: args.scale,
        static_weights: match &args.weights {
            Some(w) => parse_list("--weights", w)?,
            None => vec![1.0; tasks],
        },
        seed: args.seed,
        ..ToyConfig::default()
    };
    let rows = simulate(&config)?;
    print!("{}", to_csv(&rows));
    Ok(())
}
