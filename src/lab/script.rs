//! What a run does at given steps besides training — perturbations and held weights — as a
//! script a run starts with (from a lab code or a lesson), and as what the user did live, so
//! the plots can mark both and a lab code can carry them to another window.

use serde::{Deserialize, Serialize};

use crate::task::{TASKS, Task};
use crate::train::config::{ScheduledPerturbation, TaskPerturbation};
use crate::train::hold::{WeightHold, validate_holds};

/// A run's perturbations and holds by step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunScript {
    pub perturbations: Vec<ScheduledPerturbation>,
    pub holds: Vec<WeightHold>,
}

impl RunScript {
    pub fn is_empty(&self) -> bool {
        self.perturbations.is_empty() && self.holds.is_empty()
    }

    /// This script with `other`'s entries added: perturbations once each, in step order;
    /// holds that can be held together with those already there (a live hold the run's own
    /// script overrode is left out).
    pub fn merged(&self, other: &RunScript) -> RunScript {
        let mut out = self.clone();
        for p in &other.perturbations {
            if !out.perturbations.contains(p) {
                out.perturbations.push(*p);
            }
        }
        out.perturbations.sort_by_key(|p| p.step);
        for hold in &other.holds {
            let mut with = out.holds.clone();
            with.push(*hold);
            if !out.holds.contains(hold) && validate_holds(&with).is_ok() {
                out.holds = with;
            }
        }
        out.holds.sort_by_key(|h| h.from_step);
        out
    }

    /// Words for the run's header, e.g. `visual shuffle-labels @300 · cari 0.60 @100–200`.
    pub fn summary(&self) -> String {
        let perturbations = self.perturbations.iter().map(|p| {
            format!(
                "{} {} @{}",
                p.change.task.key(),
                p.change.perturbation.key(),
                p.step
            )
        });
        let holds = self.holds.iter().map(|h| {
            format!(
                "{} held {:.2} @{}–{}",
                h.task.key(),
                h.value,
                h.from_step,
                h.to_step
            )
        });
        perturbations.chain(holds).collect::<Vec<_>>().join(" · ")
    }
}

/// What the user did to a run while it trained, by step (from the trainer's events).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    pub perturbations: Vec<ScheduledPerturbation>,
    /// Holds that were released.
    pub holds: Vec<WeightHold>,
    /// Holds going on: per task, the value and the first step held.
    pub open: [Option<(f64, u64)>; TASKS],
}

impl Timeline {
    pub fn perturbed(&mut self, step: u64, change: TaskPerturbation) {
        self.perturbations
            .push(ScheduledPerturbation { step, change });
    }

    /// From `step` on, `task`'s weight is held at `value` (`None`: released).
    pub fn hold_changed(&mut self, step: u64, task: Task, value: Option<f64>) {
        let open = &mut self.open[task.index()];
        if let Some((held, from)) = open.take()
            && from < step
        {
            self.holds.push(WeightHold {
                task,
                value: held,
                from_step: from,
                to_step: step - 1,
            });
        }
        *open = value.map(|v| (v, step));
    }

    /// Every hold so far, the ones going on ending at `latest_step` (or where they start, if
    /// no step has been taken under them yet).
    pub fn spans(&self, latest_step: u64) -> Vec<WeightHold> {
        let mut spans = self.holds.clone();
        for (i, open) in self.open.iter().enumerate() {
            if let Some((value, from)) = *open {
                spans.push(WeightHold {
                    task: Task::ALL[i],
                    value,
                    from_step: from,
                    to_step: latest_step.max(from),
                });
            }
        }
        spans
    }

    /// What happened up to `latest_step`, as a script another run can replay.
    pub fn script(&self, latest_step: u64) -> RunScript {
        RunScript {
            perturbations: self.perturbations.clone(),
            holds: self
                .spans(latest_step)
                .into_iter()
                .filter(|h| h.from_step <= latest_step)
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_is_a_span_from_press_to_release() {
        let mut t = Timeline::default();
        t.hold_changed(10, Task::Cari, Some(0.6));
        assert_eq!(t.spans(15)[0].to_step, 15, "going on: up to now");
        // Moving the value starts a new span.
        t.hold_changed(20, Task::Cari, Some(0.5));
        t.hold_changed(31, Task::Cari, None);
        let spans = t.spans(40);
        assert_eq!(spans.len(), 2);
        assert_eq!(
            (spans[0].from_step, spans[0].to_step, spans[0].value),
            (10, 19, 0.6)
        );
        assert_eq!(
            (spans[1].from_step, spans[1].to_step, spans[1].value),
            (20, 30, 0.5)
        );
        // Released before any step under it: nothing.
        t.hold_changed(41, Task::Verif, Some(0.2));
        t.hold_changed(41, Task::Verif, None);
        assert_eq!(t.spans(50).len(), 2);
    }

    #[test]
    fn merging_keeps_what_can_be_held_together() {
        let hold = |text: &str| text.parse::<WeightHold>().unwrap();
        let script = RunScript {
            perturbations: vec!["visual:noise@30".parse().unwrap()],
            holds: vec![hold("cari:0.6@100-200")],
        };
        let live = RunScript {
            perturbations: vec![
                "visual:noise@30".parse().unwrap(),
                "verif:shuffle-labels@5".parse().unwrap(),
            ],
            holds: vec![hold("cari:0.3@150-160"), hold("verif:0.2@150-160")],
        };
        let merged = script.merged(&live);
        assert_eq!(merged.perturbations.len(), 2);
        assert_eq!(merged.perturbations[0].step, 5);
        assert_eq!(
            merged.holds,
            vec![hold("cari:0.6@100-200"), hold("verif:0.2@150-160")]
        );
        assert!(
            merged.summary().contains("cari held 0.60 @100–200"),
            "{}",
            merged.summary()
        );
    }
}
