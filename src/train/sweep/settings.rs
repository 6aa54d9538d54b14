//! What a sweep holds fixed: every setting that shapes a run, by name, and the program's
//! version. `compare` records them in sweep.json on its first call; a later call or shard with
//! other settings is refused, and `--collect` checks each run's config.json against them, so a
//! run trained with another `--lr` or `--recipe` is never averaged in without a word.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::train::config::TrainConfig;

pub use crate::train::run_folder::{PROGRAM_VERSION, VERSION_KEY};

/// Settings that differ from run to run of one sweep by design, left out of the comparison:
/// the seed (and the synthetic set's, which follows it), the fold, the rule itself, and the
/// device and kernels asked for (shards on other machines may use other devices, and off the
/// CPU every run takes the portable kernels).
const PER_RUN: [&str; 6] = [
    "seed",
    "synthetic.seed",
    "fold",
    "strategy",
    "device",
    "kernels",
];

/// Containers whose fields are named without their prefix: `rates.lr` is `lr`,
/// `strategy.scale` is `scale` (the names the command line uses).
const UNPREFIXED: [&str; 2] = ["rates.", "strategy."];

/// A sweep's fixed settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// The cari-mtl version that started the sweep.
    pub version: String,
    /// Each strategy's run settings by name: config.json's values, less what varies from run
    /// to run ([`run_settings`]). Per strategy, since a recipe sets s per rule.
    pub runs: BTreeMap<String, BTreeMap<String, Value>>,
}

/// One setting that is not what it should be.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SettingDiff {
    /// The setting's name (`lr`, `max_steps`, `synthetic.train_identities`, …).
    pub name: String,
    /// What the sweep has (JSON text; `absent` where it has none).
    pub expected: String,
    /// What was found instead.
    pub found: String,
}

impl SettingDiff {
    pub fn new(name: &str, expected: impl ToString, found: impl ToString) -> SettingDiff {
        SettingDiff {
            name: name.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// "lr (--lr): 0.001 in the sweep, 0.01 here", with `here` naming the other side.
    pub fn sentence(&self, here: &str) -> String {
        let flag = flag_of(&self.name).map_or(String::new(), |f| format!(" ({f})"));
        format!(
            "{}{flag}: {} in the sweep, {} {here}",
            self.name, self.expected, self.found
        )
    }
}

/// The settings of a run that a sweep holds fixed, by name.
pub fn run_settings(config: &TrainConfig) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    match serde_json::to_value(config) {
        Ok(value) => flatten("", &value, &mut out),
        // A config that cannot be written as JSON has no settings to compare: every one of
        // them then shows as different, which is what it is.
        Err(e) => {
            out.insert("config".into(), Value::String(format!("unreadable: {e}")));
        }
    }
    for key in PER_RUN {
        out.remove(key);
    }
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, field) in fields {
                flatten(&format!("{prefix}{key}."), field, out);
            }
        }
        leaf => {
            let mut name = prefix.trim_end_matches('.');
            for short in UNPREFIXED {
                name = name.strip_prefix(short).unwrap_or(name);
            }
            out.insert(name.to_string(), leaf.clone());
        }
    }
}

/// The settings that differ between `expected` and `found` (a setting only one has included).
pub fn differences(
    expected: &BTreeMap<String, Value>,
    found: &BTreeMap<String, Value>,
) -> Vec<SettingDiff> {
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (expected.get(name), found.get(name));
            (a != b).then(|| SettingDiff::new(name, shown(a), shown(b)))
        })
        .collect()
}

fn shown(value: Option<&Value>) -> String {
    value.map_or("absent".into(), Value::to_string)
}

impl SweepSettings {
    /// The settings of a sweep whose strategies train with these configs (one per strategy).
    pub fn of<'a>(configs: impl IntoIterator<Item = (&'a str, &'a TrainConfig)>) -> SweepSettings {
        SweepSettings {
            version: PROGRAM_VERSION.to_string(),
            runs: configs
                .into_iter()
                .map(|(strategy, config)| (strategy.to_string(), run_settings(config)))
                .collect(),
        }
    }

    /// What differs in `other` (each setting named once, whichever strategies it differs in).
    pub fn differences(&self, other: &SweepSettings) -> Vec<SettingDiff> {
        let mut out: BTreeMap<String, SettingDiff> = BTreeMap::new();
        if self.version != other.version {
            out.insert(
                "version".into(),
                SettingDiff::new("version", &self.version, &other.version),
            );
        }
        for (strategy, mine) in &self.runs {
            if let Some(theirs) = other.runs.get(strategy) {
                for diff in differences(mine, theirs) {
                    out.entry(diff.name.clone()).or_insert(diff);
                }
            }
        }
        out.into_values().collect()
    }
}

/// The command-line flag that sets a setting, where there is one.
pub fn flag_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "recipe" => "--recipe",
        "preset" => "--preset",
        "dataset" => "--dataset",
        "lr" => "--lr",
        "psi_lr" => "--psi-lr",
        "lr_drop.after_step" | "lr_drop" => "--lr-drop-after",
        "scale" => "--scale",
        "static_weights" => "--static-weights",
        "cagrad_c" => "--cagrad-c",
        "centre_loss_factor" => "--centre-loss",
        "clip_norm" => "--clip-norm",
        "batch_size" => "--batch-size",
        "weights_reach_trunk" => "--constant-weights",
        "max_steps" => "--steps",
        "eval_every" => "--eval-every",
        "grad_space" => "--grad-space",
        "lens.space" => "--lens",
        "lens.every" => "--lens-every",
        "synthetic.train_identities" => "--identities",
        "synthetic.open_identities" => "--open-identities",
        "synthetic.photos_per_identity" | "synthetic.caricatures_per_identity" => {
            "--images-per-modality"
        }
        "synthetic.test_per_modality" => "--test-images",
        "strategies" => "--strategies",
        "seeds" => "--seeds",
        "folds" => "--folds",
        _ => return None,
    })
}

/// The differences as one line: "lr (--lr): 0.001 in the sweep, 0.01 here; …".
pub fn describe(diffs: &[SettingDiff], here: &str) -> String {
    diffs
        .iter()
        .map(|d| d.sentence(here))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_becomes_named_settings_without_what_varies_by_run() {
        let mut config = TrainConfig::default();
        config.rates.lr = 0.01;
        let settings = run_settings(&config);
        assert_eq!(settings["lr"], serde_json::json!(0.01));
        assert_eq!(settings["scale"], Value::Null);
        assert_eq!(settings["synthetic.train_identities"], 200);
        for gone in PER_RUN {
            assert!(!settings.contains_key(gone), "{gone}");
        }
        // Another seed, fold or device is the same sweep; another lr is not.
        let mut other = config.clone();
        other.seed = 7;
        other.data.synthetic.seed = 7;
        other.device = "cpu".into();
        assert!(differences(&settings, &run_settings(&other)).is_empty());
        other.rates.lr = 0.001;
        other.batch_size = 32;
        let diffs = differences(&settings, &run_settings(&other));
        let named: Vec<&str> = diffs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(named, ["batch_size", "lr"]);
        assert_eq!(
            diffs[1].sentence("in proposed/seed2"),
            "lr (--lr): 0.01 in the sweep, 0.001 in proposed/seed2"
        );
    }

    #[test]
    fn a_setting_that_differs_in_every_strategy_is_named_once() {
        let a = TrainConfig::default();
        let mut b = a.clone();
        b.clip_norm = 1.0;
        let first = SweepSettings::of([("proposed", &a), ("naive", &a)]);
        let second = SweepSettings::of([("proposed", &b), ("naive", &b)]);
        let diffs = first.differences(&second);
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(diffs[0].name, "clip_norm");
        assert!(first.differences(&first).is_empty());
    }
}
