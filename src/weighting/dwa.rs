//! `dwa`, dynamic weight average (Liu, Johns & Davison 2019): w_i = T·softmax(r_i/τ) with
//! r_i = (mean loss of task i over the last window of N steps) / (its mean over the window
//! before). A task whose loss falls slowly (r near 1 or above) gets more weight. Equal weights
//! until two full windows exist. The network uses w (summing to T); the reported weights are
//! normalised to sum 1.

use candle_core::Result;
use std::collections::VecDeque;

use super::host::{HostRule, HostView, uniform};
use super::math::softmax;
use super::rule::{HostSupport, Needs, RuleSpec};
use super::{
    PsiUpdate, RuleSettings, WeightInputs, WeightPlan, WeightingRule, constant, normalised,
};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "dwa",
    description: "Liu et al. 2019: w = T·softmax(r/τ), r = ratio of each task's mean loss over the last two windows; shown normalised",
    needs: Needs::Losses,
    default_scale: None,
    build: |settings, _env| Ok(Box::new(Dwa::new(settings))),
    host: HostSupport::Runs(|setup| {
        Ok(Box::new(DwaHost {
            tasks: setup.tasks,
            temperature: setup.dwa_temperature,
            previous: None,
            before_previous: None,
        }))
    }),
    label: None,
};

/// The toy's form: a window of one step, r_i = L_i(t−1)/L_i(t−2), and the softmax itself
/// (weights summing to 1, like every toy rule's); equal weights while there is no history.
struct DwaHost {
    tasks: usize,
    temperature: f64,
    previous: Option<Vec<f64>>,
    before_previous: Option<Vec<f64>>,
}

impl HostRule for DwaHost {
    fn weights(&mut self, _view: &HostView) -> std::result::Result<Vec<f64>, String> {
        Ok({
        match (&self.previous, &self.before_previous) {
            (Some(l1), Some(l2)) => {
                let z: Vec<f64> = l1
                    .iter()
                    .zip(l2)
                    .map(|(a, b)| a / b / self.temperature)
                    .collect();
                softmax(&z)
            }
            _ => uniform(self.tasks),
        }
        })
    }

    fn observe(&mut self, losses_seen: &[f64]) {
        // After this step L(t+1) is the current loss, so L(t) becomes "one step ago".
        self.before_previous = self.previous.take();
        self.previous = Some(losses_seen.to_vec());
    }
}

pub struct Dwa {
    /// N, steps per window.
    window: usize,
    /// τ.
    temperature: f32,
    /// The last 2N steps' losses, oldest first.
    history: VecDeque<[f32; TASKS]>,
}

impl Dwa {
    pub fn new(settings: &RuleSettings) -> Self {
        Dwa {
            window: settings.dwa_window,
            temperature: settings.dwa_temperature,
            history: VecDeque::new(),
        }
    }

    /// DWA's weights (summing to T) from two windows' mean losses.
    pub fn weights_from_windows(
        previous: [f32; TASKS],
        last: [f32; TASKS],
        temperature: f32,
    ) -> [f32; TASKS] {
        let mut ratio = [0f32; TASKS];
        for i in 0..TASKS {
            ratio[i] = last[i] / previous[i].max(1e-12);
        }
        super::math::softmax_tasks(ratio.map(|r| r / temperature)).map(|w| TASKS as f32 * w)
    }

    fn current(&self) -> [f32; TASKS] {
        let n = self.window;
        if self.history.len() < 2 * n {
            return [1.0; TASKS];
        }
        let mean = |range: std::ops::Range<usize>| {
            let mut m = [0f32; TASKS];
            for k in range {
                for (acc, l) in m.iter_mut().zip(self.history[k]) {
                    *acc += l / n as f32;
                }
            }
            m
        };
        Self::weights_from_windows(mean(0..n), mean(n..2 * n), self.temperature)
    }
}

impl WeightingRule for Dwa {
    fn plan(&mut self, inputs: &WeightInputs) -> Result<WeightPlan> {
        let w = self.current();
        Ok(WeightPlan {
            network_weights: constant(w, inputs.losses.device())?,
            extra_objective: None,
            psi_update: PsiUpdate::Frozen,
            reported: normalised(w),
            branch_weights: None,
        })
    }

    fn observe(&mut self, _step: u64, losses: [f32; TASKS]) {
        self.history.push_back(losses);
        while self.history.len() > 2 * self.window {
            self.history.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_on_fixed_losses() {
        // Reference (python3):
        //   import math; r=[1.0/2.0, 1.0, 0.9/1.0]; e=[math.exp(x/2) for x in r]
        //   print([3*x/sum(e) for x in e])  # [0.855816, 1.098889, 1.045295]
        let w = Dwa::weights_from_windows([2.0, 1.0, 1.0], [1.0, 1.0, 0.9], 2.0);
        let expected = [0.855_815_6f32, 1.098_888_9, 1.045_295_5];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{w:?}");
        }
        assert!((w.iter().sum::<f32>() - 3.0).abs() < 1e-5);
    }

    #[test]
    fn equal_until_two_windows_exist() {
        let settings = RuleSettings {
            dwa_window: 2,
            ..RuleSettings::default()
        };
        let mut dwa = Dwa::new(&settings);
        for step in 1..=3 {
            dwa.observe(step, [2.0, 1.0, 1.0]);
            assert_eq!(dwa.current(), [1.0; 3]);
        }
        dwa.observe(4, [1.0, 1.0, 1.0]);
        // windows: previous mean (2,1,1), last mean (1.5,1,1)
        let w = dwa.current();
        assert!(w[0] < w[1] && (w[1] - w[2]).abs() < 1e-6, "{w:?}");
    }
}
