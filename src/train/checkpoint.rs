//! Checkpoints that carry their run: the safetensors file holds, besides the parameters, the
//! facts that give them a meaning (preset, dataset and its seed and sizes, rule, step, class
//! count, crate version) in its metadata, so a checkpoint is never read against another
//! dataset whose class ids are other people.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::config::TrainConfig;
use crate::data::DataConfig;
use crate::model::Preset;
use crate::weighting::StrategyConfig;

/// The metadata key the run's facts are stored under (JSON).
pub const RUN_KEY: &str = "cari_mtl.run";
/// The largest safetensors header read when looking for the metadata.
const MAX_HEADER_BYTES: u64 = 100 << 20;

/// The run a checkpoint was written by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRun {
    pub crate_version: String,
    pub step: u64,
    pub preset: Preset,
    pub seed: u64,
    /// The dataset: its spec and, for the synthetic set, its sizes.
    pub data: DataConfig,
    pub strategy: StrategyConfig,
    /// Identities the classifiers were trained on.
    pub classes: usize,
}

impl CheckpointRun {
    pub fn of(config: &TrainConfig, step: u64, classes: usize) -> CheckpointRun {
        CheckpointRun {
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            step,
            preset: config.preset,
            seed: config.seed,
            data: comparable(&config.data),
            strategy: config.strategy.clone(),
            classes,
        }
    }

    /// What would give this checkpoint's parameters another meaning in a run of `config`:
    /// one line per difference, naming both values.
    pub fn conflicts_with(&self, config: &TrainConfig) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, ours: String, theirs: String| {
            if ours != theirs {
                out.push(format!(
                    "{what}: the checkpoint's is {ours}, this run's is {theirs}"
                ));
            }
        };
        differ(
            "preset",
            self.preset.key().into(),
            config.preset.key().into(),
        );
        differ("seed", self.seed.to_string(), config.seed.to_string());
        differ(
            "dataset",
            self.data.dataset.clone(),
            config.data.dataset.clone(),
        );
        // Another fold trains on other people: the checkpoint would be evaluated on its own
        // training identities.
        let fold = |f: Option<usize>| f.map_or("none (the default)".to_string(), |k| k.to_string());
        differ("fold", fold(self.data.fold), fold(config.data.fold));
        if self.data.dataset == "synthetic" && config.data.dataset == "synthetic" {
            let (a, b) = (&self.data.synthetic, &comparable(&config.data).synthetic);
            for (what, x, y) in [
                (
                    "training identities",
                    a.train_identities,
                    b.train_identities,
                ),
                ("held-out identities", a.open_identities, b.open_identities),
                (
                    "photos per identity",
                    a.photos_per_identity,
                    b.photos_per_identity,
                ),
                (
                    "caricatures per identity",
                    a.caricatures_per_identity,
                    b.caricatures_per_identity,
                ),
                (
                    "test images per modality",
                    a.test_per_modality,
                    b.test_per_modality,
                ),
            ] {
                differ(what, x.to_string(), y.to_string());
            }
        }
        out
    }
}

/// The dataset settings that matter for meaning: the synthetic seed and image size follow the
/// run's seed and preset, which are compared on their own.
fn comparable(data: &DataConfig) -> DataConfig {
    let mut data = data.clone();
    data.synthetic.seed = 0;
    data.synthetic.image_size = 0;
    data
}

/// Write `tensors` with the run's facts in the metadata.
pub fn save(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    run: &CheckpointRun,
) -> Result<(), String> {
    let json = serde_json::to_string(run).map_err(|e| e.to_string())?;
    let metadata = HashMap::from([(RUN_KEY.to_string(), json)]);
    crate::atomic_file::write_atomically(path, |tmp| {
        safetensors::serialize_to_file(tensors, Some(metadata.clone()), tmp)
    })
    .map_err(|e| e.reason)
}

/// The run a checkpoint was written by; None for checkpoints of versions that did not record it.
pub fn read_run(path: &Path) -> Result<Option<CheckpointRun>, String> {
    let header = read_header(path)?;
    let Some(text) = header
        .get("__metadata__")
        .and_then(|m| m.get(RUN_KEY))
        .and_then(|v| v.as_str())
    else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("its run metadata cannot be read ({e})"))
}

/// The JSON header of a safetensors file, read without loading the tensors.
fn read_header(path: &Path) -> Result<serde_json::Value, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut size = [0u8; 8];
    file.read_exact(&mut size)
        .map_err(|_| "too short to be a safetensors file".to_string())?;
    let n = u64::from_le_bytes(size);
    if n > MAX_HEADER_BYTES || n > meta.len() {
        return Err(format!("not a safetensors file (header of {n} bytes)"));
    }
    let mut header = Vec::new();
    file.take(n)
        .read_to_end(&mut header)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&header).map_err(|e| format!("not a safetensors file ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_travels_with_the_parameters_and_conflicts_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let config = TrainConfig::default();
        let run = CheckpointRun::of(&config, 42, 200);
        let t = Tensor::new(&[1f32, 2.0], &candle_core::Device::Cpu).unwrap();
        save(&path, &HashMap::from([("w".to_string(), t)]), &run).unwrap();
        assert_eq!(read_run(&path).unwrap(), Some(run.clone()));
        assert!(run.conflicts_with(&config).is_empty());
        let other = TrainConfig {
            seed: 2,
            ..TrainConfig::default()
        };
        let conflicts = run.conflicts_with(&other);
        assert_eq!(conflicts, ["seed: the checkpoint's is 1, this run's is 2"]);
        // candle reads it as before.
        let back = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
        assert_eq!(back["w"].to_vec1::<f32>().unwrap(), [1.0, 2.0]);
    }

    #[test]
    fn old_checkpoints_have_no_run_and_other_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.safetensors");
        let t = Tensor::new(&[1f32], &candle_core::Device::Cpu).unwrap();
        candle_core::safetensors::save(&HashMap::from([("w", t)]), &path).unwrap();
        assert_eq!(read_run(&path).unwrap(), None);
        let text = dir.path().join("x.txt");
        std::fs::write(&text, b"hello there, not a checkpoint").unwrap();
        assert!(
            read_run(&text)
                .unwrap_err()
                .contains("not a safetensors file")
        );
    }
}
