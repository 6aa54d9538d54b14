//! The lab as one short text code, to share it (Copy lab code / Paste lab code, `cari-mtl
//! --lab CODE`) and to define the lessons: everything the lab is set to that is not a path on
//! this machine — the tab, both runs' rules, seed, preset, recipe, rates, scale, the runs'
//! perturbations and held weights, the toy's and the landscape's settings, the lesson and the
//! controls it hides. The dataset, its fold and sizes and the device stay the opening machine's.
//!
//! A code is `CARI1.` followed by the settings as compact JSON, deflated and written in
//! base64url. A code of another version, one that is damaged, or one whose settings are
//! unknown, missing or out of range is refused with the reason, and nothing of it is applied.

use base64::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::history::lens::LensQuantity;
use super::lessons::{Control, Lesson};
use super::script::RunScript;
use super::settings::{Layout, Settings, Tab};
use super::toy::ToyState;
use crate::model::Preset;
use crate::session::Gradients;
use crate::train::config::LearningRates;
use crate::train::recipe::Recipe;
use crate::weighting::StrategyConfig;

/// The version this program writes and reads. Raise it whenever [`LabState`] (or a type in
/// it) gains, loses or changes a field, and re-encode the lessons' codes.
pub const LAB_CODE_VERSION: u32 = 1;

/// Codes start with this, then the version and a dot: `CARI1.`.
const PREFIX: &str = "CARI";

/// The most a code may unpack to (a real one is a few kilobytes).
const MAX_UNPACKED_BYTES: usize = 256 * 1024;

/// The most characters a pasted code may have.
const MAX_CODE_CHARS: usize = 64 * 1024;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "this is not a cari-mtl lab code (one starts with {}{}.)",
        PREFIX,
        LAB_CODE_VERSION
    )]
    NotACode,
    #[error(
        "this lab code is from another version of cari-mtl (code version {found}); this one reads version {}",
        LAB_CODE_VERSION
    )]
    OtherVersion { found: String },
    #[error("the lab code is damaged ({0}); copy it again")]
    Damaged(String),
    #[error("the lab code's settings do not read: {0}")]
    Unreadable(String),
    #[error("the lab code has settings this version does not know: {0}")]
    UnknownSettings(String),
    #[error("the lab code lacks settings this version needs: {0}")]
    MissingSettings(String),
    #[error("the lab code's settings cannot be used: {0}")]
    Unusable(String),
}

/// Everything a code carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabState {
    pub tab: Tab,
    pub layout: Layout,
    pub smoothing: f32,
    pub wall_time_axis: bool,
    pub show_explain: bool,
    pub explain_run: usize,
    pub seed: u64,
    pub preset: Preset,
    pub recipe: Recipe,
    pub rates: LearningRates,
    pub scale: Option<f32>,
    pub weights_reach_trunk: bool,
    pub gradients: Gradients,
    pub lens_view: LensQuantity,
    pub eval_every: u64,
    pub strategies: [StrategyConfig; 2],
    /// Each run's perturbations and held weights by step.
    pub scripts: [RunScript; 2],
    pub toy: ToyState,
    pub lesson: Option<Lesson>,
    pub hidden: Vec<Control>,
}

impl LabState {
    /// The part of `settings` a code carries, with `scripts` as the runs' perturbations and
    /// holds.
    pub fn of(settings: &Settings, scripts: [RunScript; 2]) -> LabState {
        let s = settings;
        LabState {
            tab: s.tab,
            layout: s.layout,
            smoothing: s.smoothing,
            wall_time_axis: s.wall_time_axis,
            show_explain: s.show_explain,
            explain_run: s.explain_run,
            seed: s.seed,
            preset: s.preset,
            recipe: s.recipe,
            rates: s.rates,
            scale: s.scale,
            weights_reach_trunk: s.weights_reach_trunk,
            gradients: s.gradients,
            lens_view: s.lens_view,
            eval_every: s.eval_every,
            strategies: s.strategies.clone(),
            scripts,
            toy: s.toy.clone(),
            lesson: s.lesson,
            hidden: s.hidden.clone(),
        }
    }

    /// `base` with this state applied (what is not in a code stays `base`'s), checked.
    pub fn applied_to(self, base: &Settings) -> Result<Settings, CodeError> {
        let settings = Settings {
            tab: self.tab,
            layout: self.layout,
            smoothing: self.smoothing,
            wall_time_axis: self.wall_time_axis,
            show_explain: self.show_explain,
            explain_run: self.explain_run,
            seed: self.seed,
            preset: self.preset,
            recipe: self.recipe,
            rates: self.rates,
            scale: self.scale,
            weights_reach_trunk: self.weights_reach_trunk,
            gradients: self.gradients,
            lens_view: self.lens_view,
            eval_every: self.eval_every,
            strategies: self.strategies,
            scripts: self.scripts,
            toy: self.toy,
            lesson: self.lesson,
            hidden: self.hidden,
            ..base.clone()
        };
        settings.validate().map_err(CodeError::Unusable)?;
        Ok(settings)
    }

    /// The code: `CARI1.` + base64url of the deflated compact JSON.
    pub fn encode(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
        format!(
            "{PREFIX}{LAB_CODE_VERSION}.{}",
            base64::encode_config(packed, URL_SAFE_NO_PAD)
        )
    }

    /// Read a code (spaces and line breaks inside it are ignored), refusing any that is not
    /// exactly a state of this version.
    pub fn decode(code: &str) -> Result<LabState, CodeError> {
        let json = unpack(code)?;
        let value: serde_json::Value = serde_json::from_slice(&json)
            .map_err(|e| CodeError::Damaged(format!("not JSON inside: {e}")))?;
        let state: LabState = serde_json::from_value(value.clone())
            .map_err(|e| CodeError::Unreadable(e.to_string()))?;
        // Nested settings fill in missing fields and skip unknown ones when read; a code must
        // have exactly the fields this version writes.
        let known =
            serde_json::to_value(&state).map_err(|e| CodeError::Unreadable(e.to_string()))?;
        let unknown = key_paths_missing(&value, &known, "");
        if !unknown.is_empty() {
            return Err(CodeError::UnknownSettings(unknown.join(", ")));
        }
        let missing = key_paths_missing(&known, &value, "");
        if !missing.is_empty() {
            return Err(CodeError::MissingSettings(missing.join(", ")));
        }
        Ok(state)
    }
}

/// The JSON bytes inside a code, or why there are none.
fn unpack(code: &str) -> Result<Vec<u8>, CodeError> {
    if code.len() > MAX_CODE_CHARS {
        return Err(CodeError::Damaged(format!(
            "{} characters, more than a code has",
            code.len()
        )));
    }
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let (head, body) = code.split_once('.').ok_or(CodeError::NotACode)?;
    let version = head.strip_prefix(PREFIX).ok_or(CodeError::NotACode)?;
    if version != LAB_CODE_VERSION.to_string() {
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::NotACode);
        }
        return Err(CodeError::OtherVersion {
            found: version.to_string(),
        });
    }
    let packed = base64::decode_config(body, URL_SAFE_NO_PAD)
        .map_err(|e| CodeError::Damaged(format!("not base64url: {e}")))?;
    miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_UNPACKED_BYTES)
        .map_err(|e| CodeError::Damaged(format!("it does not unpack: {e}")))
}

/// Dotted paths of the object keys in `given` that `reference` lacks (arrays of objects are
/// compared element by element).
fn key_paths_missing(
    given: &serde_json::Value,
    reference: &serde_json::Value,
    prefix: &str,
) -> Vec<String> {
    use serde_json::Value;
    let at = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match (given, reference) {
        (Value::Object(g), Value::Object(r)) => g
            .iter()
            .flat_map(|(key, value)| match r.get(key) {
                None => vec![at(key)],
                Some(inner) => key_paths_missing(value, inner, &at(key)),
            })
            .collect(),
        (Value::Array(g), Value::Array(r)) => g
            .iter()
            .zip(r)
            .enumerate()
            .flat_map(|(i, (a, b))| key_paths_missing(a, b, &at(&i.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

/// `base` with `code` applied, or why the code was refused (then nothing changes).
pub fn open_code(base: &Settings, code: &str) -> Result<Settings, CodeError> {
    LabState::decode(code)?.applied_to(base)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::task::Task;
    use crate::train::hold::WeightHold;
    use crate::weighting::Strategy;

    fn json_code(json: &str) -> String {
        let packed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 9);
        format!("CARI1.{}", base64::encode_config(packed, URL_SAFE_NO_PAD))
    }

    fn changed_settings() -> Settings {
        let mut s = Settings {
            seed: 7,
            tab: Tab::Toy,
            scale: Some(2.0),
            hidden: vec![Control::Seed, Control::Hold],
            ..Settings::default()
        };
        s.strategies[1] = StrategyConfig::new(Strategy::parse("mgda").unwrap());
        s.toy.landscape.config.steps = 1234;
        s.scripts[0].holds.push(WeightHold {
            task: Task::Cari,
            value: 0.6,
            from_step: 100,
            to_step: 200,
        });
        s
    }

    #[test]
    fn a_code_opens_the_same_lab_and_leaves_the_machines_own_settings() {
        let s = changed_settings();
        let code = LabState::of(&s, s.scripts.clone()).encode();
        assert!(code.starts_with("CARI1."), "{code}");
        assert!(code.len() < 2000, "{} characters", code.len());
        let base = Settings {
            dataset: "folder:/data/faces".into(),
            device: "cpu".into(),
            ..Settings::default()
        };
        // The folder does not exist here; the dataset is checked only by its form.
        let opened = open_code(&base, &code).unwrap();
        assert_eq!(
            LabState::of(&opened, opened.scripts.clone()),
            LabState::of(&s, s.scripts.clone())
        );
        assert_eq!(opened.dataset, "folder:/data/faces");
        assert_eq!(opened.device, "cpu");
        assert_eq!(opened.train_config(0).holds, s.scripts[0].holds);
        // Pasted with line breaks and spaces, it still reads.
        let wrapped: String = code
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                if i % 40 == 39 {
                    vec![c, '\n', ' ']
                } else {
                    vec![c]
                }
            })
            .collect();
        assert_eq!(open_code(&base, &wrapped).unwrap(), opened);
    }

    #[test]
    fn foreign_damaged_or_unusable_codes_are_refused_whole() {
        let s = changed_settings();
        let code = LabState::of(&s, s.scripts.clone()).encode();
        let body = code.strip_prefix("CARI1.").unwrap();
        let refusals = [
            ("hello".to_string(), "not a cari-mtl lab code"),
            (format!("CARI2.{body}"), "another version"),
            (format!("CARIx.{body}"), "not a cari-mtl lab code"),
            (format!("CARI1.{}", &body[..body.len() / 2]), "damaged"),
            ("CARI1.@@@".to_string(), "base64url"),
            (json_code("[1, 2"), "damaged"),
            (json_code(r#"{"seed": 3}"#), "do not read"),
        ];
        for (bad, why) in refusals {
            let e = open_code(&Settings::default(), &bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // Unknown and missing settings, nested ones included, are named.
        let mut value = serde_json::to_value(LabState::of(&s, s.scripts.clone())).unwrap();
        value["toy"]["landscape"]["colour"] = "red".into();
        let e = open_code(&Settings::default(), &json_code(&value.to_string())).unwrap_err();
        assert_eq!(e, CodeError::UnknownSettings("toy.landscape.colour".into()));
        let mut value = serde_json::to_value(LabState::of(&s, s.scripts.clone())).unwrap();
        value["toy"]["config"].as_object_mut().unwrap().remove("lr");
        let e = open_code(&Settings::default(), &json_code(&value.to_string())).unwrap_err();
        assert_eq!(e, CodeError::MissingSettings("toy.config.lr".into()));
        // Readable but out of range: refused, naming the setting.
        let mut value = serde_json::to_value(LabState::of(&s, s.scripts.clone())).unwrap();
        value["rates"]["lr"] = (-1.0).into();
        let e = open_code(&Settings::default(), &json_code(&value.to_string()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be used") && e.contains("lr"), "{e}");
        let mut value = serde_json::to_value(LabState::of(&s, s.scripts.clone())).unwrap();
        value["scripts"][0]["holds"][0]["value"] = 1.5.into();
        let e = open_code(&Settings::default(), &json_code(&value.to_string()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hold"), "{e}");
        // A code that unpacks to more than any lab is refused before it is read.
        let huge = json_code(&" ".repeat(MAX_UNPACKED_BYTES + 10));
        assert!(
            open_code(&Settings::default(), &huge)
                .unwrap_err()
                .to_string()
                .contains("damaged")
        );
    }
}
