//! Toy mode: dynamic loss weighting without a network, data or GPU.
//!
//! Each of `T` tasks (2 ≤ `T` ≤ 8) has a loss that starts at `L_i(0) > 0`, can never go below a floor
//! `L_i* ≥ 0`, and shrinks at a speed set by its learnability `κ_i ∈ (0, 1]` and by the weight it is
//! given:
//!
//! ```text
//! L_i(t+1) = L_i* + (L_i(t) − L_i*) · (1 − κ_i · w_i(t))
//! ```
//!
//! A weighting rule chooses `w(t)` (non-negative, summing to 1). The rules:
//!
//! * `proposed` (Ming, Burie & Luqman 2019): `w = softmax(a)` with free logits `a` (start at 0) moved by
//!   `a ← a − η·∇_a Σ_i w_i / (L_i + 0.01)`, the losses treated as constants. Minimising `Σ w_i/(L_i+ε)`
//!   puts weight on the tasks whose loss is *large*.
//! * `naive`: the same logits, moved by `a ← a − η·∇_a Σ_i w_i·L_i` (the network's own loss), which puts
//!   weight on the *easiest* task and collapses onto it.
//! * `equal`: `w = 1/T`. `static`: the user's weights, normalised to sum 1.
//! * `uncertainty` (Kendall, Gal & Cipolla 2018): learnable `s_i` (start 0) minimising
//!   `Σ_i L_i/(2·exp(s_i)) + s_i/2` by gradient steps with learning rate `η`; the weight reported, and
//!   used to move the losses, is `1/(2·exp(s_i))` normalised to sum 1 (that is `softmax(−s)`).
//! * `dwa` (Liu, Johns & Davison 2019, Dynamic Weight Average): `w = softmax(r/τ)` with
//!   `r_i = L_i(t−1)/L_i(t−2)` (window of one step) and temperature `τ` (default 2); equal weights at
//!   steps 0 and 1, where there is no history yet. The paper multiplies by `T` (weights summing to `T`);
//!   the toy shows the softmax itself so every rule's weights sum to 1.
//! * `rlw` (Lin et al. 2021, Random Loss Weighting): `w = softmax(ε)` with `ε_i ~ N(0, 1)` drawn afresh
//!   at every step (step 0 included) from a `ChaCha8` generator seeded with [`ToyConfig::seed`].
//! * `geometric` (Chennupati et al. 2019, geometric loss strategy): objective `(Π_i L_i)^(1/T)`; its
//!   implied weights are `∂/∂L_i = (Π L)^(1/T) / (T·L_i)`, normalised to sum 1 (so `w_i ∝ 1/L_i`).
//!
//! # Order of one step
//!
//! For `t = 0, 1, 2, …, steps − 1` (and once more at `t = steps` for steps (1)–(2) only):
//!
//! 1. the weights `w(t)` are computed from the rule's current state (logits `a`, `s`, history, rng);
//! 2. row `t` = `(w(t), L(t))` is recorded;
//! 3. the losses move with those weights: `L(t+1)` from `L(t)` and `w(t)`;
//! 4. the rule's state is updated using `L(t)`, the loss the rule *saw* this step, e.g.
//!    `a ← a − η·∇_a F(w(a); L(t))`.
//!
//! So row 0 holds the starting losses and the weights the rule gives before any update (uniform for
//! `proposed`, `naive`, `uncertainty`, `dwa`), and [`simulate`] returns `steps + 1` rows.
//!
//! # Bounded form (the authors' code)
//!
//! With [`ToyConfig::scale`] `= Some(s)`, the logit rules (`proposed`, `naive`) use
//! `w = softmax(s·a/‖a‖)`, uniform while `a = 0`. Because the logits then have norm `s`, every weight
//! lies within [`weight_bounds`]. The gradient goes through the normalisation: with `u = a/‖a‖`,
//! `∂u/∂a = (I − u·uᵀ)/‖a‖`, so `∇_a F = (s/‖a‖)·(I − u·uᵀ)·∇_z F` where `z = s·u` and
//! `∂F/∂z_j = w_j·(c_j − Σ_i w_i·c_i)`. At `a = 0` the normalisation has no derivative (and the
//! projected gradient would be undefined); **the toy then takes the unbounded gradient
//! `∇_z F` at `z = 0` for that step**, which is the direction the network's linear layer would first
//! move in, so `a` can leave 0. The scale is ignored by the other rules.
//!
//! Everything is computed in `f64`.

use super::Strategy;
use super::host::{HostSetup, HostView};
pub use super::math::{logit_gradient, logit_weights, weight_bounds};

/// Fewest tasks the toy accepts.
pub const MIN_TASKS: usize = 2;
/// Most tasks the toy accepts.
pub const MAX_TASKS: usize = 8;
/// Most steps one simulation may run (keeps a typo from allocating gigabytes).
pub const MAX_STEPS: usize = 1_000_000;

/// Errors of the toy mode: a bad setting, an unknown rule, or a run whose numbers stopped being
/// finite.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToyError {
    /// A [`ToyConfig`] field is out of range; `field` names it (with an index where relevant).
    #[error("toy setting `{field}`: {reason}")]
    Invalid {
        /// The field, e.g. `floors[1] (task 2)`.
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A rule name not in the registry.
    #[error("unknown toy rule `{0}` (expected one of: {keys})", keys = toy_rule_keys().join(", "))]
    UnknownRule(String),
    /// A rule the toy cannot run (it needs a network, or more tasks).
    #[error("the toy cannot run `{rule}`: {reason}")]
    Unsupported {
        rule: &'static str,
        /// Why, in words.
        reason: String,
    },
    /// The weights or losses became NaN or infinite (e.g. a huge learning rate for `uncertainty`).
    #[error(
        "the `{rule}` run diverged at step {step}: weights or losses are no longer finite (try a smaller lr)"
    )]
    Diverged {
        /// The rule's name.
        rule: &'static str,
        /// The first step whose row is not finite.
        step: usize,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ToyError {
    ToyError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The keys of the rules the toy can run, in menu order.
pub fn toy_rule_keys() -> Vec<&'static str> {
    toy_rules().map(Strategy::key).collect()
}

/// The rules the toy can run, in menu order.
pub fn toy_rules() -> impl Iterator<Item = Strategy> {
    Strategy::all().filter(|s| s.toy_refusal().is_none())
}

/// Reads a rule the toy can run from its key (surrounding spaces and letter case are ignored).
pub fn parse_rule(text: &str) -> Result<Strategy, ToyError> {
    let wanted = text.trim().to_ascii_lowercase();
    let rule = Strategy::parse(&wanted).map_err(|_| ToyError::UnknownRule(wanted.clone()))?;
    match rule.toy_refusal() {
        None => Ok(rule),
        Some(reason) => Err(ToyError::Unsupported {
            rule: rule.key(),
            reason: reason.to_string(),
        }),
    }
}

/// Settings of one toy run. Missing fields take their [`Default`] values when deserialised.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ToyConfig {
    /// The weighting rule (one the toy can run: see [`toy_rules`]).
    pub rule: Strategy,
    /// `L_i(0)`, one per task, each finite and > 0; its length is the number of tasks `T`.
    pub start_losses: Vec<f64>,
    /// `L_i*`, each finite, ≥ 0 and < the task's start loss.
    pub floors: Vec<f64>,
    /// Learnabilities `κ_i` in `(0, 1]`.
    pub rates: Vec<f64>,
    /// Learning rate `η` of the rule's own parameters (`proposed`, `naive`, `uncertainty`).
    pub lr: f64,
    /// Number of steps; the run has `steps + 1` rows.
    pub steps: usize,
    /// `None`: unbounded `softmax(a)`. `Some(s)`: the authors' `softmax(s·a/‖a‖)` (proposed, naive).
    pub scale: Option<f64>,
    /// Weights for the `static` rule (normalised to sum 1; ignored by the other rules).
    pub static_weights: Vec<f64>,
    /// Seed of the `rlw` draws.
    pub seed: u64,
    /// Temperature `τ` of `dwa` (default 2).
    pub dwa_temperature: f64,
}

impl Default for ToyConfig {
    fn default() -> Self {
        ToyConfig {
            rule: Strategy::PROPOSED,
            start_losses: vec![2.0, 1.0, 0.5],
            floors: vec![0.1, 0.1, 0.1],
            rates: vec![0.05, 0.2, 0.5],
            lr: 1.0,
            steps: 200,
            scale: None,
            static_weights: Vec::new(),
            seed: 0,
            dwa_temperature: 2.0,
        }
    }
}

fn task_field(name: &str, i: usize) -> String {
    format!("{name}[{i}] (task {})", i + 1)
}

impl ToyConfig {
    /// Number of tasks (the length of [`ToyConfig::start_losses`]).
    pub fn tasks(&self) -> usize {
        self.start_losses.len()
    }

    /// Checks every setting; the error names the field (and the task index where relevant).
    ///
    /// `static_weights` is checked only for the `static` rule and `dwa_temperature` only for `dwa`;
    /// `scale`, when set, is always checked.
    pub fn validate(&self) -> Result<(), ToyError> {
        let t = self.tasks();
        if !(MIN_TASKS..=MAX_TASKS).contains(&t) {
            return Err(invalid(
                "start_losses",
                format!("needs between {MIN_TASKS} and {MAX_TASKS} tasks, got {t}"),
            ));
        }
        for (name, list) in [("floors", &self.floors), ("rates", &self.rates)] {
            if list.len() != t {
                return Err(invalid(
                    name,
                    format!(
                        "has {} values but start_losses has {t} (one per task)",
                        list.len()
                    ),
                ));
            }
        }
        for (i, &l0) in self.start_losses.iter().enumerate() {
            if !l0.is_finite() || l0 <= 0.0 {
                return Err(invalid(
                    task_field("start_losses", i),
                    format!("is {l0}; a start loss must be finite and > 0"),
                ));
            }
        }
        for (i, (&floor, &l0)) in self.floors.iter().zip(&self.start_losses).enumerate() {
            if !floor.is_finite() || floor < 0.0 {
                return Err(invalid(
                    task_field("floors", i),
                    format!("is {floor}; a floor must be finite and >= 0"),
                ));
            }
            if floor >= l0 {
                return Err(invalid(
                    task_field("floors", i),
                    format!("is {floor}; a floor must be below the task's start loss {l0}"),
                ));
            }
        }
        for (i, &rate) in self.rates.iter().enumerate() {
            if !rate.is_finite() || rate <= 0.0 || rate > 1.0 {
                return Err(invalid(
                    task_field("rates", i),
                    format!("is {rate}; a learnability must lie in (0, 1]"),
                ));
            }
        }
        if !self.lr.is_finite() || self.lr <= 0.0 {
            return Err(invalid(
                "lr",
                format!("is {}; the learning rate must be finite and > 0", self.lr),
            ));
        }
        if self.steps > MAX_STEPS {
            return Err(invalid(
                "steps",
                format!("is {}; at most {MAX_STEPS} steps", self.steps),
            ));
        }
        if let Some(s) = self.scale
            && (!s.is_finite() || s <= 0.0)
        {
            return Err(invalid(
                "scale",
                format!(
                    "is {s}; the bounded-form scale must be finite and > 0 (or unset for the unbounded form)"
                ),
            ));
        }
        if let Some(reason) = self.rule.toy_refusal() {
            return Err(ToyError::Unsupported {
                rule: self.rule.key(),
                reason: reason.to_string(),
            });
        }
        if self.rule == Strategy::STATIC {
            static_weights(&self.static_weights, t)?;
        }
        if self.rule == Strategy::DWA
            && (!self.dwa_temperature.is_finite() || self.dwa_temperature <= 0.0)
        {
            return Err(invalid(
                "dwa_temperature",
                format!(
                    "is {}; the DWA temperature must be finite and > 0",
                    self.dwa_temperature
                ),
            ));
        }
        Ok(())
    }
}

/// Checks and normalises the `static` rule's weights.
fn static_weights(weights: &[f64], tasks: usize) -> Result<Vec<f64>, ToyError> {
    if weights.len() != tasks {
        return Err(invalid(
            "static_weights",
            format!(
                "has {} values but there are {tasks} tasks (the static rule needs one weight per task)",
                weights.len()
            ),
        ));
    }
    for (i, &w) in weights.iter().enumerate() {
        if !w.is_finite() || w < 0.0 {
            return Err(invalid(
                task_field("static_weights", i),
                format!("is {w}; a static weight must be finite and >= 0"),
            ));
        }
    }
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 || !sum.is_finite() {
        return Err(invalid(
            "static_weights",
            "are all zero (or their sum is not finite); at least one weight must be > 0",
        ));
    }
    Ok(weights.iter().map(|w| w / sum).collect())
}

/// One row of a toy run: the weights of step `step` and the losses at that step (before moving).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToyRow {
    /// The step `t` (row 0 is the starting state).
    pub step: usize,
    /// `w(t)`, summing to 1.
    pub weights: Vec<f64>,
    /// `L(t)`.
    pub losses: Vec<f64>,
}

/// Runs the toy and returns `steps + 1` rows (row 0 = the starting state). See the module docs for
/// the order of one step.
pub fn simulate(cfg: &ToyConfig) -> Result<Vec<ToyRow>, ToyError> {
    cfg.validate()?;
    let mut rule = host_rule(cfg)?;
    let mut losses = cfg.start_losses.clone();
    let mut rows = Vec::with_capacity(cfg.steps + 1);
    for step in 0..=cfg.steps {
        // (1) weights w(t) from the rule's current state.
        let weights = rule
            .weights(&HostView {
                step,
                losses: &losses,
                gram: None,
            })
            .map_err(|reason| ToyError::Unsupported {
                rule: cfg.rule.key(),
                reason,
            })?;
        if weights.iter().chain(&losses).any(|x| !x.is_finite()) {
            return Err(ToyError::Diverged {
                rule: cfg.rule.key(),
                step,
            });
        }
        // (2) record row t.
        rows.push(ToyRow {
            step,
            weights: weights.clone(),
            losses: losses.clone(),
        });
        if step == cfg.steps {
            break;
        }
        // (3) losses move with w(t).
        let next: Vec<f64> = losses
            .iter()
            .zip(&cfg.floors)
            .zip(&cfg.rates)
            .zip(&weights)
            .map(|(((l, floor), rate), w)| floor + (l - floor) * (1.0 - rate * w))
            .collect();
        // (4) the rule's state is updated with L(t), the loss it saw this step.
        rule.observe(&losses);
        losses = next;
    }
    Ok(rows)
}

/// The rule's host form, built from its registry entry.
fn host_rule(cfg: &ToyConfig) -> Result<Box<dyn super::host::HostRule>, ToyError> {
    let tasks = cfg.tasks();
    let setup = HostSetup {
        tasks,
        seed: cfg.seed,
        lr: cfg.lr,
        scale: cfg.scale,
        static_weights: if cfg.rule == Strategy::STATIC {
            static_weights(&cfg.static_weights, tasks)?
        } else {
            Vec::new()
        },
        dwa_temperature: cfg.dwa_temperature,
        cagrad_c: 0.4,
    };
    let unsupported = |reason: String| ToyError::Unsupported {
        rule: cfg.rule.key(),
        reason,
    };
    super::host_rule(cfg.rule, &setup).map_err(unsupported)
}

/// CSV with header `step,w1,…,wT,loss1,…,lossT` and one line per row; numbers are written with 9
/// decimals (`{:.9}`), enough to round-trip an `f32` in the range the toy produces. No rows: just
/// `step`.
pub fn to_csv(rows: &[ToyRow]) -> String {
    let t = rows.first().map_or(0, |r| r.weights.len());
    let mut out = String::from("step");
    for i in 1..=t {
        out.push_str(&format!(",w{i}"));
    }
    for i in 1..=t {
        out.push_str(&format!(",loss{i}"));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&row.step.to_string());
        for x in row.weights.iter().chain(&row.losses) {
            out.push_str(&format!(",{x:.9}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::weighting::math::{naive_gradient, proposed_gradient};

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn rule(key: &str) -> Strategy {
        Strategy::parse(key).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn assert_vec_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w, tol), "{got:?} vs {want:?}");
        }
    }

    fn two_task(rule: Strategy, steps: usize) -> ToyConfig {
        ToyConfig {
            rule,
            start_losses: vec![2.0, 1.0],
            floors: vec![0.0, 0.0],
            rates: vec![0.5, 0.5],
            lr: 1.0,
            steps,
            ..ToyConfig::default()
        }
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    // Two tasks: with w = softmax(a), ∂F/∂a_1 = w1·(c1 − w1·c1 − w2·c2) = w1·w2·(c1 − c2) and
    // ∂F/∂a_2 = −∂F/∂a_1; w1 = sigmoid(a1 − a2). L=(2,1), κ=(0.5,0.5), floors 0, η=1.
    #[test]
    fn proposed_two_tasks_by_hand() {
        let rows = simulate(&two_task(rule("proposed"), 3)).unwrap();
        assert_eq!(rows.len(), 4);
        // Row 0: a = 0 → w = (0.5, 0.5); L = (2, 1).
        assert_vec_close(&rows[0].weights, &[0.5, 0.5], 1e-12);
        assert_vec_close(&rows[0].losses, &[2.0, 1.0], 1e-12);
        // Step 0: L(1) = L(0)·(1 − 0.5·0.5) = (1.5, 0.75).
        // c = (1/2.01, 1/1.01) = (0.497512438, 0.990099010); c1 − c2 = −0.492586572;
        // g1 = 0.25·(−0.492586572) = −0.123146643 → a(1) = (0.123146643, −0.123146643).
        // w1(1) = sigmoid(0.246293286) = 0.561263943.
        let g0 = 0.25 * (1.0 / 2.01 - 1.0 / 1.01);
        assert!(close(g0, -0.123_146_643, 1e-9));
        let a1 = -g0;
        assert!(close(sigmoid(2.0 * a1), 0.561_263_943, 1e-9));
        assert_vec_close(&rows[1].weights, &[0.561_263_943, 0.438_736_057], 1e-9);
        assert_vec_close(&rows[1].losses, &[1.5, 0.75], 1e-12);
        // Step 1: L(2) = (1.5·(1 − 0.5·0.561263943), 0.75·(1 − 0.5·0.438736057))
        //             = (1.079052043, 0.585473979).
        // c = (1/1.51, 1/0.76) = (0.662251656, 1.315789474); c1 − c2 = −0.653537818;
        // g1 = 0.561263943·0.438736057·(−0.653537818) = −0.160931550
        // → a(2) = (0.284078193, −0.284078193), w1(2) = sigmoid(0.568156386) = 0.638337662.
        let w1 = 0.561_263_943;
        let g1 = w1 * (1.0 - w1) * (1.0 / 1.51 - 1.0 / 0.76);
        assert!(close(g1, -0.160_931_550, 1e-8));
        assert!(close(sigmoid(2.0 * (a1 - g1)), 0.638_337_662, 1e-8));
        assert_vec_close(&rows[2].weights, &[0.638_337_662, 0.361_662_338], 1e-8);
        assert_vec_close(&rows[2].losses, &[1.079_052_043, 0.585_473_979], 1e-8);
        // Step 2 (losses only): L(3) = (1.079052043·(1 − 0.319168831), 0.585473979·(1 − 0.180831169)).
        assert_vec_close(
            &rows[3].losses,
            &[
                1.079_052_043 * (1.0 - 0.5 * 0.638_337_662),
                0.585_473_979 * (1.0 - 0.5 * 0.361_662_338),
            ],
            1e-8,
        );
    }

    #[test]
    fn naive_two_tasks_by_hand() {
        let rows = simulate(&two_task(rule("naive"), 2)).unwrap();
        assert_eq!(rows.len(), 3);
        assert_vec_close(&rows[0].weights, &[0.5, 0.5], 1e-12);
        // Step 0: c = L = (2, 1); g1 = 0.25·(2 − 1) = 0.25 → a(1) = (−0.25, 0.25);
        // w1(1) = sigmoid(−0.5) = 0.377540669; L(1) = (1.5, 0.75).
        assert_vec_close(&rows[1].weights, &[0.377_540_669, 0.622_459_331], 1e-9);
        assert_vec_close(&rows[1].losses, &[1.5, 0.75], 1e-12);
        // Step 1: g1 = 0.377540669·0.622459331·(1.5 − 0.75) = 0.176252784 → a1(2) = −0.426252784;
        // w1(2) = sigmoid(−0.852505568) = 0.298907522;
        // L(2) = (1.5·(1 − 0.188770334), 0.75·(1 − 0.311229666)) = (1.216844498, 0.516577751).
        let g1: f64 = 0.377_540_669 * 0.622_459_331 * 0.75;
        assert!(close(g1, 0.176_252_784, 1e-8));
        assert!(close(sigmoid(-2.0 * (0.25 + g1)), 0.298_907_522, 1e-8));
        assert_vec_close(&rows[2].weights, &[0.298_907_522, 0.701_092_478], 1e-8);
        assert_vec_close(&rows[2].losses, &[1.216_844_498, 0.516_577_751], 1e-8);
    }

    #[test]
    fn proposed_raises_and_naive_lowers_the_larger_loss_weight() {
        for (rule, raises) in [(rule("proposed"), true), (rule("naive"), false)] {
            let cfg = ToyConfig {
                rule,
                steps: 1,
                ..ToyConfig::default()
            };
            let rows = simulate(&cfg).unwrap();
            // Task 1 has the largest loss (2).
            let before = rows[0].weights[0];
            let after = rows[1].weights[0];
            assert!(close(before, 1.0 / 3.0, 1e-12));
            assert_eq!(after > before, raises, "{rule}: {before} → {after}");
            // And the smallest-loss task 3 moves the other way.
            assert_eq!(rows[1].weights[2] < 1.0 / 3.0, raises);
        }
        // The one-step gradients agree in sign with that.
        let w = [0.5, 0.5];
        assert!(proposed_gradient(&w, &[2.0, 1.0])[0] < 0.0);
        assert!(naive_gradient(&w, &[2.0, 1.0])[0] > 0.0);
    }

    #[test]
    fn bounds_match_the_reference_values() {
        let cases = [
            (0.5, 0.213, 0.480),
            (1.0, 0.128, 0.630),
            (2.0, 0.041, 0.853),
        ];
        for (s, lo, hi) in cases {
            let (min, max) = weight_bounds(3, s);
            assert!(close(min, lo, 5e-4), "s={s}: min {min}");
            assert!(close(max, hi, 5e-4), "s={s}: max {max}");
            assert_eq!(format!("{min:.3}"), format!("{lo:.3}"));
            assert_eq!(format!("{max:.3}"), format!("{hi:.3}"));
        }
        // The extremal direction attains them, and random unit directions never exceed them.
        let u = [2.0, -1.0, -1.0];
        let w = logit_weights(&u, Some(1.0));
        assert!(close(w[0], weight_bounds(3, 1.0).1, 1e-12));
        let w = logit_weights(&[-2.0, 1.0, 1.0], Some(1.0));
        assert!(close(w[0], weight_bounds(3, 1.0).0, 1e-12));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for tasks in 2..=5 {
            let (min, max) = weight_bounds(tasks, 1.5);
            for _ in 0..2000 {
                let a: Vec<f64> = (0..tasks)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                for w in logit_weights(&a, Some(1.5)) {
                    assert!(w >= min - 1e-12 && w <= max + 1e-12);
                }
            }
        }
        assert_eq!(weight_bounds(1, 1.0), (1.0, 1.0));
        let (min, max) = weight_bounds(4, 0.0);
        assert!(close(min, 0.25, 1e-12) && close(max, 0.25, 1e-12));
    }

    #[test]
    fn bounded_gradient_matches_finite_differences() {
        let objective = |a: &[f64], s: f64, c: &[f64]| -> f64 {
            logit_weights(a, Some(s))
                .iter()
                .zip(c)
                .map(|(w, c)| w * c)
                .sum()
        };
        let cases: [(&[f64], f64, &[f64]); 3] = [
            (&[0.3, -0.2, 0.7], 1.0, &[0.5, 1.2, 3.0]),
            (&[1.5, 0.1, -0.4, 2.0], 2.0, &[2.0, 0.1, 0.7, 1.1]),
            (&[-0.05, 0.02], 0.5, &[1.0, 4.0]),
        ];
        let h = 1e-6;
        for (a, s, c) in cases {
            let g = logit_gradient(a, Some(s), c);
            // Moving along a does not change u, so the gradient is orthogonal to a.
            let dot: f64 = g.iter().zip(a).map(|(g, a)| g * a).sum();
            assert!(dot.abs() < 1e-12, "{dot}");
            for j in 0..a.len() {
                let mut plus = a.to_vec();
                let mut minus = a.to_vec();
                plus[j] += h;
                minus[j] -= h;
                let fd = (objective(&plus, s, c) - objective(&minus, s, c)) / (2.0 * h);
                assert!(close(fd, g[j], 1e-6), "j={j}: fd {fd} vs {}", g[j]);
            }
        }
        // At a = 0 the bounded form takes the unbounded gradient so that a can leave 0.
        let c = [1.0, 2.0, 4.0];
        assert_vec_close(
            &logit_gradient(&[0.0; 3], Some(1.0), &c),
            &logit_gradient(&[0.0; 3], None, &c),
            0.0,
        );
    }

    #[test]
    fn bounded_run_stays_within_bounds() {
        for rule in [rule("proposed"), rule("naive")] {
            let cfg = ToyConfig {
                rule,
                scale: Some(0.5),
                steps: 500,
                lr: 5.0,
                ..ToyConfig::default()
            };
            let (min, max) = weight_bounds(3, 0.5);
            let rows = simulate(&cfg).unwrap();
            assert_eq!(rows.len(), 501);
            for row in &rows {
                for &w in &row.weights {
                    assert!(w >= min - 1e-12 && w <= max + 1e-12, "{rule}: {w}");
                }
            }
            // It gets close to a bound: proposed favours the slow task 1 (weight → max), naive
            // starves it (weight → min).
            let w1 = rows[500].weights[0];
            if rule.key() == "proposed" {
                assert!(w1 > max - 0.01, "{rule}: {w1}");
            } else {
                assert!(w1 < min + 0.01, "{rule}: {w1}");
            }
        }
    }

    #[test]
    fn uncertainty_first_weights_by_hand() {
        let rows = simulate(&two_task(rule("uncertainty"), 2)).unwrap();
        // s = 0 → 1/(2·e^0) = 0.5 each → (0.5, 0.5).
        assert_vec_close(&rows[0].weights, &[0.5, 0.5], 1e-12);
        // ∂/∂s_i = ½ − L_i·e^{−s_i}/2 = (½ − 1, ½ − ½) = (−0.5, 0) → s(1) = (0.5, 0).
        // Weights 1/(2e^{0.5}) = 0.303265330 and 1/2 → normalised
        // (0.303265330/0.803265330, 0.5/0.803265330) = (0.377540669, 0.622459331).
        let w1 = 0.5 * (-0.5f64).exp() / (0.5 * (-0.5f64).exp() + 0.5);
        assert!(close(w1, 0.377_540_669, 1e-9));
        assert_vec_close(&rows[1].weights, &[w1, 1.0 - w1], 1e-12);
    }

    #[test]
    fn dwa_first_weights_by_hand() {
        let cfg = ToyConfig {
            rule: rule("dwa"),
            rates: vec![0.2, 0.8],
            ..two_task(rule("dwa"), 3)
        };
        let rows = simulate(&cfg).unwrap();
        // Steps 0 and 1: equal. L(1) = (2·(1 − 0.1), 1·(1 − 0.4)) = (1.8, 0.6).
        assert_vec_close(&rows[0].weights, &[0.5, 0.5], 0.0);
        assert_vec_close(&rows[1].weights, &[0.5, 0.5], 0.0);
        assert_vec_close(&rows[1].losses, &[1.8, 0.6], 1e-12);
        // Step 2: r = L(1)/L(0) = (0.9, 0.6); softmax(r/2) = softmax(0.45, 0.30):
        // w1 = sigmoid(0.15) = 0.537429845 — the slower task gets more weight.
        assert_vec_close(&rows[2].weights, &[0.537_429_845, 0.462_570_155], 1e-9);
        // Step 3: L(2) = (1.8·0.9, 0.6·0.6) = (1.62, 0.36); r = (0.9, 0.6) again.
        assert_vec_close(&rows[3].weights, &[0.537_429_845, 0.462_570_155], 1e-9);
    }

    #[test]
    fn geometric_first_weights_by_hand() {
        let rows = simulate(&two_task(rule("geometric"), 1)).unwrap();
        // (Π L)^(1/2) = √2; ∂/∂L_i = √2/(2·L_i) = (0.353553, 0.707107) → normalised (1/3, 2/3).
        assert_vec_close(&rows[0].weights, &[1.0 / 3.0, 2.0 / 3.0], 1e-12);
        // L(1) = (2·(1 − 1/6), 1·(1 − 1/3)) = (5/3, 2/3) → w ∝ (3/5, 3/2) → (2/7, 5/7).
        assert_vec_close(&rows[1].losses, &[5.0 / 3.0, 2.0 / 3.0], 1e-12);
        assert_vec_close(&rows[1].weights, &[2.0 / 7.0, 5.0 / 7.0], 1e-12);
        // A floor of exactly 0 reached with κ = 1 does not divide by zero.
        let crate::weighting::HostSupport::Runs(build) = rule("geometric").spec().host else {
            panic!("geometric runs in the toy");
        };
        let setup = HostSetup {
            tasks: 2,
            seed: 0,
            lr: 1.0,
            scale: None,
            static_weights: Vec::new(),
            dwa_temperature: 2.0,
            cagrad_c: 0.4,
        };
        let w = build(&setup)
            .unwrap()
            .weights(&HostView {
                step: 0,
                losses: &[0.0, 1.0],
                gram: None,
            })
            .unwrap();
        assert!(w.iter().all(|x| x.is_finite()), "{w:?}");
    }

    #[test]
    fn equal_and_static_weights() {
        let rows = simulate(&two_task(rule("equal"), 2)).unwrap();
        assert!(rows.iter().all(|r| r.weights == vec![0.5, 0.5]));
        let cfg = ToyConfig {
            static_weights: vec![3.0, 1.0],
            ..two_task(rule("static"), 1)
        };
        let rows = simulate(&cfg).unwrap();
        assert_vec_close(&rows[0].weights, &[0.75, 0.25], 1e-12);
        // L(1) = (2·(1 − 0.375), 1·(1 − 0.125)).
        assert_vec_close(&rows[1].losses, &[1.25, 0.875], 1e-12);
    }

    #[test]
    fn rlw_is_deterministic_for_a_seed() {
        let cfg = ToyConfig {
            rule: rule("rlw"),
            steps: 20,
            seed: 42,
            ..ToyConfig::default()
        };
        let a = simulate(&cfg).unwrap();
        let b = simulate(&cfg).unwrap();
        assert_eq!(a, b);
        let c = simulate(&ToyConfig { seed: 43, ..cfg }).unwrap();
        assert_ne!(a[0].weights, c[0].weights);
        // Weights vary from step to step and always sum to 1.
        assert_ne!(a[0].weights, a[1].weights);
        for row in &a {
            assert!(close(row.weights.iter().sum(), 1.0, 1e-12));
        }
    }

    #[test]
    fn every_rule_runs_and_losses_stay_between_floor_and_start() {
        for rule in toy_rules() {
            let cfg = ToyConfig {
                rule,
                static_weights: vec![1.0, 2.0, 3.0],
                ..ToyConfig::default()
            };
            let rows = simulate(&cfg).unwrap();
            assert_eq!(rows.len(), 201);
            for (t, row) in rows.iter().enumerate() {
                assert_eq!(row.step, t);
                assert!(close(row.weights.iter().sum(), 1.0, 1e-9), "{rule}");
                for i in 0..3 {
                    assert!(row.losses[i] >= cfg.floors[i] && row.losses[i] <= cfg.start_losses[i]);
                }
                if t > 0 {
                    for i in 0..3 {
                        assert!(row.losses[i] <= rows[t - 1].losses[i], "{rule}");
                    }
                }
            }
        }
    }

    #[test]
    fn csv_header_and_rows() {
        let cfg = ToyConfig {
            steps: 5,
            ..ToyConfig::default()
        };
        let rows = simulate(&cfg).unwrap();
        let csv = to_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "step,w1,w2,w3,loss1,loss2,loss3");
        assert_eq!(lines.len(), 1 + 6);
        assert_eq!(
            lines[1],
            "0,0.333333333,0.333333333,0.333333333,2.000000000,1.000000000,0.500000000"
        );
        assert!(lines[6].starts_with("5,"));
        assert!(lines.iter().all(|l| l.split(',').count() == 7));
        assert_eq!(to_csv(&[]), "step\n");
    }

    #[test]
    fn validation_messages_name_the_field() {
        let msg = |cfg: ToyConfig| cfg.validate().unwrap_err().to_string();
        let d = ToyConfig::default;
        assert!(d().validate().is_ok());
        let m = msg(ToyConfig {
            start_losses: vec![1.0],
            floors: vec![0.0],
            rates: vec![0.5],
            ..d()
        });
        assert!(
            m.contains("start_losses") && m.contains("between 2 and 8") && m.contains("got 1"),
            "{m}"
        );
        let m = msg(ToyConfig {
            start_losses: vec![1.0; 9],
            ..d()
        });
        assert!(m.contains("got 9"), "{m}");
        let m = msg(ToyConfig {
            floors: vec![0.1, 0.1],
            ..d()
        });
        assert!(
            m.contains("floors") && m.contains("2 values") && m.contains("has 3"),
            "{m}"
        );
        let m = msg(ToyConfig {
            rates: vec![0.1; 4],
            ..d()
        });
        assert!(m.contains("rates") && m.contains("4 values"), "{m}");
        let m = msg(ToyConfig {
            start_losses: vec![2.0, f64::NAN, 0.5],
            ..d()
        });
        assert!(
            m.contains("start_losses[1] (task 2)") && m.contains("finite"),
            "{m}"
        );
        let m = msg(ToyConfig {
            start_losses: vec![2.0, 1.0, 0.0],
            ..d()
        });
        assert!(m.contains("start_losses[2] (task 3)"), "{m}");
        let m = msg(ToyConfig {
            floors: vec![0.1, 1.0, 0.1],
            ..d()
        });
        assert!(
            m.contains("floors[1] (task 2)") && m.contains("below"),
            "{m}"
        );
        let m = msg(ToyConfig {
            floors: vec![-0.1, 0.1, 0.1],
            ..d()
        });
        assert!(
            m.contains("floors[0] (task 1)") && m.contains(">= 0"),
            "{m}"
        );
        for bad in [0.0, 1.5, f64::INFINITY, -0.2] {
            let m = msg(ToyConfig {
                rates: vec![0.05, 0.2, bad],
                ..d()
            });
            assert!(
                m.contains("rates[2] (task 3)") && m.contains("(0, 1]"),
                "{m}"
            );
        }
        for bad in [0.0, -1.0, f64::NAN] {
            let m = msg(ToyConfig { lr: bad, ..d() });
            assert!(m.contains("`lr`"), "{m}");
        }
        for bad in [0.0, -1.0, f64::INFINITY] {
            let m = msg(ToyConfig {
                scale: Some(bad),
                ..d()
            });
            assert!(m.contains("`scale`") && m.contains("> 0"), "{m}");
        }
        let m = msg(ToyConfig {
            steps: MAX_STEPS + 1,
            ..d()
        });
        assert!(m.contains("`steps`"), "{m}");
        let stat = |w: Vec<f64>| {
            msg(ToyConfig {
                rule: rule("static"),
                static_weights: w,
                ..d()
            })
        };
        let m = stat(vec![]);
        assert!(
            m.contains("static_weights") && m.contains("0 values"),
            "{m}"
        );
        let m = stat(vec![1.0, -1.0, 1.0]);
        assert!(
            m.contains("static_weights[1] (task 2)") && m.contains(">= 0"),
            "{m}"
        );
        let m = stat(vec![0.0, 0.0, 0.0]);
        assert!(
            m.contains("static_weights") && m.contains("all zero"),
            "{m}"
        );
        // Static weights are not checked for other rules; the DWA temperature only for dwa.
        assert!(
            ToyConfig {
                static_weights: vec![-1.0],
                ..d()
            }
            .validate()
            .is_ok()
        );
        assert!(
            ToyConfig {
                dwa_temperature: 0.0,
                ..d()
            }
            .validate()
            .is_ok()
        );
        let m = msg(ToyConfig {
            rule: rule("dwa"),
            dwa_temperature: 0.0,
            ..d()
        });
        assert!(m.contains("dwa_temperature"), "{m}");
        // simulate refuses the same configs.
        assert!(simulate(&ToyConfig { lr: 0.0, ..d() }).is_err());
    }

    #[test]
    fn divergence_is_an_error_not_nan_rows() {
        let cfg = ToyConfig {
            rule: rule("uncertainty"),
            lr: 1e6,
            steps: 50,
            ..ToyConfig::default()
        };
        match simulate(&cfg) {
            Ok(rows) => {
                for row in rows {
                    assert!(row.weights.iter().chain(&row.losses).all(|x| x.is_finite()));
                }
            }
            Err(e) => assert!(
                matches!(
                    e,
                    ToyError::Diverged {
                        rule: "uncertainty",
                        ..
                    }
                ),
                "{e}"
            ),
        }
    }

    #[test]
    fn rule_names() {
        for rule in toy_rules() {
            assert_eq!(parse_rule(rule.key()).unwrap(), rule);
        }
        assert_eq!(parse_rule(" DWA ").unwrap(), rule("dwa"));
        let m = parse_rule("nonsense").unwrap_err().to_string();
        assert!(m.contains("nonsense") && m.contains("proposed"), "{m}");
        // A rule of the registry that needs a network says so, through the same list.
        let m = parse_rule("gradnorm").unwrap_err().to_string();
        assert!(m.contains("gradnorm") && m.contains("cannot run"), "{m}");
    }

    #[test]
    fn config_serde_defaults_and_rule_names() {
        let cfg: ToyConfig = serde_json::from_str(r#"{"rule":"naive","steps":10}"#).unwrap();
        assert_eq!(cfg.rule, rule("naive"));
        assert_eq!(cfg.steps, 10);
        assert_eq!(cfg.start_losses, vec![2.0, 1.0, 0.5]);
        assert_eq!(cfg.dwa_temperature, 2.0);
        let back: ToyConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }
}
