//! `cari-mtl aggregate`: one rule on a gradient matrix from a file, as one JSON line.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

use super::args::parse_list;
use crate::weighting::Strategy;
use crate::weighting::aggregate::aggregate;

#[derive(Args, Debug)]
pub struct AggregateArgs {
    /// The rule (any rule of `train --strategy` that runs without a network).
    #[arg(long)]
    pub rule: String,
    /// A CSV file of T rows (one per task) of D comma-separated numbers, no header.
    #[arg(long)]
    pub grads: PathBuf,
    /// The tasks' losses, for the rules that read them (default 1 for every task).
    #[arg(long)]
    pub losses: Option<String>,
    /// Seed of the rules that draw random numbers (PCGrad's projection orders).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: AggregateArgs) -> Result<()> {
    let rule = Strategy::parse(&args.rule)
        .map_err(anyhow::Error::msg)
        .context("--rule")?;
    let text = std::fs::read_to_string(&args.grads)
        .with_context(|| format!("--grads {}", args.grads.display()))?;
    let rows = parse_rows(&text).with_context(|| format!("--grads {}", args.grads.display()))?;
    let losses = args
        .losses
        .as_deref()
        .map(|l| parse_list("--losses", l))
        .transpose()?;
    let answer = aggregate(rule, &rows, losses.as_deref(), args.seed)?;
    let json = serde_json::json!({
        "rule": rule.key(),
        "weights": answer.weights,
        "direction": answer.direction,
    });
    println!("{json}");
    Ok(())
}

/// Rows of comma-separated finite numbers; blank lines are skipped; errors name the line.
fn parse_rows(text: &str) -> Result<Vec<Vec<f64>>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows.push(parse_list(&format!("line {}", i + 1), line)?);
    }
    if rows.is_empty() {
        bail!("no rows: expected one line of comma-separated numbers per task");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_their_errors() {
        assert_eq!(
            parse_rows("1,2\n\n3, 4\n").unwrap(),
            vec![vec![1.0, 2.0], vec![3.0, 4.0]]
        );
        let e = parse_rows("1,2\n3,x\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
        assert!(
            parse_rows("1,nan\n")
                .unwrap_err()
                .to_string()
                .contains("not finite")
        );
        assert!(parse_rows("\n\n").is_err());
    }
}
