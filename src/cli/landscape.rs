//! `cari-mtl toy --landscape cagrad`: one rule's path on the loss landscape (its end as one
//! JSON line, the path as CSV), or the table rule × start → distance to the Pareto set.

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::atomic_file::write_bytes;
use crate::weighting::Strategy;
use crate::weighting::landscape::pareto::{pareto_distance, stationarity};
use crate::weighting::landscape::{
    LandscapeConfig, Path as LandscapePath, STARTS, TaskLoss, Variant, landscape_rules,
    run_rule_until_stopped,
};

/// Below this minimum-norm combination of the two gradients a point counts as
/// Pareto-stationary: on the front.
pub const STATIONARY_BELOW: f64 = 1e-3;

/// What `toy --landscape` was asked for (from `toy`'s flags).
#[derive(Debug)]
pub struct LandscapeRequest {
    pub rule: Option<String>,
    pub start: Option<String>,
    pub scaled_loss: Option<String>,
    pub steps: Option<usize>,
    pub lr: Option<f64>,
    pub rule_lr: Option<f64>,
    pub scale: Option<f64>,
    pub cagrad_c: Option<f64>,
    pub seed: u64,
    pub path_csv: Option<std::path::PathBuf>,
    pub table: bool,
}

pub fn run(args: &LandscapeRequest) -> Result<()> {
    let config = config_of(args)?;
    if args.table {
        print!("{}", table(&config));
        return Ok(());
    }
    let Some(key) = &args.rule else {
        bail!(
            "--landscape needs --rule R (one of: {}) or --table",
            rule_keys(&config)
        );
    };
    let rule = Strategy::parse(key).map_err(|e| anyhow::anyhow!("--rule: {e}"))?;
    let start = match &args.start {
        Some(text) => parse_point(text).context("--start")?,
        None => STARTS[0],
    };
    let outcome = run_rule_until_stopped(rule, start, &config)?;
    if let Some(file) = &args.path_csv {
        write_bytes(file, path_csv(&outcome.path).as_bytes())
            .with_context(|| format!("--path-csv {}", file.display()))?;
    }
    if let Some(stop) = outcome.stopped {
        match &args.path_csv {
            Some(file) => bail!("{stop}; the path up to there is in {}", file.display()),
            None => bail!("{stop}"),
        }
    }
    let end = outcome
        .path
        .last()
        .context("a path always has its final point")?;
    println!("{}", end_line(end.theta, end.losses, config.variant));
    Ok(())
}

/// `{"theta": [x, y], "losses": [f1, f2], "pareto_distance": d, "min_norm": m}`, in that
/// order.
fn end_line(theta: [f64; 2], losses: [f64; 2], variant: Variant) -> String {
    let number = |v: f64| serde_json::Value::from(v).to_string();
    let pair = |[a, b]: [f64; 2]| format!("[{}, {}]", number(a), number(b));
    format!(
        "{{\"theta\": {}, \"losses\": {}, \"pareto_distance\": {}, \"min_norm\": {}}}",
        pair(theta),
        pair(losses),
        number(pareto_distance(theta)),
        number(stationarity(theta, variant))
    )
}

fn rule_keys(config: &LandscapeConfig) -> String {
    landscape_rules(config)
        .iter()
        .map(|r| r.key())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The landscape's settings from the flags (the paper's defaults where none is given).
fn config_of(args: &LandscapeRequest) -> Result<LandscapeConfig> {
    let defaults = LandscapeConfig::default();
    let variant = match &args.scaled_loss {
        Some(text) => parse_scaled_loss(text).context("--scaled-loss")?,
        None => Variant::Cagrad,
    };
    let config = LandscapeConfig {
        variant,
        steps: args.steps.unwrap_or(defaults.steps),
        lr: args.lr.unwrap_or(defaults.lr),
        rule_lr: args.rule_lr.unwrap_or(defaults.rule_lr),
        scale: args.scale,
        cagrad_c: args.cagrad_c.unwrap_or(defaults.cagrad_c),
        seed: args.seed,
        ..defaults
    };
    config.validate()?;
    Ok(config)
}

/// `x,y` as a point.
pub fn parse_point(text: &str) -> Result<[f64; 2]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [x, y] = parts[..] else {
        bail!("'{text}': expected two numbers x,y, e.g. -8.5,7.5");
    };
    let number = |s: &str| -> Result<f64> {
        let v: f64 = s
            .parse()
            .map_err(|_| anyhow::anyhow!("'{s}' in '{text}' is not a number"))?;
        if !v.is_finite() {
            bail!("'{s}' in '{text}' is not finite");
        }
        Ok(v)
    };
    Ok([number(x)?, number(y)?])
}

/// `f1:FACTOR` or `f2:FACTOR`: that loss times FACTOR (FAMO's variant scales f1 by 0.1).
fn parse_scaled_loss(text: &str) -> Result<Variant> {
    let usage = "expected f1:FACTOR or f2:FACTOR, e.g. f1:0.1";
    let (task, factor) = text
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("'{text}': {usage}"))?;
    let task = match task.trim() {
        "f1" | "1" => TaskLoss::F1,
        "f2" | "2" => TaskLoss::F2,
        other => bail!("'{other}' is not a loss; {usage}"),
    };
    let factor: f64 = factor
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("'{factor}' is not a number; {usage}"))?;
    Ok(Variant::Scaled { task, factor })
}

/// One line per recorded state: step, θ, the losses, the rule's weights (normalised) and
/// its raw coefficients λ (empty on the final state, from which no step is taken).
pub fn path_csv(path: &LandscapePath) -> String {
    let mut out = String::from("step,x,y,f1,f2,w1,w2,lambda1,lambda2\n");
    for p in &path.points {
        let pair = |v: Option<[f64; 2]>| match v {
            Some([a, b]) => format!("{a:.12e},{b:.12e}"),
            None => ",".into(),
        };
        out.push_str(&format!(
            "{},{:.12e},{:.12e},{:.12e},{:.12e},{},{}\n",
            p.step,
            p.theta[0],
            p.theta[1],
            p.losses[0],
            p.losses[1],
            pair(p.weights),
            pair(p.coefficients)
        ));
    }
    out
}

/// The table every rule × start → final distance to the Pareto set (✓: Pareto-stationary,
/// min-norm below [`STATIONARY_BELOW`]) as Markdown, with a note under it for each path that
/// stopped on the way; the paths run in parallel.
pub fn table(config: &LandscapeConfig) -> String {
    let rules = landscape_rules(config);
    let jobs: Vec<(Strategy, [f64; 2])> = rules
        .iter()
        .flat_map(|&r| STARTS.iter().map(move |&s| (r, s)))
        .collect();
    let cells: Vec<(String, Option<String>)> = jobs
        .par_iter()
        .map(|&(rule, start)| cell(rule, start, config))
        .collect();
    let mut out = String::from("| rule |");
    for [x, y] in STARTS {
        out.push_str(&format!(" ({x}, {y}) |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(STARTS.len()));
    out.push('\n');
    for (k, rule) in rules.iter().enumerate() {
        out.push_str(&format!("| {} |", rule.key()));
        for (cell, _) in &cells[k * STARTS.len()..(k + 1) * STARTS.len()] {
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    for (_, note) in &cells {
        if let Some(note) = note {
            out.push_str(&format!("\n- {note}"));
        }
    }
    if cells.iter().any(|(_, n)| n.is_some()) {
        out.push('\n');
    }
    out
}

/// A path's final distance to the Pareto set (✓ when Pareto-stationary); for a path that
/// stopped, where and how far, and why as a note.
fn cell(rule: Strategy, start: [f64; 2], config: &LandscapeConfig) -> (String, Option<String>) {
    match run_rule_until_stopped(rule, start, config) {
        Ok(outcome) => {
            let Some(end) = outcome.path.last() else {
                return ("no point".into(), None);
            };
            let distance = pareto_distance(end.theta);
            // A rule may stop because it reached the front: Nash-MTL's equation has no
            // solution where the two gradients are opposite, i.e. at a Pareto point.
            let reached = stationarity(end.theta, config.variant) < STATIONARY_BELOW;
            let mark = if reached { " ✓" } else { "" };
            match outcome.stopped {
                Some(stop) => (
                    format!("stopped at step {} ({distance:.1e}{mark})", end.step),
                    Some(stop.to_string()),
                ),
                None => (format!("{distance:.1e}{mark}"), None),
            }
        }
        Err(e) => ("—".into(), Some(e.to_string())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn points_and_scaled_losses_parse_or_say_why() {
        assert_eq!(parse_point("-8.5, 7.5").unwrap(), [-8.5, 7.5]);
        assert!(
            parse_point("1")
                .unwrap_err()
                .to_string()
                .contains("two numbers")
        );
        assert!(parse_point("1,x").unwrap_err().to_string().contains("'x'"));
        assert!(
            parse_point("1,inf")
                .unwrap_err()
                .to_string()
                .contains("finite")
        );
        assert_eq!(
            parse_scaled_loss("f1:0.1").unwrap(),
            Variant::Scaled {
                task: TaskLoss::F1,
                factor: 0.1
            }
        );
        assert!(parse_scaled_loss("f3:1").is_err());
        assert!(parse_scaled_loss("f1").is_err());
        let line = end_line([1.0, -8.0], [0.5, -2.0], Variant::Cagrad);
        assert!(
            line.starts_with(
                "{\"theta\": [1.0, -8.0], \"losses\": [0.5, -2.0], \"pareto_distance\": "
            ),
            "{line}"
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(value["min_norm"].as_f64().unwrap() >= 0.0);
    }

    /// Nash-MTL's solve once failed with "did not converge" on its way (its residual could
    /// not reach 1e-10 as the gradients turned opposite): now its path goes on to the front,
    /// where its equation has no solution, and stops there Pareto-stationary.
    #[test]
    fn nash_mtl_reaches_the_front_then_stops() {
        let config = LandscapeConfig {
            steps: 20_000,
            ..LandscapeConfig::default()
        };
        let nash = Strategy::parse("nash-mtl").unwrap();
        let (cell, note) = cell(nash, [-8.5, -5.0], &config);
        assert!(
            cell.starts_with("stopped at step ") && cell.ends_with(" ✓)"),
            "{cell}"
        );
        assert!(note.unwrap().contains("no Nash-MTL solution"));
    }

    #[test]
    fn the_csv_has_one_line_per_recorded_state() {
        let config = LandscapeConfig {
            steps: 2000,
            ..LandscapeConfig::default()
        };
        let path = crate::weighting::landscape::run_rule(
            Strategy::parse("mgda").unwrap(),
            [9.0, 9.0],
            &config,
        )
        .unwrap();
        let csv = path_csv(&path);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "step,x,y,f1,f2,w1,w2,lambda1,lambda2");
        assert_eq!(lines.len(), 1 + path.points.len());
        assert!(lines[1].starts_with("0,9.0"));
        assert!(
            lines.last().unwrap().starts_with("2000,") && lines.last().unwrap().ends_with(",,,")
        );
    }
}
