//! Adam as `torch.optim.Adam` with its defaults, and the path simulation the
//! toy figures are made of.
//!
//! The upstream toy scripts set `x.grad = d` for a combined direction
//! d = λ1 g1 + λ2 g2 and call `Adam.step()` with lr 1e-3 for 100,000 steps;
//! [`simulate`] does the same, with the combination rule plugged in as a
//! closure.

use std::convert::Infallible;
use std::fmt;

use super::functions::{Variant, losses_and_gradients};
use super::pareto::min_norm_weight;

/// Learning rate of the CAGrad toy.
pub const DEFAULT_LR: f64 = 1e-3;
/// Step count of the CAGrad toy.
pub const DEFAULT_STEPS: usize = 100_000;
/// torch.optim.Adam default β1.
pub const BETA1: f64 = 0.9;
/// torch.optim.Adam default β2.
pub const BETA2: f64 = 0.999;
/// torch.optim.Adam default ε (added after the bias-corrected square root).
pub const EPSILON: f64 = 1e-8;

/// Adam state for a two-parameter θ, following the arithmetic of torch's
/// single-tensor Adam (no weight decay, no amsgrad) so paths match it to
/// rounding.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f64,
    steps_taken: u64,
    first_moment: [f64; 2],
    second_moment: [f64; 2],
}

impl Adam {
    /// Fresh state with torch's default β1, β2 and ε.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            steps_taken: 0,
            first_moment: [0.0; 2],
            second_moment: [0.0; 2],
        }
    }

    /// Moves θ against `grad` by one bias-corrected Adam step.
    pub fn step(&mut self, theta: &mut [f64; 2], grad: [f64; 2]) {
        self.steps_taken += 1;
        let step = self.steps_taken as f64;
        let step_size = self.lr / (1.0 - BETA1.powf(step));
        let correction2_sqrt = (1.0 - BETA2.powf(step)).sqrt();
        for k in 0..2 {
            // torch: exp_avg.lerp_(grad, 1 − β1), i.e. m + w(g − m) for w < 0.5.
            let m = self.first_moment[k];
            self.first_moment[k] = m + (1.0 - BETA1) * (grad[k] - m);
            // torch: exp_avg_sq.mul_(β2).addcmul_(grad, grad, value = 1 − β2).
            self.second_moment[k] =
                self.second_moment[k] * BETA2 + (1.0 - BETA2) * grad[k] * grad[k];
            let denom = self.second_moment[k].sqrt() / correction2_sqrt + EPSILON;
            theta[k] += -step_size * (self.first_moment[k] / denom);
        }
    }
}

/// One recorded state of a simulated path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPoint {
    /// Optimiser steps taken before this state.
    pub step: usize,
    /// Parameters (x, y).
    pub theta: [f64; 2],
    /// Task losses at θ (scaled per the variant).
    pub losses: [f64; 2],
    /// The rule's coefficients λ at θ, as it returned them (d = λ1 g1 + λ2 g2); `None` for
    /// the final point (no step is taken from it).
    pub coefficients: Option<[f64; 2]>,
    /// The coefficients divided by their sum, for display; `None` for the final point or
    /// when the sum is 0.
    pub weights: Option<[f64; 2]>,
}

/// A simulated optimisation path: every `every`-th state, then the final one.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Recorded states in step order; the last is the state after all steps.
    pub points: Vec<PathPoint>,
}

impl Path {
    /// The state after the last step.
    pub fn last(&self) -> Option<&PathPoint> {
        self.points.last()
    }
}

/// Why a simulation stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum SimulateError<E> {
    /// `every` was 0, so no recording interval exists.
    ZeroRecordInterval,
    /// The combination rule failed at this step.
    Rule {
        /// Step at which the rule was called.
        step: usize,
        /// The rule's own error.
        source: E,
    },
    /// The rule returned coefficients that are NaN or infinite.
    NonFiniteWeights {
        /// Step at which it happened.
        step: usize,
        /// The offending coefficients.
        weights: [f64; 2],
    },
    /// θ left the finite numbers (a huge learning rate).
    Diverged {
        /// The first step whose θ is not finite.
        step: usize,
    },
}

impl<E: fmt::Display> fmt::Display for SimulateError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimulateError::ZeroRecordInterval => {
                write!(f, "recording interval `every` must be >= 1")
            }
            SimulateError::Rule { step, source } => {
                write!(f, "the rule failed at step {step}: {source}")
            }
            SimulateError::NonFiniteWeights { step, weights } => {
                write!(
                    f,
                    "the rule returned non-finite weights {weights:?} at step {step}"
                )
            }
            SimulateError::Diverged { step } => {
                write!(
                    f,
                    "θ is no longer finite at step {step} (try a smaller learning rate)"
                )
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for SimulateError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimulateError::Rule { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A combination rule: given the step, the losses and the two task gradients at θ, the
/// coefficients λ of the direction d = λ1 g1 + λ2 g2; after the step it sees the losses it
/// was given (rules with a state learn from them).
pub trait Combination {
    /// Why the rule has no answer.
    type Error;
    /// λ for this step.
    fn coefficients(
        &mut self,
        step: usize,
        losses: [f64; 2],
        grads: [[f64; 2]; 2],
    ) -> Result<[f64; 2], Self::Error>;
    /// After the step, with the losses it saw.
    fn observe(&mut self, _losses_seen: [f64; 2]) {}
}

/// A stateless rule given as a closure.
pub struct FnRule<F>(pub F);

impl<E, F> Combination for FnRule<F>
where
    F: FnMut(usize, [f64; 2], [[f64; 2]; 2]) -> Result<[f64; 2], E>,
{
    type Error = E;
    fn coefficients(
        &mut self,
        step: usize,
        losses: [f64; 2],
        grads: [[f64; 2]; 2],
    ) -> Result<[f64; 2], E> {
        (self.0)(step, losses, grads)
    }
}

/// Coefficients divided by their sum, or `None` when the sum is 0.
fn normalised(weights: [f64; 2]) -> Option<[f64; 2]> {
    let total = weights[0] + weights[1];
    (total != 0.0).then(|| weights.map(|w| w / total))
}

/// Runs Adam from `start` for `steps` steps along the rule's direction.
///
/// Records the state before steps 0, every, 2·every, … and the final state
/// (after `steps` steps), so a path always has at least one point.
pub fn simulate<C: Combination>(
    start: [f64; 2],
    steps: usize,
    lr: f64,
    variant: Variant,
    every: usize,
    rule: &mut C,
) -> Result<Path, SimulateError<C::Error>> {
    let (path, stopped) = simulate_until_stopped(start, steps, lr, variant, every, rule);
    match stopped {
        Some(e) => Err(e),
        None => Ok(path),
    }
}

/// As [`simulate`], but a rule that fails (or a θ that is no longer finite) ends the path
/// where it got to, its last point the state the rule could not step from, and says why.
pub fn simulate_until_stopped<C: Combination>(
    start: [f64; 2],
    steps: usize,
    lr: f64,
    variant: Variant,
    every: usize,
    rule: &mut C,
) -> (Path, Option<SimulateError<C::Error>>) {
    let mut points = Vec::with_capacity(steps / every.max(1) + 2);
    if every == 0 {
        return (Path { points }, Some(SimulateError::ZeroRecordInterval));
    }
    let mut optimiser = Adam::new(lr);
    let mut theta = start;
    let end_here = |points: &mut Vec<PathPoint>, step: usize, theta: [f64; 2]| {
        if theta.iter().all(|t| t.is_finite()) {
            let (losses, _) = losses_and_gradients(theta, variant);
            points.push(PathPoint {
                step,
                theta,
                losses,
                coefficients: None,
                weights: None,
            });
        }
    };
    for step in 0..steps {
        if !theta.iter().all(|t| t.is_finite()) {
            return (Path { points }, Some(SimulateError::Diverged { step }));
        }
        let (losses, grads) = losses_and_gradients(theta, variant);
        let weights = match rule.coefficients(step, losses, grads) {
            Ok(w) if w.iter().all(|x| x.is_finite()) => w,
            Ok(weights) => {
                end_here(&mut points, step, theta);
                return (
                    Path { points },
                    Some(SimulateError::NonFiniteWeights { step, weights }),
                );
            }
            Err(source) => {
                end_here(&mut points, step, theta);
                return (Path { points }, Some(SimulateError::Rule { step, source }));
            }
        };
        if step % every == 0 {
            points.push(PathPoint {
                step,
                theta,
                losses,
                coefficients: Some(weights),
                weights: normalised(weights),
            });
        }
        let direction = [0, 1].map(|k| weights[0] * grads[0][k] + weights[1] * grads[1][k]);
        optimiser.step(&mut theta, direction);
        rule.observe(losses);
    }
    if !theta.iter().all(|t| t.is_finite()) {
        return (
            Path { points },
            Some(SimulateError::Diverged { step: steps }),
        );
    }
    end_here(&mut points, steps, theta);
    (Path { points }, None)
}

/// Built-in rule for tests and baselines: equal weights, d = (g1 + g2)/2
/// (`mean_grad` of the CAGrad toy).
pub fn mean_rule(
    _step: usize,
    _losses: [f64; 2],
    _grads: [[f64; 2]; 2],
) -> Result<[f64; 2], Infallible> {
    Ok([0.5, 0.5])
}

/// Built-in rule for tests and baselines: two-task MGDA in closed form, the
/// min-norm point of the segment between g1 and g2. Unlike the CAGrad toy's
/// `mgd` it adds no 1e-8 to the denominator.
pub fn mgda_rule(
    _step: usize,
    _losses: [f64; 2],
    grads: [[f64; 2]; 2],
) -> Result<[f64; 2], Infallible> {
    let weight = min_norm_weight(grads[0], grads[1]);
    Ok([weight, 1.0 - weight])
}

#[cfg(test)]
mod tests {
    use super::super::pareto::{pareto_distance, stationarity};
    use super::super::reference::{
        FINALS, PATH_MEAN_A, PATH_MEAN_B, PATH_MEAN_SCALED_ORIGIN, PATH_MGDA_A, PATH_MGDA_A_LONG,
        PATH_MGDA_B,
    };
    use super::*;

    type BuiltIn = fn(usize, [f64; 2], [[f64; 2]; 2]) -> Result<[f64; 2], Infallible>;

    fn run(start: [f64; 2], steps: usize, variant: Variant, every: usize, rule: BuiltIn) -> Path {
        simulate(start, steps, DEFAULT_LR, variant, every, &mut FnRule(rule))
            .expect("built-in rules cannot fail")
    }

    /// Largest coordinate difference between our recorded θs and torch's.
    fn max_path_error(path: &Path, reference: &[[f64; 2]]) -> f64 {
        assert_eq!(path.points.len(), reference.len());
        path.points
            .iter()
            .zip(reference)
            .flat_map(|(point, want)| [0, 1].map(|k| (point.theta[k] - want[k]).abs()))
            .fold(0.0, f64::max)
    }

    #[test]
    fn two_thousand_step_paths_match_torch_adam() {
        let cases: [(&[[f64; 2]], BuiltIn, Variant); 5] = [
            (&PATH_MEAN_A, mean_rule, Variant::Cagrad),
            (&PATH_MGDA_A, mgda_rule, Variant::Cagrad),
            (&PATH_MEAN_B, mean_rule, Variant::Cagrad),
            (&PATH_MGDA_B, mgda_rule, Variant::Cagrad),
            (&PATH_MEAN_SCALED_ORIGIN, mean_rule, Variant::NASH_FAMO),
        ];
        for (reference, rule, variant) in cases {
            let path = run(reference[0], 2000, variant, 100, rule);
            let error = max_path_error(&path, reference);
            println!("2k path from {:?}: max |Δθ| {error:e}", reference[0]);
            assert!(error <= 1e-6, "{error}");
        }
    }

    /// 100,000-step end points are compared loosely: nudging λ1 by one ulp
    /// at every step moves them by 2e-6 to 9e-3 (examples/sensitivity.rs),
    /// because MGDA drifts freely along the Pareto set and Adam bounces
    /// chaotically in the log gorges; one-ulp tanh differences between libm
    /// and torch act the same way.
    const LONG_PATH_NOISE_ON_SET: f64 = 1e-3;
    /// The same noise floor for paths stuck in a log gorge (mean rule).
    const LONG_PATH_NOISE_IN_GORGE: f64 = 0.1;

    #[test]
    fn mgda_from_upper_left_ends_pareto_stationary() {
        let path = run(
            [-8.5, 7.5],
            DEFAULT_STEPS,
            Variant::Cagrad,
            DEFAULT_STEPS,
            mgda_rule,
        );
        let last = path.last().expect("a path has a final point");
        assert_eq!(last.step, DEFAULT_STEPS);
        let residual = stationarity(last.theta, Variant::Cagrad);
        let distance = pareto_distance(last.theta);
        let error = max_path_error(&path, &PATH_MGDA_A_LONG);
        println!(
            "MGDA 100k: {:?}, stationarity {residual:e}, distance {distance:e}, |Δθ| vs torch {error:e}",
            last.theta
        );
        assert!(residual < 1e-3, "{residual}");
        assert!(distance < 1e-6, "{distance}");
        // Achieved 4.9e-7; a one-ulp nudge per step moves this end by 1.9e-5.
        assert!(error <= 1e-4, "{error}");
    }

    #[test]
    fn long_paths_from_all_starts_agree_with_torch_up_to_rounding_noise() {
        for (start, mean_final, mgda_final) in FINALS {
            for (rule, want) in [(mean_rule as BuiltIn, mean_final), (mgda_rule, mgda_final)] {
                let path = run(start, DEFAULT_STEPS, Variant::Cagrad, DEFAULT_STEPS, rule);
                let got = path.last().expect("final point").theta;
                let error = (got[0] - want[0]).abs().max((got[1] - want[1]).abs());
                println!("100k from {start:?}: ours {got:?} torch {want:?} |Δθ| {error:e}");
                let reached_set = stationarity(want, Variant::Cagrad) < 1e-3;
                let ours_reached = stationarity(got, Variant::Cagrad) < 1e-3;
                assert_eq!(ours_reached, reached_set, "{start:?}");
                let noise = if reached_set {
                    LONG_PATH_NOISE_ON_SET
                } else {
                    LONG_PATH_NOISE_IN_GORGE
                };
                assert!(error <= noise, "{start:?}: {error}");
            }
        }
    }

    #[test]
    fn mean_rule_gets_stuck_in_a_gorge_from_the_upper_corners() {
        for start in [[-8.5, 7.5], [9.0, 9.0]] {
            let path = run(
                start,
                DEFAULT_STEPS,
                Variant::Cagrad,
                DEFAULT_STEPS,
                mean_rule,
            );
            let end = path.last().expect("final point").theta;
            assert!(pareto_distance(end) > 5.0, "{start:?} ended at {end:?}");
        }
    }

    #[test]
    fn records_every_nth_state_and_the_final_one() {
        let path = run([9.0, 9.0], 10, Variant::Cagrad, 4, mgda_rule);
        let steps: Vec<usize> = path.points.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 4, 8, 10]);
        assert_eq!(path.points[0].theta, [9.0, 9.0]);
        assert_eq!(path.points[3].weights, None);
        for point in &path.points[..3] {
            let weights = point.weights.expect("interior points carry weights");
            assert!((weights[0] + weights[1] - 1.0).abs() < 1e-15);
        }
        let no_steps = run([1.0, -1.0], 0, Variant::Cagrad, 1, mean_rule);
        assert_eq!(no_steps.points.len(), 1);
    }

    /// The mean rule, but `message` at step `failing_step`.
    fn fails_at(
        failing_step: usize,
        message: &'static str,
    ) -> impl Combination<Error = &'static str> {
        FnRule(move |step: usize, _: [f64; 2], _: [[f64; 2]; 2]| {
            if step == failing_step {
                Err(message)
            } else {
                Ok([0.5, 0.5])
            }
        })
    }

    #[test]
    fn a_failing_rule_leaves_its_path_up_to_the_step_it_failed() {
        let mut failing = fails_at(25, "no answer");
        let (path, stopped) = simulate_until_stopped(
            [9.0, 9.0],
            100,
            DEFAULT_LR,
            Variant::Cagrad,
            10,
            &mut failing,
        );
        assert_eq!(
            stopped,
            Some(SimulateError::Rule {
                step: 25,
                source: "no answer"
            })
        );
        let steps: Vec<usize> = path.points.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 10, 20, 25]);
        assert_eq!(path.points[3].coefficients, None);
    }

    #[test]
    fn first_adam_step_moves_each_coordinate_by_lr() {
        let mut optimiser = Adam::new(0.01);
        let mut theta = [1.0, -2.0];
        optimiser.step(&mut theta, [3.0, -0.5]);
        assert!(
            (theta[0] - 0.99).abs() < 1e-9 && (theta[1] - -1.99).abs() < 1e-9,
            "{theta:?}"
        );
    }

    #[test]
    fn rule_failures_and_bad_settings_are_reported() {
        let mut failing = fails_at(3, "solver diverged");
        let error = simulate([0.0, 1.0], 10, DEFAULT_LR, Variant::Cagrad, 1, &mut failing);
        assert_eq!(
            error,
            Err(SimulateError::Rule {
                step: 3,
                source: "solver diverged"
            })
        );
        let mut nan_rule =
            FnRule(|_: usize, _: [f64; 2], _: [[f64; 2]; 2]| Ok::<_, Infallible>([f64::NAN, 1.0]));
        let error = simulate(
            [0.0, 1.0],
            10,
            DEFAULT_LR,
            Variant::Cagrad,
            1,
            &mut nan_rule,
        );
        assert!(matches!(
            error,
            Err(SimulateError::NonFiniteWeights { step: 0, .. })
        ));
        let mut rule = FnRule(mean_rule);
        let error = simulate([0.0, 1.0], 10, DEFAULT_LR, Variant::Cagrad, 0, &mut rule);
        assert_eq!(error, Err(SimulateError::ZeroRecordInterval));
    }
}
