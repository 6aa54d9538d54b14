//! How the window was asked to start: train at once (lectures, kiosks) and close after a while
//! (benchmarks), from the command line.

use std::time::Instant;

use super::settings::Settings;

/// Which runs `--play` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayRuns {
    Both,
    A,
    B,
}

impl PlayRuns {
    /// Whether run `slot` plays.
    pub fn includes(self, slot: usize) -> bool {
        match self {
            PlayRuns::Both => true,
            PlayRuns::A => slot == 0,
            PlayRuns::B => slot == 1,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Start these runs as soon as they are ready.
    pub play: Option<PlayRuns>,
    /// Close after this many seconds counted from the first training step.
    pub quit_after_secs: Option<f64>,
    /// Train on this dataset (a spec as on the command line) instead of the remembered one.
    pub dataset: Option<String>,
    /// With `dataset`: its published fold (None: fold 1).
    pub fold: Option<usize>,
    /// Run folders to open into runs A and B, in that order.
    pub open_runs: Vec<std::path::PathBuf>,
    /// A sweep folder (written by `compare`) to open in the Sweep tab.
    pub open_sweep: Option<std::path::PathBuf>,
    /// A lab to open (`--lab CODE`), already read and checked.
    pub lab: Option<Box<super::code::LabState>>,
}

impl Launch {
    /// The settings the window opens with: the remembered ones with the command line's dataset
    /// and lab code applied. What could not be applied is said in `notes`, and the rest opens.
    pub fn settings_from(&self, remembered: Settings, notes: &mut Vec<String>) -> Settings {
        let mut settings = remembered;
        if let Some(spec) = &self.dataset {
            settings.dataset = spec.clone();
            settings.fold = self.fold;
        } else if let Some(gone) = settings.dataset_gone() {
            notes.push(gone);
            settings.dataset = "synthetic".into();
            settings.fold = None;
        }
        if let Some(state) = &self.lab {
            match (**state).clone().applied_to(&settings) {
                Ok(opened) => {
                    settings = opened;
                    settings.welcome_seen = true;
                }
                Err(e) => notes.push(format!("warning: --lab: {e}")),
            }
        }
        settings
    }
}

/// The `--quit-after` clock: starts at the first step the window sees.
#[derive(Debug, Default)]
pub struct QuitTimer {
    first_step_at: Option<Instant>,
    done: bool,
}

impl QuitTimer {
    /// Note that training has begun (the first call counts).
    pub fn saw_a_step(&mut self) {
        if self.first_step_at.is_none() {
            self.first_step_at = Some(Instant::now());
        }
    }

    /// Seconds since the first step, once `limit_secs` of them have passed (once only).
    pub fn expired(&mut self, limit_secs: f64) -> Option<f64> {
        let elapsed = self.first_step_at?.elapsed().as_secs_f64();
        if self.done || elapsed < limit_secs {
            return None;
        }
        self.done = true;
        Some(elapsed)
    }
}

/// The one line `--quit-after` prints on stdout.
pub fn summary_line(steps: [u64; 2], secs: f64) -> String {
    format!(
        "window: A {} steps, B {} steps in {secs:.1} s",
        steps[0], steps[1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quit_line_has_the_documented_form() {
        assert_eq!(
            summary_line([1234, 1198], 30.04),
            "window: A 1234 steps, B 1198 steps in 30.0 s"
        );
    }

    #[test]
    fn the_timer_starts_at_the_first_step_and_fires_once() {
        let mut t = QuitTimer::default();
        assert_eq!(t.expired(0.0), None, "no step yet");
        t.saw_a_step();
        assert!(t.expired(0.0).is_some());
        assert_eq!(t.expired(0.0), None, "only once");
        assert!(PlayRuns::A.includes(0) && !PlayRuns::A.includes(1));
        assert!(PlayRuns::Both.includes(1) && PlayRuns::B.includes(1));
    }
}
