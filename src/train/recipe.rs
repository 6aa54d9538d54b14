//! Recipes: named sets of training settings. `lab` is this crate's own (it trains the tiny
//! network well on a CPU); the two `authors-*` recipes set what the authors' TensorFlow scripts
//! set (hengxyz/cari-visual-recognition-via-multitask-learning, `train_BP.py` and the CaVI and
//! WebCaricature `*_optimize_onelayer.py` / `*_navie*.py` scripts; see the README's table).
//!
//! A recipe only writes fields of [`TrainConfig`]: after `apply`, config.json holds every value
//! it chose, and an explicit setting applied afterwards (a CLI flag, a window control) wins.

use super::config::{CentreLossOn, LearningRates, LrDrop, OptimizerKind, TrainConfig};
// The type lives with the config that records it (so config.rs imports nothing from here).
pub use super::config::Recipe;
use crate::weighting::Strategy;

/// Where the authors' schedule drops the rate when a run has no length (the window's runs):
/// their schedule file switches 0.1 → 0.01 at epoch 50 of 100 batches.
pub const AUTHORS_DROP_STEP: u64 = 5_000;

impl Recipe {
    pub const ALL: [Recipe; 3] = [
        Recipe::Lab,
        Recipe::AuthorsCavi,
        Recipe::AuthorsWebcaricature,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Recipe::Lab => "lab",
            Recipe::AuthorsCavi => "authors-cavi",
            Recipe::AuthorsWebcaricature => "authors-webcaricature",
        }
    }

    pub fn parse(text: &str) -> Result<Recipe, String> {
        Recipe::ALL
            .into_iter()
            .find(|r| r.key() == text)
            .ok_or_else(|| {
                format!(
                    "unknown recipe '{text}'; expected one of lab, authors-cavi, authors-webcaricature"
                )
            })
    }

    /// One sentence for hover texts.
    pub fn description(self) -> &'static str {
        match self {
            Recipe::Lab => {
                "This lab's: RMSProp lr 1e-3 (ε 1e-6, no momentum), Ψ at 10× the network's rate, s = 1 (proposed) / 0.5 (naive), centre loss 0.01 on the verification branch, clipping at norm 5"
            }
            Recipe::AuthorsCavi => {
                "The authors' CaVI script: TF1 RMSProp (decay 0.9, momentum 0.9, ε 1, mean square from 1), lr 0.1 then 0.01 from half the run (step 5,000 in the window), Ψ at 1×, s = 1 (proposed) / 0.5 (naive), centre loss 0.01 on every branch (each its own table), clipping at norm 5"
            }
            Recipe::AuthorsWebcaricature => {
                "The authors' WebCaricature script: as authors-cavi, but Ψ at 10× the network's rate, s = 2 for proposed and centre loss 0.1"
            }
        }
    }

    /// The network's learning rate before any drop.
    pub fn lr(self) -> f64 {
        match self {
            Recipe::Lab => LearningRates::default().lr,
            Recipe::AuthorsCavi | Recipe::AuthorsWebcaricature => 0.1,
        }
    }

    /// Ψ's rate as a multiple of the network's (proposed): the WebCaricature script passes
    /// `learning_rate*10` to Ψ's optimiser, the CaVI script `learning_rate`.
    pub fn psi_ratio(self) -> f64 {
        match self {
            Recipe::Lab | Recipe::AuthorsWebcaricature => 10.0,
            Recipe::AuthorsCavi => 1.0,
        }
    }

    pub fn rates(self) -> LearningRates {
        LearningRates {
            lr: self.lr(),
            psi_lr: self.lr() * self.psi_ratio(),
        }
    }

    /// The weight-logit scale s for a rule; None leaves the rule's default (proposed 1, naive
    /// 0.5). The scripts multiply Ψ's normalised logits by 1 (CaVI proposed), 2 (WebCaricature
    /// proposed) and ½ (both naive scripts).
    pub fn scale_for(self, strategy: Strategy) -> Option<f32> {
        let (naive, proposed) = (strategy == Strategy::NAIVE, strategy == Strategy::PROPOSED);
        match self {
            Recipe::Lab => None,
            _ if naive => Some(0.5),
            Recipe::AuthorsCavi if proposed => Some(1.0),
            Recipe::AuthorsWebcaricature if proposed => Some(2.0),
            _ => None,
        }
    }

    /// The rate drop for a run of `max_steps` (0 = until stopped). The authors drop 0.1 → 0.01
    /// at step 5,000 of a run with no set end (they keep the best test score over epochs), so
    /// where the drop falls in *their* run is unknown: we put it at half of ours, and at
    /// their step 5,000 when a run has no length.
    pub fn lr_drop(self, max_steps: u64) -> Option<LrDrop> {
        match self {
            Recipe::Lab => None,
            Recipe::AuthorsCavi | Recipe::AuthorsWebcaricature => Some(LrDrop {
                after_step: if max_steps == 0 {
                    AUTHORS_DROP_STEP
                } else {
                    max_steps / 2
                },
                factor: 0.1,
            }),
        }
    }

    /// Write every setting the recipe chooses into `config`, for its rule and `max_steps`.
    pub fn apply(self, config: &mut TrainConfig) {
        let lab = TrainConfig::default();
        config.recipe = self;
        config.rates = self.rates();
        config.lr_drop = self.lr_drop(config.max_steps);
        config.strategy.settings.scale = self.scale_for(config.strategy.strategy);
        config.clip_norm = 5.0;
        config.centre_alpha = 0.5;
        match self {
            Recipe::Lab => {
                config.optimizer = lab.optimizer;
                config.centre_loss_factor = lab.centre_loss_factor;
                config.centre_loss_on = lab.centre_loss_on;
            }
            Recipe::AuthorsCavi | Recipe::AuthorsWebcaricature => {
                config.optimizer = OptimizerKind::TF_RMSPROP_AUTHORS;
                // NOTES-reference-code.md: λ 0.01 in the CaVI script, 0.1 in WebCaricature's.
                config.centre_loss_factor = if self == Recipe::AuthorsCavi {
                    0.01
                } else {
                    0.1
                };
                config.centre_loss_on = CentreLossOn::EveryBranch;
            }
        }
    }
}

impl std::fmt::Display for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::StrategyConfig;

    fn applied(recipe: Recipe, strategy: Strategy, max_steps: u64) -> TrainConfig {
        let mut config = TrainConfig {
            strategy: StrategyConfig::new(strategy),
            max_steps,
            ..TrainConfig::default()
        };
        recipe.apply(&mut config);
        config
    }

    #[test]
    fn lab_is_the_default_config() {
        assert_eq!(
            applied(Recipe::Lab, Strategy::PROPOSED, 0),
            TrainConfig::default()
        );
    }

    #[test]
    fn the_authors_recipes_set_what_their_scripts_set() {
        let cavi = applied(Recipe::AuthorsCavi, Strategy::PROPOSED, 3000);
        assert_eq!(cavi.recipe, Recipe::AuthorsCavi);
        assert_eq!(cavi.optimizer, OptimizerKind::TF_RMSPROP_AUTHORS);
        assert_eq!((cavi.rates.lr, cavi.rates.psi_lr), (0.1, 0.1));
        assert_eq!(
            cavi.lr_drop,
            Some(LrDrop {
                after_step: 1500,
                factor: 0.1
            })
        );
        assert_eq!(cavi.strategy.scale(), 1.0);
        assert_eq!(
            (cavi.centre_loss_factor, cavi.centre_loss_on),
            (0.01, CentreLossOn::EveryBranch)
        );
        assert_eq!(cavi.clip_norm, 5.0);
        let web = applied(Recipe::AuthorsWebcaricature, Strategy::PROPOSED, 0);
        assert_eq!((web.rates.lr, web.rates.psi_lr), (0.1, 1.0));
        assert_eq!(web.strategy.settings.scale, Some(2.0));
        assert_eq!(web.centre_loss_factor, 0.1);
        assert_eq!(web.lr_drop.map(|d| d.after_step), Some(AUTHORS_DROP_STEP));
        let naive = applied(Recipe::AuthorsWebcaricature, Strategy::NAIVE, 600);
        assert_eq!(naive.strategy.settings.scale, Some(0.5));
        for recipe in Recipe::ALL {
            assert_eq!(Recipe::parse(recipe.key()), Ok(recipe));
            assert!(applied(recipe, Strategy::NAIVE, 600).validate().is_ok());
        }
        assert!(
            Recipe::parse("authors")
                .unwrap_err()
                .contains("authors-cavi")
        );
    }

    #[test]
    fn the_drop_scales_both_rates_after_its_step() {
        let rates = Recipe::AuthorsCavi.rates();
        let drop = Recipe::AuthorsCavi.lr_drop(600);
        assert_eq!(LrDrop::rates_at(drop, rates, 300), rates);
        let after = LrDrop::rates_at(drop, rates, 301);
        assert!((after.lr - 0.01).abs() < 1e-12 && (after.psi_lr - 0.01).abs() < 1e-12);
        assert_eq!(LrDrop::rates_at(None, rates, 10_000), rates);
    }

    #[test]
    fn a_config_json_from_before_recipes_still_reads_as_lab() {
        // Written before `recipe`, `lr_drop`, `centre_loss_on` and the mean square's start.
        let old = r#"{"seed": 2, "optimizer": {"RmsProp": {"decay": 0.9, "momentum": 0.0, "eps": 1e-6}},
                      "centre_loss_factor": 0.01}"#;
        let config: TrainConfig = serde_json::from_str(old).unwrap();
        assert_eq!(config.recipe, Recipe::Lab);
        assert_eq!(config.optimizer, TrainConfig::default().optimizer);
        assert_eq!(config.centre_loss_on, CentreLossOn::Verif);
        assert_eq!(config.lr_drop, None);
    }
}
