//! Everything the window remembers between launches and writes into a lesson or settings file:
//! one serde struct with defaults for every field (eframe_template's pattern).

use serde::{Deserialize, Serialize};

use super::lessons::{Control, Lesson};
use super::projector::ProjectorSettings;
use super::toy::ToyPanel;
use crate::data::synthetic::SyntheticConfig;
use crate::model::Preset;
use crate::train::config::{LearningRates, TrainConfig};
use crate::weighting::toy::{ToyConfig, ToyRule};
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
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub seed: u64,
    pub preset: Preset,
    /// `auto`, `cpu` or `cuda:N`.
    pub device: String,
    pub rates: LearningRates,
    /// Weight-logit scale override; None = each rule's default (proposed 1, naive 0.5).
    pub scale: Option<f32>,
    pub weights_reach_trunk: bool,
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
    pub toy: ToyPanel,
    pub lesson: Option<Lesson>,
    pub show_explain: bool,
    /// Which run the explain panel reads.
    pub explain_run: usize,
    pub projector: ProjectorSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 1,
            preset: Preset::Tiny,
            device: "auto".into(),
            rates: LearningRates::default(),
            scale: None,
            weights_reach_trunk: true,
            eval_every: 200,
            smoothing: 0.6,
            wall_time_axis: false,
            layout: Layout::SideBySide,
            strategies: [
                StrategyConfig::new(Strategy::Proposed),
                StrategyConfig::new(Strategy::Naive),
            ],
            synthetic: SyntheticConfig::default(),
            tab: Tab::Lab,
            toy: ToyPanel::default(),
            lesson: None,
            show_explain: true,
            explain_run: 0,
            projector: ProjectorSettings::default(),
        }
    }
}

impl Settings {
    /// Run `slot`'s rule as the trainer gets it: the global scale override applied.
    pub fn strategy_for(&self, slot: usize) -> StrategyConfig {
        let mut strategy = self.strategies[slot].clone();
        if self.scale.is_some() {
            strategy.scale = self.scale;
        }
        strategy
    }

    /// The trainer config of run `slot`.
    pub fn train_config(&self, slot: usize) -> TrainConfig {
        let mut config = TrainConfig {
            seed: self.seed,
            preset: self.preset,
            strategy: self.strategy_for(slot),
            rates: self.rates,
            weights_reach_trunk: self.weights_reach_trunk,
            eval_every: self.eval_every,
            device: self.device.clone(),
            ..TrainConfig::default()
        };
        config.data.synthetic = self.synthetic.clone();
        config.data.synthetic.seed = self.seed;
        config.data.synthetic.image_size = self.preset.image_size();
        config
    }

    /// Take the rule a trainer reports it applied (or kept), leaving the user's scale choice
    /// alone: the window then shows what really trains.
    pub fn reconcile_strategy(&mut self, slot: usize, applied: &StrategyConfig) {
        let scale = self.strategies[slot].scale;
        self.strategies[slot] = StrategyConfig {
            scale,
            ..applied.clone()
        };
    }

    /// Whether a control is shown (a lesson may hide the ones it does not need).
    pub fn shows(&self, control: Control) -> bool {
        self.lesson.is_none_or(|l| l.shows(control))
    }

    /// Set the window's parameters for `lesson`.
    pub fn open_lesson(&mut self, lesson: Lesson) {
        let s = self;
        s.lesson = Some(lesson);
        s.layout = Layout::SideBySide;
        s.scale = None;
        let both = |a, b| [StrategyConfig::new(a), StrategyConfig::new(b)];
        match lesson {
            Lesson::TwoTasksToy => {
                s.tab = Tab::Toy;
                s.toy.config = ToyConfig {
                    rule: ToyRule::Proposed,
                    start_losses: vec![2.0, 0.5],
                    floors: vec![0.1, 0.1],
                    rates: vec![0.05, 0.5],
                    lr: 1.0,
                    steps: 200,
                    ..ToyConfig::default()
                };
                s.toy.right_rule = ToyRule::Naive;
            }
            Lesson::NaiveStarves | Lesson::ProposedChases | Lesson::HardestChanges => {
                s.tab = Tab::Lab;
                s.strategies = both(Strategy::Proposed, Strategy::Naive);
                s.explain_run = if lesson == Lesson::NaiveStarves { 1 } else { 0 };
                s.show_explain = true;
            }
            Lesson::ReadingEmbeddings => {
                s.tab = Tab::Projector;
                s.strategies = both(Strategy::Proposed, Strategy::Naive);
                s.eval_every = 200;
            }
            Lesson::SwitchMidRun => {
                s.tab = Tab::Lab;
                s.strategies = both(Strategy::Naive, Strategy::Naive);
                s.show_explain = true;
            }
        }
    }
}

/// Read a settings/lesson file, with an error that names the file and the cause.
pub fn load_settings(path: &std::path::Path) -> Result<Settings, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 1 << 20 {
        return Err(format!(
            "{}: {} bytes is too large for a settings file",
            path.display(),
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let settings: Settings = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a cari-mtl settings file ({e})", path.display()))?;
    let config = settings.train_config(0);
    config
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    settings
        .toy
        .config
        .validate()
        .map_err(|e| format!("{}: toy: {e}", path.display()))?;
    Ok(settings)
}
