//! Loss-weighting rules. Each rule lives in one file named after it, which declares its
//! `SPEC` (key, description, default scale, what it needs, its network and toy forms); the
//! `rules!` list below names them all, and everything else (the CLI's `--strategy`, the window's
//! selector, the explain panel, the toy) reads that list. Adding a rule = one new file + one
//! line in that list.
//!
//! `rule` defines what a rule is, `host` its toy form, `math` the arithmetic the rules share,
//! `fixed` the network form of constant weights, `toy` the model without a network, and
//! `landscape` the two-parameter loss landscape with its Pareto set.

pub mod aggregate;
mod combine;
mod fixed;
pub mod gram;
pub mod host;
pub mod landscape;
pub mod math;
#[cfg(test)]
mod reference_cases;
mod rule;
pub mod toy;

/// Declares each rule's module and `RULES`, the registry, in menu order.
macro_rules! rules {
    ($($rule:ident),* $(,)?) => {
        $(mod $rule;)*
        /// Every rule, in menu order.
        pub static RULES: &[&rule::RuleSpec] = &[$(&$rule::SPEC),*];
    };
}

rules![
    proposed,
    naive,
    static_weights,
    equal,
    single_verif,
    single_visual,
    single_cari,
    uncertainty,
    dwa,
    rlw,
    geometric,
    gradnorm,
    famo,
    mgda,
    pcgrad,
    cagrad,
    imtl,
    nash_mtl,
    aligned_mtl,
    upgrad,
    dualproj,
    db_mtl,
];

use serde::{Deserialize, Serialize};

pub use math::normalised;
pub use rule::{
    HostSupport, Needs, PsiUpdate, RuleEnv, RuleSettings, RuleSpec, WeightInputs, WeightPlan,
    WeightingRule, constant, to_array,
};

/// A rule's host form for `setup` (the toy, the loss landscape, `aggregate`), or why it has
/// none.
pub fn host_rule(
    rule: Strategy,
    setup: &host::HostSetup,
) -> Result<Box<dyn host::HostRule>, String> {
    match rule.spec().host {
        HostSupport::Runs(build) => build(setup),
        HostSupport::Cannot(reason) => Err(reason.to_string()),
    }
}

/// Build the rule for a config. `seed` feeds rules that draw random numbers.
pub fn build(
    config: &StrategyConfig,
    device: &candle_core::Device,
    seed: u64,
) -> candle_core::Result<Box<dyn WeightingRule>> {
    (config.strategy.spec().build)(&config.settings, &RuleEnv { device, seed })
}

/// A weighting rule: a handle to its entry in the registry. Compared, hashed and written by
/// its key.
#[derive(Clone, Copy)]
pub struct Strategy(&'static RuleSpec);

impl Strategy {
    /// The rules the program itself refers to (defaults, recipes, lessons).
    pub const PROPOSED: Strategy = Strategy(&proposed::SPEC);
    pub const NAIVE: Strategy = Strategy(&naive::SPEC);
    pub const STATIC: Strategy = Strategy(&static_weights::SPEC);
    pub const EQUAL: Strategy = Strategy(&equal::SPEC);
    pub const SINGLE_CARI: Strategy = Strategy(&single_cari::SPEC);
    pub const DWA: Strategy = Strategy(&dwa::SPEC);

    /// The handle of a rule's entry.
    pub const fn of(spec: &'static RuleSpec) -> Strategy {
        Strategy(spec)
    }

    /// Every rule, in menu order.
    pub fn all() -> impl Iterator<Item = Strategy> {
        RULES.iter().map(|spec| Strategy(spec))
    }

    pub fn spec(self) -> &'static RuleSpec {
        self.0
    }

    pub fn key(self) -> &'static str {
        self.0.key
    }

    pub fn parse(text: &str) -> Result<Strategy, String> {
        Strategy::all().find(|s| s.key() == text).ok_or_else(|| {
            format!(
                "unknown strategy '{text}'; expected one of {}",
                Strategy::keys().join(", ")
            )
        })
    }

    /// Every key, in menu order.
    pub fn keys() -> Vec<&'static str> {
        Strategy::all().map(Strategy::key).collect()
    }

    /// One sentence for hover texts and the explain panel.
    pub fn description(self) -> &'static str {
        self.0.description
    }

    /// The code's default weight-logit scale s for the rules that use Ψ (1 for the others,
    /// which ignore it).
    pub fn default_scale(self) -> f32 {
        self.0.default_scale.unwrap_or(1.0)
    }

    pub fn uses_psi(self) -> bool {
        self.0.needs == Needs::Psi
    }

    pub fn needs(self) -> Needs {
        self.0.needs
    }

    /// Why the toy (losses only) cannot run this rule, or `None` when it can.
    pub fn toy_refusal(self) -> Option<&'static str> {
        match self.0.host {
            HostSupport::Cannot(why) => Some(why),
            HostSupport::Runs(_) if self.0.needs == Needs::TaskGradients => Some(
                "it combines the tasks' gradients, and the toy has losses only (the loss landscape has gradients)",
            ),
            HostSupport::Runs(_) => None,
        }
    }

    /// Why this rule has no host form (it needs the network), or `None` when it runs with
    /// losses and gradients in the host (the loss landscape, `aggregate`).
    pub fn host_refusal(self) -> Option<&'static str> {
        match self.0.host {
            HostSupport::Runs(_) => None,
            HostSupport::Cannot(why) => Some(why),
        }
    }
}

impl PartialEq for Strategy {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Strategy {}

impl std::hash::Hash for Strategy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Strategy::parse(text)
    }
}

impl Serialize for Strategy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for Strategy {
    /// The key, or the name files written before the registry used (`Proposed`,
    /// `SingleVerif`, `GradNorm`: the key without dashes, in any case).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let plain = |s: &str| s.replace('-', "").to_ascii_lowercase();
        Strategy::all()
            .find(|s| s.key() == text || plain(s.key()) == plain(&text))
            .ok_or_else(|| {
                serde::de::Error::custom(Strategy::parse(&text).err().unwrap_or_default())
            })
    }
}

/// A rule with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StrategyConfig {
    pub strategy: Strategy,
    #[serde(flatten)]
    pub settings: RuleSettings,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig::new(Strategy::PROPOSED)
    }
}

impl StrategyConfig {
    pub fn new(strategy: Strategy) -> Self {
        StrategyConfig {
            strategy,
            settings: RuleSettings::default(),
        }
    }

    /// The weight-logit scale s the rule uses: the override, else the rule's default.
    pub fn scale(&self) -> f32 {
        self.settings.scale.unwrap_or(self.strategy.default_scale())
    }

    /// A label for plots and CSV, e.g. `proposed` or `static(0.40/0.30/0.30)`.
    pub fn label(&self) -> String {
        match self.strategy.spec().label {
            Some(label) => label(&self.settings),
            None => self.strategy.key().to_string(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.settings.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_unique_key_and_reads_back_by_it() {
        let keys = Strategy::keys();
        let unique: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        for rule in Strategy::all() {
            assert_eq!(Strategy::parse(rule.key()), Ok(rule));
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.key()));
            assert_eq!(serde_json::from_str::<Strategy>(&json).unwrap(), rule);
        }
    }

    #[test]
    fn names_written_before_the_registry_still_read() {
        // config.json and saved settings wrote the enum's variant names.
        for (old, key) in [
            ("Proposed", "proposed"),
            ("SingleVerif", "single-verif"),
            ("SingleCari", "single-cari"),
            ("GradNorm", "gradnorm"),
            ("Dwa", "dwa"),
        ] {
            let rule: Strategy = serde_json::from_str(&format!("\"{old}\"")).unwrap();
            assert_eq!(rule.key(), key);
        }
        let config: StrategyConfig =
            serde_json::from_str(r#"{"strategy":"Static","static_weights":[1,0,0]}"#).unwrap();
        assert_eq!(config.strategy, Strategy::STATIC);
        assert_eq!(config.settings.static_weights, [1.0, 0.0, 0.0]);
        let unknown = serde_json::from_str::<Strategy>("\"mystery\"").unwrap_err();
        assert!(unknown.to_string().contains("mystery"), "{unknown}");
    }
}
