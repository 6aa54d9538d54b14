//! The registry's rules on the landscape: each rule's host form picks the coefficients of
//! d = λ1 g1 + λ2 g2 at every step, Adam moves θ along d, from the five starting points.
//!
//! What each rule sees:
//! * the Gram matrix of the two task gradients (`Gram::from_rows(&[g1, g2])`), so the rules
//!   that combine gradients (MGDA, CAGrad, PCGrad, …) run as they do on the network;
//! * the losses **shifted to be positive**: f_i + 21·factor_i, the lower bounds FAMO's own toy
//!   sets (`set_min_losses(−21·scale, −21)`). The landscape's losses reach −20 (times the
//!   factor), and the loss rules' formulas assume positive losses (proposed's 1/(L + 0.01),
//!   geometric's 1/L, FAMO's log L, DWA's ratios); a constant shift moves no gradient.
//!
//! `proposed` and `naive` run through their logits, as in the toy, at the rule's own rate
//! `rule_lr`; loss rules return weights summing to 1, gradient rules their λ.

use serde::{Deserialize, Serialize};

use super::super::Strategy;
use super::super::gram::Gram;
use super::super::host::{HostRule, HostSetup, HostView};
use super::adam::{Combination, DEFAULT_LR, DEFAULT_STEPS, Path, simulate_until_stopped};
use super::functions::{STARTS, Variant};

/// The landscape's losses never reach −21 × their factor (their floor is −20): the shift
/// that makes them positive for the loss rules (FAMO's toy's `min_losses`).
pub const LOSS_LOWER_BOUND: f64 = -21.0;

/// Most steps one path may take (keeps a typo from running for hours).
pub const MAX_STEPS: usize = 10_000_000;

/// The recorded points a path aims for (every `steps / RECORDED_POINTS`-th step).
pub const RECORDED_POINTS: usize = 1000;

/// Settings of the landscape's paths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LandscapeConfig {
    /// The toy as published, or one loss scaled (FAMO's variant).
    pub variant: Variant,
    /// Adam steps per path (the paper's 100,000).
    pub steps: usize,
    /// Adam's learning rate on θ (the paper's 0.001).
    pub lr: f64,
    /// Step size η of the rules' own parameters (proposed's and naive's logits,
    /// uncertainty's s), as in the toy.
    pub rule_lr: f64,
    /// `None`: unbounded `softmax(a)`; `Some(s)`: the authors' bounded `softmax(s·a/‖a‖)`.
    pub scale: Option<f64>,
    /// CAGrad's c.
    pub cagrad_c: f64,
    /// The `static` rule's weights on f1 and f2 (normalised to sum 1).
    pub static_weights: [f64; 2],
    /// DWA's temperature τ.
    pub dwa_temperature: f64,
    /// Feeds rules that draw random numbers (rlw, pcgrad).
    pub seed: u64,
}

impl Default for LandscapeConfig {
    fn default() -> Self {
        LandscapeConfig {
            variant: Variant::Cagrad,
            steps: DEFAULT_STEPS,
            lr: DEFAULT_LR,
            rule_lr: 1.0,
            scale: None,
            cagrad_c: 0.4,
            static_weights: [0.5, 0.5],
            dwa_temperature: 2.0,
            seed: 0,
        }
    }
}

/// Why a path cannot be drawn.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LandscapeError {
    /// A setting is out of range.
    #[error("landscape setting `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The rule has no host form, or none for two tasks.
    #[error("{rule} cannot run on the landscape: {reason}")]
    Refused { rule: &'static str, reason: String },
    /// The rule stopped on the way.
    #[error("{rule} from ({x}, {y}): {reason}")]
    Failed {
        rule: &'static str,
        x: f64,
        y: f64,
        reason: String,
    },
}

fn invalid(field: &'static str, reason: String) -> LandscapeError {
    LandscapeError::Invalid { field, reason }
}

impl LandscapeConfig {
    /// Every setting checked; the error names the field.
    pub fn validate(&self) -> Result<(), LandscapeError> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if self.steps > MAX_STEPS {
            return Err(invalid(
                "steps",
                format!("is {}; at most {MAX_STEPS}", self.steps),
            ));
        }
        if !positive(self.lr) {
            return Err(invalid(
                "lr",
                format!("is {}; Adam's rate must be finite and > 0", self.lr),
            ));
        }
        if !positive(self.rule_lr) {
            return Err(invalid(
                "rule_lr",
                format!(
                    "is {}; the rules' rate must be finite and > 0",
                    self.rule_lr
                ),
            ));
        }
        if let Some(s) = self.scale
            && !positive(s)
        {
            return Err(invalid(
                "scale",
                format!("is {s}; the bounded form's s must be finite and > 0"),
            ));
        }
        if let Variant::Scaled { factor, .. } = self.variant
            && !positive(factor)
        {
            return Err(invalid(
                "variant",
                format!("the loss factor is {factor}; it must be finite and > 0"),
            ));
        }
        if !(self.cagrad_c.is_finite() && (0.0..=100.0).contains(&self.cagrad_c)) {
            return Err(invalid(
                "cagrad_c",
                format!("is {}; it must lie in [0, 100]", self.cagrad_c),
            ));
        }
        let [a, b] = self.static_weights;
        if !(a.is_finite() && b.is_finite() && a >= 0.0 && b >= 0.0 && a + b > 0.0) {
            return Err(invalid(
                "static_weights",
                format!("are [{a}, {b}]; both must be finite and >= 0, not both 0"),
            ));
        }
        if !positive(self.dwa_temperature) {
            return Err(invalid(
                "dwa_temperature",
                format!("is {}; it must be finite and > 0", self.dwa_temperature),
            ));
        }
        Ok(())
    }

    /// Record every this many steps: about [`RECORDED_POINTS`] points per path.
    pub fn record_every(&self) -> usize {
        (self.steps / RECORDED_POINTS).max(1)
    }

    fn host_setup(&self) -> HostSetup {
        let [a, b] = self.static_weights;
        HostSetup {
            tasks: 2,
            seed: self.seed,
            lr: self.rule_lr,
            scale: self.scale,
            static_weights: vec![a / (a + b), b / (a + b)],
            dwa_temperature: self.dwa_temperature,
            cagrad_c: self.cagrad_c,
        }
    }

    /// What the loss rules see: the losses shifted by [`LOSS_LOWER_BOUND`] × each factor.
    fn loss_shift(&self) -> [f64; 2] {
        self.variant.loss_factors().map(|f| -LOSS_LOWER_BOUND * f)
    }
}

/// The five starting points the lab draws (see [`STARTS`]).
pub fn starts() -> &'static [[f64; 2]] {
    &STARTS
}

/// A rule's host form as the path's combination rule.
struct HostCombination {
    host: Box<dyn HostRule>,
    shift: [f64; 2],
}

impl HostCombination {
    fn shifted(&self, losses: [f64; 2]) -> [f64; 2] {
        [losses[0] + self.shift[0], losses[1] + self.shift[1]]
    }
}

impl Combination for HostCombination {
    type Error = String;

    fn coefficients(
        &mut self,
        step: usize,
        losses: [f64; 2],
        grads: [[f64; 2]; 2],
    ) -> Result<[f64; 2], String> {
        let gram = Gram::from_rows(&[grads[0].to_vec(), grads[1].to_vec()])
            .map_err(|e| format!("the gradients: {e}"))?;
        let shifted = self.shifted(losses);
        let weights = self.host.weights(&HostView {
            step,
            losses: &shifted,
            gram: Some(&gram),
        })?;
        match weights[..] {
            [a, b] => Ok([a, b]),
            _ => Err(format!(
                "it gave {} coefficients for 2 tasks",
                weights.len()
            )),
        }
    }

    fn observe(&mut self, losses_seen: [f64; 2]) {
        let shifted = self.shifted(losses_seen);
        self.host.observe(&shifted);
    }
}

/// Why `rule` cannot run on the landscape, or `None` when it can.
pub fn refusal(rule: Strategy, config: &LandscapeConfig) -> Option<String> {
    super::super::host_rule(rule, &config.host_setup()).err()
}

/// The rules of the registry that run on the landscape, in menu order.
pub fn landscape_rules(config: &LandscapeConfig) -> Vec<Strategy> {
    Strategy::all()
        .filter(|&rule| refusal(rule, config).is_none())
        .collect()
}

/// A path, and why it stopped before its last step if it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub path: Path,
    /// The rule failed (or θ diverged) at a step: the path ends where it got to.
    pub stopped: Option<LandscapeError>,
}

/// `rule`'s path from `start`: Adam on θ along the rule's direction for `config.steps` steps,
/// about [`RECORDED_POINTS`] states recorded. A rule that fails on the way is an error.
pub fn run_rule(
    rule: Strategy,
    start: [f64; 2],
    config: &LandscapeConfig,
) -> Result<Path, LandscapeError> {
    let outcome = run_rule_until_stopped(rule, start, config)?;
    match outcome.stopped {
        Some(e) => Err(e),
        None => Ok(outcome.path),
    }
}

/// As [`run_rule`], but a rule that fails on the way gives its path up to there, and why.
pub fn run_rule_until_stopped(
    rule: Strategy,
    start: [f64; 2],
    config: &LandscapeConfig,
) -> Result<Outcome, LandscapeError> {
    config.validate()?;
    let [x, y] = start;
    if !(x.is_finite() && y.is_finite()) {
        return Err(invalid(
            "start",
            format!("({x}, {y}) is not a finite point"),
        ));
    }
    let host = super::super::host_rule(rule, &config.host_setup()).map_err(|reason| {
        LandscapeError::Refused {
            rule: rule.key(),
            reason,
        }
    })?;
    let mut combination = HostCombination {
        host,
        shift: config.loss_shift(),
    };
    let (path, stopped) = simulate_until_stopped(
        start,
        config.steps,
        config.lr,
        config.variant,
        config.record_every(),
        &mut combination,
    );
    Ok(Outcome {
        path,
        stopped: stopped.map(|e| LandscapeError::Failed {
            rule: rule.key(),
            x,
            y,
            reason: e.to_string(),
        }),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::adam::{FnRule, mgda_rule, simulate};
    use super::super::functions::TaskLoss;
    use super::super::pareto::{pareto_distance, stationarity};
    use super::*;

    fn rule(key: &str) -> Strategy {
        Strategy::parse(key).unwrap()
    }

    fn short(steps: usize) -> LandscapeConfig {
        LandscapeConfig {
            steps,
            ..LandscapeConfig::default()
        }
    }

    #[test]
    fn the_registrys_mgda_follows_the_closed_form_path() {
        // The registry's MGDA solves the simplex problem by enumerating faces; for two tasks
        // it must give the closed-form min-norm point, step for step.
        let config = short(2000);
        let ours = run_rule(rule("mgda"), [-8.5, 7.5], &config).unwrap();
        let closed = simulate(
            [-8.5, 7.5],
            2000,
            DEFAULT_LR,
            Variant::Cagrad,
            config.record_every(),
            &mut FnRule(mgda_rule),
        )
        .unwrap();
        assert_eq!(ours.points.len(), closed.points.len());
        for (a, b) in ours.points.iter().zip(&closed.points) {
            for k in 0..2 {
                assert!((a.theta[k] - b.theta[k]).abs() < 1e-9, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn mgda_reaches_the_front_in_the_papers_steps() {
        let path = run_rule(rule("mgda"), [-8.5, 7.5], &LandscapeConfig::default()).unwrap();
        let end = path.last().unwrap();
        assert_eq!(end.step, DEFAULT_STEPS);
        assert!(stationarity(end.theta, Variant::Cagrad) < 1e-3, "{end:?}");
        assert!(pareto_distance(end.theta) < 1e-3, "{end:?}");
    }

    #[test]
    fn equal_weights_are_the_mean_rule_and_stall_in_a_gorge() {
        // `equal` is d = (g1 + g2)/2, CAGrad's `mean_grad`: from the upper left it stays in
        // the log gorge, far from the front.
        let path = run_rule(rule("equal"), [-8.5, 7.5], &LandscapeConfig::default()).unwrap();
        let end = path.last().unwrap().theta;
        assert!(pareto_distance(end) > 5.0, "{end:?}");
    }

    #[test]
    fn loss_rules_see_positive_losses_and_every_rule_answers_or_says_why() {
        let config = short(300);
        for r in Strategy::all() {
            match run_rule(r, [9.0, -1.0], &config) {
                Ok(path) => {
                    assert_eq!(path.points.last().unwrap().step, 300, "{r}");
                    for p in &path.points[..path.points.len() - 1] {
                        let w = p.weights.unwrap();
                        assert!(w.iter().all(|x| x.is_finite()), "{r}: {w:?}");
                    }
                }
                Err(LandscapeError::Refused { reason, .. }) => {
                    assert!(refusal(r, &config).is_some(), "{r}: {reason}");
                    assert!(!landscape_rules(&config).contains(&r));
                }
                Err(e) => panic!("{r}: {e}"),
            }
        }
        // FAMO takes the log of L − L^min: with the shift it never sees a loss ≤ 0.
        assert!(landscape_rules(&config).contains(&rule("famo")));
        assert!(!landscape_rules(&config).contains(&rule("gradnorm")));
        assert!(!landscape_rules(&config).contains(&rule("single-cari")));
    }

    #[test]
    fn a_scaled_loss_changes_the_path_but_not_the_front() {
        let scaled = LandscapeConfig {
            variant: Variant::Scaled {
                task: TaskLoss::F1,
                factor: 0.1,
            },
            ..short(500)
        };
        let plain = run_rule(rule("equal"), [9.0, 9.0], &short(500)).unwrap();
        let tilted = run_rule(rule("equal"), [9.0, 9.0], &scaled).unwrap();
        assert_ne!(plain.last().unwrap().theta, tilted.last().unwrap().theta);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let message = |config: LandscapeConfig| {
            run_rule(rule("mgda"), [0.0, 1.0], &config)
                .unwrap_err()
                .to_string()
        };
        let d = LandscapeConfig::default;
        assert!(message(LandscapeConfig { lr: 0.0, ..d() }).contains("`lr`"));
        assert!(
            message(LandscapeConfig {
                steps: MAX_STEPS + 1,
                ..d()
            })
            .contains("`steps`")
        );
        assert!(
            message(LandscapeConfig {
                variant: Variant::Scaled {
                    task: TaskLoss::F2,
                    factor: -1.0
                },
                ..d()
            })
            .contains("factor")
        );
        assert!(
            message(LandscapeConfig {
                static_weights: [0.0, 0.0],
                ..d()
            })
            .contains("static_weights")
        );
        let far = run_rule(rule("mgda"), [f64::NAN, 0.0], &short(10)).unwrap_err();
        assert!(far.to_string().contains("start"), "{far}");
        let diverged = run_rule(
            rule("equal"),
            [9.0, -1.0],
            &LandscapeConfig {
                lr: 1e308,
                ..short(10)
            },
        )
        .unwrap_err();
        assert!(
            matches!(diverged, LandscapeError::Failed { .. }),
            "{diverged}"
        );
    }
}
