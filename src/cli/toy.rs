//! `cari-mtl toy`: the toy model's rows as CSV on stdout.

use anyhow::{Result, bail};
use clap::Args;

use super::args::parse_list;
use crate::weighting::toy::{ToyConfig, parse_rule, simulate, to_csv};

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
    /// Step size η of the logits.
    #[arg(long, default_value_t = 1.0)]
    pub lr: f64,
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Use the authors' bounded form w = softmax(s·a/‖a‖) with this s.
    #[arg(long)]
    pub scale: Option<f64>,
    /// Weights for `static`, comma-separated.
    #[arg(long)]
    pub weights: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: ToyArgs) -> Result<()> {
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
        lr: args.lr,
        steps: args.steps,
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
