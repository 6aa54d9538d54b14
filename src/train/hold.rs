//! Holding a task's weight: for some steps (a `--hold TASK:VALUE@FROM-TO`, or for as long as
//! the window's user holds it) one task's weight is fixed at a value, and the rule decides the
//! others under that constraint: they keep the ratio the rule gave them and share what is left,
//! 1 − the held values. On release the rule takes over again.
//!
//! What holding means for the network: the held weights are **constants** for those steps. A
//! rule whose weights carry gradients (naive's Ψ, trained through w in the network's own loss;
//! proposed's network weights when w reaches the trunk) gets none through w while held, so
//! naive's Ψ stands still and continues from there on release; proposed's Ψ keeps learning from
//! its own objective L4, which the hold does not touch. For the rules that combine gradients,
//! the held value is the share of the trunk's update d = Σ λ_i g_i (the λ keep their sum), and
//! each branch still gets its own task's gradient.

use serde::{Deserialize, Serialize};

use crate::task::{TASKS, Task};
use crate::weighting::{WeightPlan, constant, to_array};

/// A task's weight held at `value` from step `from_step` to step `to_step` (1-based, both
/// included: the metrics rows with those steps show it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightHold {
    pub task: Task,
    pub value: f64,
    pub from_step: u64,
    pub to_step: u64,
}

impl WeightHold {
    pub fn covers(&self, step: u64) -> bool {
        (self.from_step..=self.to_step).contains(&step)
    }

    /// `task:value@from-to`, as `--hold` reads it.
    pub fn text(&self) -> String {
        format!(
            "{}:{}@{}-{}",
            self.task.key(),
            self.value,
            self.from_step,
            self.to_step
        )
    }
}

const USAGE: &str = "expected TASK:VALUE@FROM-TO with TASK verif|visual|cari, VALUE in [0, 1] and steps FROM ≤ TO, e.g. cari:0.6@100-200";

impl std::str::FromStr for WeightHold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (task_value, steps) = text
            .split_once('@')
            .ok_or_else(|| format!("'{text}': missing '@FROM-TO'; {USAGE}"))?;
        let (task, value) = task_value
            .split_once(':')
            .ok_or_else(|| format!("'{text}': missing ':VALUE'; {USAGE}"))?;
        let task =
            Task::parse(task).ok_or_else(|| format!("'{text}': unknown task '{task}'; {USAGE}"))?;
        let value: f64 = value
            .parse()
            .map_err(|_| format!("'{text}': '{value}' is not a number; {USAGE}"))?;
        let (from, to) = steps
            .split_once('-')
            .ok_or_else(|| format!("'{text}': missing '-TO'; {USAGE}"))?;
        let step = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("'{text}': step '{s}' is not a whole number; {USAGE}"))
        };
        let hold = WeightHold {
            task,
            value,
            from_step: step(from)?,
            to_step: step(to)?,
        };
        hold.check().map_err(|e| format!("'{text}': {e}"))?;
        Ok(hold)
    }
}

impl WeightHold {
    fn check(&self) -> Result<(), String> {
        if !(self.value.is_finite() && (0.0..=1.0).contains(&self.value)) {
            return Err(format!("the value {} must lie in [0, 1]", self.value));
        }
        if self.from_step == 0 {
            return Err("steps count from 1".into());
        }
        if self.from_step > self.to_step {
            return Err(format!(
                "the hold starts at step {} after it ends at {}",
                self.from_step, self.to_step
            ));
        }
        Ok(())
    }
}

/// Whether weights held together can be met: each in [0, 1], together at most 1, exactly 1
/// when every task is held.
pub fn check_held(held: [Option<f64>; TASKS]) -> Result<(), String> {
    let values: Vec<f64> = held.iter().flatten().copied().collect();
    if let Some(v) = values
        .iter()
        .find(|v| !(v.is_finite() && (0.0..=1.0).contains(*v)))
    {
        return Err(format!("a held weight of {v} is not in [0, 1]"));
    }
    let total: f64 = values.iter().sum();
    if total > 1.0 + 1e-9 {
        return Err(format!(
            "the weights held together sum to {total:.3}, more than 1"
        ));
    }
    if values.len() == TASKS && (total - 1.0).abs() > 1e-6 {
        return Err(format!(
            "every task is held and their weights sum to {total:.3}, not 1"
        ));
    }
    Ok(())
}

/// Every hold checked, and those that overlap checked together: no task held twice at once,
/// and the values held at once can be met (see [`check_held`]).
pub fn validate_holds(holds: &[WeightHold]) -> Result<(), String> {
    for hold in holds {
        hold.check()
            .map_err(|e| format!("hold {}: {e}", hold.text()))?;
    }
    // What is held together changes only where a hold starts.
    for start in holds.iter().map(|h| h.from_step) {
        let active: Vec<&WeightHold> = holds.iter().filter(|h| h.covers(start)).collect();
        let mut held = [None; TASKS];
        for hold in &active {
            let slot = &mut held[hold.task.index()];
            if slot.is_some() {
                return Err(format!("{} is held twice at step {start}", hold.task.key()));
            }
            *slot = Some(hold.value);
        }
        check_held(held).map_err(|e| format!("at step {start}: {e}"))?;
    }
    Ok(())
}

/// What `holds` hold at `step`.
pub fn held_at(holds: &[WeightHold], step: u64) -> [Option<f64>; TASKS] {
    let mut held = [None; TASKS];
    for hold in holds.iter().filter(|h| h.covers(step)) {
        held[hold.task.index()] = Some(hold.value);
    }
    held
}

/// `weights` (summing to 1) with the held ones fixed: the free ones keep their ratio and share
/// 1 − the held values (equally, when the rule gave them nothing).
pub fn renormalised(weights: [f32; TASKS], held: [Option<f64>; TASKS]) -> [f32; TASKS] {
    let held_total: f64 = held.iter().flatten().sum();
    let free: Vec<usize> = (0..TASKS).filter(|&i| held[i].is_none()).collect();
    let free_total: f64 = free.iter().map(|&i| f64::from(weights[i].max(0.0))).sum();
    let rest = (1.0 - held_total).max(0.0);
    std::array::from_fn(|i| match held[i] {
        Some(v) => v as f32,
        None if free_total > 0.0 => (rest * f64::from(weights[i].max(0.0)) / free_total) as f32,
        None => (rest / free.len() as f64) as f32,
    })
}

/// The rule's plan with `held` applied: the reported weights renormalised around the held
/// ones, and the network's weights made constants with those shares and the rule's own total
/// (1 for the loss rules, Σ λ_i for the gradient rules). Unchanged when nothing is held.
pub fn hold_plan(
    mut plan: WeightPlan,
    held: [Option<f64>; TASKS],
) -> candle_core::Result<WeightPlan> {
    if held.iter().all(Option::is_none) {
        return Ok(plan);
    }
    let shares = renormalised(plan.reported, held);
    let total: f32 = to_array(&plan.network_weights.detach())?.iter().sum();
    let total = if total.is_finite() && total > 0.0 {
        total
    } else {
        1.0
    };
    let device = plan.network_weights.device().clone();
    plan.network_weights = constant(shares.map(|w| w * total), &device)?;
    plan.reported = shares;
    Ok(plan)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::weighting::PsiUpdate;
    use candle_core::{Device, Tensor, Var};

    fn plan(weights: [f32; TASKS], tracked: bool) -> WeightPlan {
        let network_weights = if tracked {
            let var = Var::new(&weights, &Device::Cpu).unwrap();
            (var.as_tensor() * 1.0).unwrap()
        } else {
            Tensor::new(&weights, &Device::Cpu).unwrap()
        };
        let sum: f32 = weights.iter().sum();
        WeightPlan {
            network_weights,
            extra_objective: None,
            psi_update: PsiUpdate::WithNetwork,
            reported: weights.map(|w| w / sum),
            branch_weights: None,
        }
    }

    #[test]
    fn holds_read_and_refuse_with_the_reason() {
        let hold: WeightHold = "cari:0.6@100-200".parse().unwrap();
        assert_eq!(
            hold,
            WeightHold {
                task: Task::Cari,
                value: 0.6,
                from_step: 100,
                to_step: 200
            }
        );
        assert_eq!(hold.text().parse::<WeightHold>().unwrap(), hold);
        for (bad, why) in [
            ("cari:0.6", "missing '@FROM-TO'"),
            ("cari@1-2", "missing ':VALUE'"),
            ("ears:0.5@1-2", "unknown task"),
            ("cari:x@1-2", "not a number"),
            ("cari:1.5@1-2", "[0, 1]"),
            ("cari:0.5@3", "missing '-TO'"),
            ("cari:0.5@0-3", "from 1"),
            ("cari:0.5@5-3", "after it ends"),
        ] {
            let e = bad.parse::<WeightHold>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn holds_held_together_must_be_possible() {
        let h = |t: &str| t.parse::<WeightHold>().unwrap();
        assert!(validate_holds(&[h("cari:0.6@1-10"), h("verif:0.3@5-20")]).is_ok());
        let e = validate_holds(&[h("cari:0.6@1-10"), h("verif:0.5@5-20")]).unwrap_err();
        assert!(e.contains("step 5") && e.contains("more than 1"), "{e}");
        let e = validate_holds(&[h("cari:0.6@1-10"), h("cari:0.2@10-20")]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = validate_holds(&[h("cari:0.2@1-10"), h("verif:0.2@1-5"), h("visual:0.2@1-3")])
            .unwrap_err();
        assert!(e.contains("not 1"), "{e}");
        assert_eq!(
            held_at(&[h("cari:0.6@1-10"), h("verif:0.3@5-20")], 7),
            [Some(0.3), None, Some(0.6)]
        );
        assert_eq!(held_at(&[h("cari:0.6@1-10")], 11), [None; TASKS]);
    }

    #[test]
    fn the_others_keep_their_ratio_and_share_the_rest() {
        let w = renormalised([0.2, 0.6, 0.2], [None, None, Some(0.6)]);
        // verif : visual stays 1 : 3 and they share 0.4.
        assert!((w[0] - 0.1).abs() < 1e-6 && (w[1] - 0.3).abs() < 1e-6 && w[2] == 0.6);
        // A rule that gave the free tasks nothing (single-verif, verif held) shares the rest
        // equally; one that gave them something keeps its ratio (single-cari: all to cari).
        let w = renormalised([1.0, 0.0, 0.0], [Some(0.5), None, None]);
        assert_eq!(w, [0.5, 0.25, 0.25]);
        let w = renormalised([0.0, 0.0, 1.0], [Some(0.5), None, None]);
        assert_eq!(w, [0.5, 0.0, 0.5]);
        let w = renormalised([0.3, 0.3, 0.4], [Some(0.2), Some(0.3), Some(0.5)]);
        assert_eq!(w, [0.2, 0.3, 0.5]);
    }

    #[test]
    fn a_held_plan_is_constant_with_the_rules_total() {
        let held = [None, None, Some(0.6)];
        // Naive's w carries a gradient to Ψ; held, it is a constant.
        let before = plan([0.25, 0.5, 0.25], true);
        assert!(before.network_weights.track_op());
        let after = hold_plan(before, held).unwrap();
        assert!(!after.network_weights.track_op());
        let w = to_array(&after.network_weights).unwrap();
        assert!((w[2] - 0.6).abs() < 1e-6 && (w[0] - 0.1333333).abs() < 1e-6);
        assert_eq!(after.reported, w);
        // λ of a gradient rule summing to 2 keep their sum: the shares are of the update.
        let after = hold_plan(plan([0.5, 1.0, 0.5], false), held).unwrap();
        let w = to_array(&after.network_weights).unwrap();
        assert!((w.iter().sum::<f32>() - 2.0).abs() < 1e-6 && (w[2] - 1.2).abs() < 1e-6);
        assert!((after.reported[2] - 0.6).abs() < 1e-6);
        // Nothing held: untouched.
        let plain = hold_plan(plan([0.25, 0.5, 0.25], true), [None; TASKS]).unwrap();
        assert!(plain.network_weights.track_op());
    }
}
