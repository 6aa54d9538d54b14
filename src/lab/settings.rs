//! Everything the window remembers between launches and writes into a lesson or settings file:
//! one serde struct with defaults for every field (eframe_template's pattern).

use serde::{Deserialize, Serialize};

use super::dataset::DataChoice;
use super::history::lens::LensQuantity;
use super::lessons::{Control, Lesson};
use super::projector::ProjectorSettings;
use super::script::RunScript;
use super::toy::ToyState;
use crate::data::synthetic::SyntheticConfig;
use crate::model::Preset;
use crate::session::Gradients;
use crate::train::config::{LearningRates, TrainConfig};
use crate::train::lens::{GradSpace, LensConfig};
use crate::train::recipe::Recipe;
use crate::weighting::{Strategy, StrategyConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// A | B in two columns.
    SideBySide,
    /// Both runs on one pair of plots, A solid and B dashed.
    Overlay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    Lab,
    Metrics,
    Projector,
    Toy,
    /// A `compare` folder: every rule's runs as bands over seeds.
    Sweep,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The dataset both runs train on: `synthetic` (the embedded faces) or a real copy on disk,
    /// `webcaricature:PATH`, `cavi:PATH` or `folder:PATH` (remembered between launches).
    pub dataset: String,
    /// The published fold a real dataset trains and is evaluated on (None: fold 1; the
    /// synthetic faces have none).
    pub fold: Option<usize>,
    pub seed: u64,
    pub preset: Preset,
    /// The named set of training settings both runs start from (`lab`, or the authors' CaVI or
    /// WebCaricature script); the rates and s shown may then be changed.
    pub recipe: Recipe,
    /// `auto`, `cpu` or `cuda:N`.
    pub device: String,
    pub rates: LearningRates,
    /// Weight-logit scale override; None = each rule's default (proposed 1, naive 0.5).
    pub scale: Option<f32>,
    pub weights_reach_trunk: bool,
    /// Where the rules that combine gradients take them, and the lens (on by default, in the
    /// `last` space, every 5th step: a look there costs ~0.5 of a step on 2 cores, see
    /// bench/README.md, and the window's runs should keep most of their rate).
    pub gradients: Gradients,
    /// Which of the lens's quantities the gradients view shows.
    pub lens_view: LensQuantity,
    /// Evaluate every N steps (0 = only on demand).
    pub eval_every: u64,
    /// EMA smoothing of the curves, 0..0.999.
    pub smoothing: f32,
    pub wall_time_axis: bool,
    pub layout: Layout,
    /// The rule of run A and of run B.
    pub strategies: [StrategyConfig; 2],
    pub synthetic: SyntheticConfig,
    pub tab: Tab,
    pub toy: ToyState,
    pub lesson: Option<Lesson>,
    /// The controls hidden (by a lesson, or a lab code).
    pub hidden: Vec<Control>,
    /// Each run's perturbations and held weights by step, which its trainer starts with (from
    /// a lab code or a lesson).
    pub scripts: [RunScript; 2],
    pub show_explain: bool,
    /// Which run the explain panel reads.
    pub explain_run: usize,
    /// The first-start hint (pointing at the lessons) was dismissed or a lesson opened.
    pub welcome_seen: bool,
    pub projector: ProjectorSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dataset: "synthetic".into(),
            fold: None,
            seed: 1,
            preset: Preset::Tiny,
            recipe: Recipe::Lab,
            device: "auto".into(),
            rates: LearningRates::default(),
            scale: None,
            weights_reach_trunk: true,
            gradients: Gradients {
                grad_space: GradSpace::Params,
                lens: LensConfig {
                    space: Some(GradSpace::Last),
                    every: 5,
                },
            },
            lens_view: LensQuantity::Cosines,
            eval_every: 200,
            smoothing: 0.6,
            wall_time_axis: false,
            layout: Layout::SideBySide,
            strategies: [
                StrategyConfig::new(Strategy::PROPOSED),
                StrategyConfig::new(Strategy::NAIVE),
            ],
            synthetic: SyntheticConfig::default(),
            tab: Tab::Lab,
            toy: ToyState::default(),
            lesson: None,
            hidden: Vec::new(),
            scripts: [RunScript::default(), RunScript::default()],
            show_explain: true,
            explain_run: 0,
            welcome_seen: false,
            projector: ProjectorSettings::default(),
        }
    }
}

impl Settings {
    /// Run `slot`'s rule as the trainer gets it: the global scale override applied.
    pub fn strategy_for(&self, slot: usize) -> StrategyConfig {
        let mut strategy = self.strategies[slot].clone();
        if self.scale.is_some() {
            strategy.settings.scale = self.scale;
        } else if let Some(scale) = self.recipe.scale_for(strategy.strategy) {
            strategy.settings.scale = Some(scale);
        }
        strategy
    }

    /// The trainer config of run `slot`.
    pub fn train_config(&self, slot: usize) -> TrainConfig {
        let mut config = TrainConfig {
            seed: self.seed,
            preset: self.preset,
            weights_reach_trunk: self.weights_reach_trunk,
            eval_every: self.eval_every,
            device: self.device.clone(),
            ..TrainConfig::default()
        };
        // The recipe sets the optimiser, the rate drop and the centre loss; the rates and the
        // rule shown in the window stay as the user left them.
        self.recipe.apply(&mut config);
        config.rates = self.rates;
        config.strategy = self.strategy_for(slot);
        config.data.dataset = self.dataset.clone();
        config.data.fold = self.fold;
        config.data.synthetic = self.synthetic.clone();
        config.data.synthetic.seed = self.seed;
        config.data.synthetic.image_size = self.preset.image_size();
        config.grad_space = self.gradients.grad_space;
        config.lens = self.gradients.lens;
        config.perturbations = self.scripts[slot].perturbations.clone();
        config.holds = self.scripts[slot].holds.clone();
        config
    }

    /// Start from `recipe`: its rates, and each rule's s unless the user set one.
    pub fn choose_recipe(&mut self, recipe: Recipe) {
        self.recipe = recipe;
        self.rates = recipe.rates();
        self.scale = None;
    }

    /// Take what decides the dataset (which one, fold, seed, preset, synthetic faces) from
    /// `choice`, leaving the rest alone.
    pub fn take_data_choice(&mut self, choice: &DataChoice) {
        self.dataset = choice.dataset.clone();
        self.fold = choice.fold;
        self.seed = choice.seed;
        self.preset = choice.preset;
        self.synthetic = choice.synthetic.clone();
    }

    /// What decides the dataset, as a load remembers it for a Cancel.
    pub fn data_choice(&self) -> DataChoice {
        DataChoice {
            dataset: self.dataset.clone(),
            fold: self.fold,
            seed: self.seed,
            preset: self.preset,
            synthetic: self.synthetic.clone(),
        }
    }

    /// A trainer refused the rule asked for and kept `kept`: the request goes back to it,
    /// leaving the user's scale choice alone, so the selector shows what really trains.
    pub fn take_refused_strategy(&mut self, slot: usize, kept: &StrategyConfig) {
        let scale = self.strategies[slot].settings.scale;
        self.strategies[slot] = kept.clone();
        self.strategies[slot].settings.scale = scale;
    }

    /// A message when the remembered real dataset's folder is gone (the window then opens on
    /// the synthetic set).
    pub fn dataset_gone(&self) -> Option<String> {
        let spec: crate::data::DatasetSpec = self.dataset.parse().ok()?;
        let path = spec.path()?;
        (!path.is_dir()).then(|| {
            format!(
                "the last dataset ({}) is not there any more; opened the synthetic faces",
                self.dataset
            )
        })
    }

    /// Whether a control is shown (a lesson may hide the ones it does not need).
    pub fn shows(&self, control: Control) -> bool {
        !self.hidden.contains(&control)
    }

    /// Leave the lesson: every control shows again.
    pub fn leave_lesson(&mut self) {
        self.lesson = None;
        self.hidden.clear();
    }
}

/// The settings saved by the last session, checked: unusable ones are replaced by the
/// defaults, with a message saying why.
pub fn checked_saved_settings(saved: Option<Settings>) -> (Settings, Option<String>) {
    match saved {
        None => (Settings::default(), None),
        Some(s) => match s.validate() {
            Ok(()) => (s, None),
            Err(e) => (
                Settings::default(),
                Some(format!(
                    "warning: the settings saved last time were not usable ({e}); started with the defaults"
                )),
            ),
        },
    }
}

/// Largest settings file read.
const MAX_SETTINGS_FILE: u64 = 1 << 20;

impl Settings {
    /// Every field checked: both runs' configs (rates, rules, data sizes), the view, the
    /// projector's t-SNE, the toy. The error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for slot in 0..2 {
            let config = self.train_config(slot);
            config
                .validate()
                .map_err(|e| format!("run {}: {e}", super::run::slot_name(slot)))?;
        }
        self.dataset
            .parse::<crate::data::DatasetSpec>()
            .map_err(|e| format!("dataset: {e}"))?;
        self.synthetic
            .validate()
            .map_err(|e| format!("synthetic: {e}"))?;
        crate::train::trainer::check_device_spec(&self.device)
            .map_err(|e| format!("device: {e}"))?;
        if !(self.smoothing.is_finite() && (0.0..=0.999).contains(&self.smoothing)) {
            return Err(format!("smoothing {} must be in 0..=0.999", self.smoothing));
        }
        if self.explain_run > 1 {
            return Err(format!(
                "explain_run {} must be 0 (A) or 1 (B)",
                self.explain_run
            ));
        }
        self.projector
            .tsne
            .check()
            .map_err(|e| format!("projector: {e}"))?;
        self.toy
            .config
            .validate()
            .map_err(|e| format!("toy: {e}"))?;
        self.toy
            .landscape
            .validate()
            .map_err(|e| format!("toy: {e}"))?;
        Ok(())
    }

    /// Settings from JSON text: a settings/lesson file, or a run's config.json (`cari-mtl
    /// train`), whose settings go to run A. Returns the settings and notes for the user
    /// (unknown keys ignored, what a config.json gave).
    pub fn from_json_text(text: &str) -> Result<(Settings, Vec<String>), String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        if is_run_config(&value) {
            return from_run_config(value);
        }
        let settings: Settings = serde_json::from_value(value.clone())
            .map_err(|e| format!("not a cari-mtl settings file ({e})"))?;
        let mut notes = Vec::new();
        let known = serde_json::to_value(&settings).map_err(|e| e.to_string())?;
        let unknown = unknown_keys(&value, &known, "");
        if !unknown.is_empty() {
            notes.push(format!("ignored unknown keys: {}", unknown.join(", ")));
        }
        settings.validate()?;
        Ok((settings, notes))
    }
}

/// A run's config.json (written by `cari-mtl train`) rather than window settings.
fn is_run_config(value: &serde_json::Value) -> bool {
    value.get("batch_size").is_some()
        && value.get("max_steps").is_some()
        && value.get("tab").is_none()
}

fn from_run_config(value: serde_json::Value) -> Result<(Settings, Vec<String>), String> {
    let config: TrainConfig = serde_json::from_value(value)
        .map_err(|e| format!("looks like a run's config.json but cannot be read ({e})"))?;
    config.validate().map_err(|e| e.to_string())?;
    let mut settings = Settings {
        dataset: config.data.dataset.clone(),
        fold: config.data.fold,
        seed: config.seed,
        preset: config.preset,
        recipe: config.recipe,
        device: config.device.clone(),
        rates: config.rates,
        weights_reach_trunk: config.weights_reach_trunk,
        synthetic: config.data.synthetic.clone(),
        ..Settings::default()
    };
    if config.eval_every > 0 {
        settings.eval_every = config.eval_every;
    }
    settings.strategies[0] = config.strategy.clone();
    settings.validate()?;
    let note = format!(
        "a run's config.json: its seed, preset, rates, data sizes and rule ({}) went to run A",
        config.strategy.label()
    );
    Ok((settings, vec![note]))
}

/// Keys of `given` (as dotted paths) that `known` (the same data re-serialised) does not have.
fn unknown_keys(given: &serde_json::Value, known: &serde_json::Value, prefix: &str) -> Vec<String> {
    let (Some(given), Some(known)) = (given.as_object(), known.as_object()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match known.get(key) {
            None => out.push(path),
            Some(inner) => out.extend(unknown_keys(value, inner, &path)),
        }
    }
    out
}

/// Read a settings/lesson file (or a run's config.json), with an error that names the file
/// and the cause. Returns the settings and notes for the status line.
pub fn load_settings(path: &std::path::Path) -> Result<(Settings, Vec<String>), String> {
    let text = crate::train::run_folder::read_small_file(path, MAX_SETTINGS_FILE)
        .map_err(|e| e.to_string())?;
    Settings::from_json_text(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_settings_is_checked() {
        let mut s = Settings::default();
        s.strategies[1].settings.static_weights = [0.0; 3];
        s.strategies[1].strategy = Strategy::STATIC;
        assert!(s.validate().unwrap_err().starts_with("run B:"));
        let mut s = Settings::default();
        s.synthetic.train_identities = usize::MAX / 2;
        assert!(s.validate().unwrap_err().contains("train_identities"));
        let mut s = Settings::default();
        s.projector.tsne.perplexity = f32::NAN;
        assert!(s.validate().unwrap_err().starts_with("projector:"));
        let s = Settings {
            smoothing: 2.0,
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().contains("smoothing"));
        let s = Settings {
            device: "tpu".into(),
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().contains("tpu"));
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_named_and_a_run_config_goes_to_run_a() {
        let text = r#"{"seed": 5, "colour": "red", "projector": {"tsne": {"perplexity": 10.0, "speed": 3}}}"#;
        let (s, notes) = Settings::from_json_text(text).unwrap();
        assert_eq!(s.seed, 5);
        assert_eq!(
            notes,
            ["ignored unknown keys: colour, projector.tsne.speed"]
        );
        let config = TrainConfig {
            seed: 9,
            strategy: StrategyConfig::new(Strategy::DWA),
            max_steps: 600,
            ..TrainConfig::default()
        };
        let text = serde_json::to_string(&config).unwrap();
        let (s, notes) = Settings::from_json_text(&text).unwrap();
        assert_eq!((s.seed, s.strategies[0].strategy), (9, Strategy::DWA));
        assert!(notes[0].contains("run A"), "{notes:?}");
        let err =
            Settings::from_json_text(r#"{"rates": {"lr": -1.0, "psi_lr": 0.01}}"#).unwrap_err();
        assert!(err.contains("lr"), "{err}");
        assert!(
            Settings::from_json_text("[1, 2")
                .unwrap_err()
                .starts_with("not JSON")
        );
    }

    #[test]
    fn unusable_saved_settings_fall_back_to_the_defaults_with_a_message() {
        let mut bad = Settings::default();
        bad.rates.psi_lr = f64::INFINITY;
        let (s, message) = checked_saved_settings(Some(bad));
        assert_eq!(s, Settings::default());
        assert!(message.unwrap().contains("psi_lr"));
    }
}
