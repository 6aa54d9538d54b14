//! The loss landscape in the Toy tab: its settings (saved, and carried by a lab code) and the
//! paths, contours and Pareto set, computed on a background thread so the window never waits
//! (a rule's five 100,000-step paths take a fraction of a second each).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::weighting::Strategy;
use crate::weighting::landscape::contour::{Grid, contour_lines, even_levels};
use crate::weighting::landscape::functions::grid;
use crate::weighting::landscape::pareto::pareto_set;
use crate::weighting::landscape::{
    LandscapeConfig, Outcome, STARTS, Variant, run_rule_until_stopped,
};

/// The part of the plane drawn: the paper's figure's.
pub const X_RANGE: (f64, f64) = (-10.0, 10.0);
pub const Y_RANGE: (f64, f64) = (-10.0, 10.0);
/// Grid samples per axis for the contours.
const GRID_SIDE: usize = 121;
/// Contour levels per function.
const LEVELS: usize = 14;

/// The landscape's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LandscapeSettings {
    pub config: LandscapeConfig,
    /// The rules whose paths are drawn, in the order they were chosen.
    pub rules: Vec<Strategy>,
    /// Which of the five starts are drawn.
    pub starts: [bool; STARTS.len()],
    /// Contours of f1, f2 and their mean.
    pub contours: [bool; 3],
    /// The two tasks' gradients and the rule's direction at a few points of each path.
    pub gradients: bool,
    /// How long the paths take to draw themselves, in seconds.
    pub animation_secs: f64,
}

impl Default for LandscapeSettings {
    fn default() -> Self {
        LandscapeSettings {
            config: LandscapeConfig::default(),
            rules: ["naive", "proposed", "mgda", "cagrad"]
                .iter()
                .filter_map(|key| Strategy::parse(key).ok())
                .collect(),
            starts: [true; STARTS.len()],
            contours: [false, false, true],
            gradients: false,
            animation_secs: 6.0,
        }
    }
}

impl LandscapeSettings {
    /// Every setting checked; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.config.validate().map_err(|e| e.to_string())?;
        if !(self.animation_secs.is_finite() && (0.0..=600.0).contains(&self.animation_secs)) {
            return Err(format!(
                "landscape animation_secs {} must be in 0..=600",
                self.animation_secs
            ));
        }
        Ok(())
    }
}

/// One rule's paths from the five starts (each up to where it stopped, if the rule failed on
/// the way; an error where it could not start).
#[derive(Debug)]
pub struct RulePaths {
    pub rule: Strategy,
    pub paths: Vec<Result<Outcome, String>>,
    /// Seconds its five paths took.
    pub seconds: f64,
}

/// Contour lines of one function: per level, its polylines.
pub type Contours = Vec<(f64, Vec<Vec<[f64; 2]>>)>;

/// What does not depend on the rules: the contours of f1, f2 and their mean, and the Pareto
/// set.
#[derive(Debug)]
pub struct Background {
    pub variant: Variant,
    pub contours: [Contours; 3],
    pub pareto: Vec<[f64; 2]>,
}

/// What the window draws now.
#[derive(Default)]
pub struct LandscapeView {
    pub background: Option<Arc<Background>>,
    pub paths: Vec<Arc<RulePaths>>,
    /// The rule being computed and how many are waiting.
    pub computing: Option<(Strategy, usize)>,
    /// Why the settings cannot be used.
    pub error: Option<String>,
}

#[derive(Default)]
struct Shared {
    config: Option<LandscapeConfig>,
    /// Bumped whenever the config changes; a worker of an older generation stops.
    generation: u64,
    background: Option<Arc<Background>>,
    done: BTreeMap<&'static str, Arc<RulePaths>>,
    pending: Vec<Strategy>,
    computing: Option<Strategy>,
    worker_running: bool,
}

/// The landscape's computations, shared with their worker thread.
#[derive(Default)]
pub struct LandscapeRuns {
    shared: Arc<Mutex<Shared>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A worker that panicked leaves plain data behind; keep using it.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LandscapeRuns {
    /// Bring the computations in line with `settings` (start what is missing, drop what is
    /// stale) and return what there is to draw. Never blocks on the computations.
    pub fn view(&self, settings: &LandscapeSettings) -> LandscapeView {
        if let Err(e) = settings.config.validate() {
            return LandscapeView {
                error: Some(e.to_string()),
                ..LandscapeView::default()
            };
        }
        let mut shared = lock(&self.shared);
        if shared.config.as_ref() != Some(&settings.config) {
            shared.generation += 1;
            shared.config = Some(settings.config.clone());
            shared.done.clear();
            shared.pending.clear();
            let same_variant = shared
                .background
                .as_ref()
                .is_some_and(|b| b.variant == settings.config.variant);
            if !same_variant {
                shared.background = None;
            }
        }
        let missing: Vec<Strategy> = settings
            .rules
            .iter()
            .copied()
            .filter(|r| {
                !shared.done.contains_key(r.key())
                    && !shared.pending.contains(r)
                    && shared.computing != Some(*r)
            })
            .collect();
        shared.pending.extend(missing);
        let needs_work = !shared.pending.is_empty() || shared.background.is_none();
        if needs_work && !shared.worker_running {
            shared.worker_running = true;
            let generation = shared.generation;
            let worker = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("landscape".into())
                .spawn(move || work(&worker, generation));
            if let Err(e) = spawned {
                shared.worker_running = false;
                return LandscapeView {
                    error: Some(format!("could not start the landscape's thread: {e}")),
                    ..LandscapeView::default()
                };
            }
        }
        LandscapeView {
            background: shared.background.clone(),
            paths: settings
                .rules
                .iter()
                .filter_map(|r| shared.done.get(r.key()).cloned())
                .collect(),
            computing: shared.computing.map(|r| (r, shared.pending.len())),
            error: None,
        }
    }
}

/// The worker: the background first, then each pending rule, until none is left or the
/// settings change.
fn work(shared: &Mutex<Shared>, generation: u64) {
    loop {
        let (config, background_missing, rule) = {
            let mut s = lock(shared);
            if s.generation != generation {
                s.worker_running = false;
                s.computing = None;
                return;
            }
            let Some(config) = s.config.clone() else {
                s.worker_running = false;
                return;
            };
            let rule = if s.background.is_some() {
                s.pending.pop()
            } else {
                None
            };
            if s.background.is_some() && rule.is_none() {
                s.worker_running = false;
                s.computing = None;
                return;
            }
            s.computing = rule;
            (config, s.background.is_none(), rule)
        };
        if background_missing {
            let background = Arc::new(background(config.variant));
            let mut s = lock(shared);
            if s.generation == generation {
                s.background = Some(background);
            }
            continue;
        }
        if let Some(rule) = rule {
            let paths = Arc::new(rule_paths(rule, &config));
            let mut s = lock(shared);
            if s.generation == generation {
                s.done.insert(rule.key(), paths);
                s.computing = None;
            }
        }
    }
}

/// A rule's paths from the five starts.
pub fn rule_paths(rule: Strategy, config: &LandscapeConfig) -> RulePaths {
    let started = Instant::now();
    let paths = STARTS
        .iter()
        .map(|&start| run_rule_until_stopped(rule, start, config).map_err(|e| e.to_string()))
        .collect();
    RulePaths {
        rule,
        paths,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The contours of f1, f2 and their mean on the drawn part of the plane, and the Pareto set.
pub fn background(variant: Variant) -> Background {
    let samples = grid(variant, X_RANGE, Y_RANGE, GRID_SIDE, GRID_SIDE);
    let contours = [0, 1, 2].map(|k| {
        let field = Grid {
            x_range: X_RANGE,
            y_range: Y_RANGE,
            nx: GRID_SIDE,
            ny: GRID_SIDE,
            values: samples.iter().map(|s| s[k]).collect(),
        };
        even_levels(&field, LEVELS)
            .into_iter()
            .map(|level| (level, contour_lines(&field, level)))
            .collect()
    });
    Background {
        variant,
        contours,
        pareto: pareto_set().to_vec(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_arrive_in_the_background_and_a_change_starts_again() {
        let runs = LandscapeRuns::default();
        let mut settings = LandscapeSettings::default();
        settings.config.steps = 400;
        settings.rules = vec![Strategy::parse("mgda").unwrap()];
        let started = Instant::now();
        let ready = |view: &LandscapeView| view.background.is_some() && view.paths.len() == 1;
        let mut view = runs.view(&settings);
        while !ready(&view) {
            assert!(
                started.elapsed().as_secs() < 120,
                "the worker never finished"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
            view = runs.view(&settings);
        }
        assert_eq!(view.paths[0].paths.len(), STARTS.len());
        assert!(
            view.paths[0]
                .paths
                .iter()
                .all(|p| p.as_ref().is_ok_and(|o| o.stopped.is_none()))
        );
        assert!(!view.background.as_ref().unwrap().pareto.is_empty());
        // Another step count: the old paths are dropped, the background kept.
        settings.config.steps = 300;
        let view = runs.view(&settings);
        assert!(view.paths.is_empty());
        assert!(view.background.is_some());
        // Bad settings say why, and start nothing.
        settings.config.lr = -1.0;
        assert!(runs.view(&settings).error.unwrap().contains("lr"));
    }
}
