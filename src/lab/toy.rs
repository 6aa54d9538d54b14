//! The toy tab's state: the shared task settings, the two rules side by side, and the rows of
//! both runs, recomputed only when a setting changed.

use serde::{Deserialize, Serialize};

use super::landscape::LandscapeSettings;
use crate::weighting::Strategy;
use crate::weighting::toy::{ToyConfig, ToyRow, simulate};

/// What the Toy tab shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToyView {
    /// The losses-only toy: two rules side by side.
    #[default]
    Losses,
    /// The two-parameter loss landscape with its Pareto set and the rules' paths.
    Landscape,
}

/// Both runs of the last settings (left config, right rule) and their rows or error.
type ToyCache = (ToyConfig, Strategy, Result<[Vec<ToyRow>; 2], String>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToyState {
    /// Shared task settings; `config.rule` is the left rule.
    pub config: ToyConfig,
    pub right_rule: Strategy,
    pub view: ToyView,
    pub landscape: LandscapeSettings,
    #[serde(skip)]
    cache: Option<ToyCache>,
}

impl Default for ToyState {
    fn default() -> Self {
        ToyState {
            config: ToyConfig::default(),
            right_rule: Strategy::NAIVE,
            view: ToyView::Losses,
            landscape: LandscapeSettings::default(),
            cache: None,
        }
    }
}

impl ToyState {
    /// Both runs' rows, recomputed only when a setting changed.
    pub fn rows(&mut self) -> &Result<[Vec<ToyRow>; 2], String> {
        let stale = self
            .cache
            .as_ref()
            .is_none_or(|(c, r, _)| *c != self.config || *r != self.right_rule);
        if stale {
            let mut right = self.config.clone();
            right.rule = self.right_rule;
            let result = simulate(&self.config)
                .and_then(|a| simulate(&right).map(|b| [a, b]))
                .map_err(|e| e.to_string());
            self.cache = Some((self.config.clone(), self.right_rule, result));
        }
        match &self.cache {
            Some((_, _, r)) => r,
            None => unreachable_rows(),
        }
    }
}

fn unreachable_rows() -> &'static Result<[Vec<ToyRow>; 2], String> {
    static EMPTY: std::sync::OnceLock<Result<[Vec<ToyRow>; 2], String>> =
        std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Err("no toy run yet".into()))
}
