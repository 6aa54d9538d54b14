//! Datasets: the embedded synthetic generator, loaders for real copies on disk, and batching.
//!
//! Every source produces one [`Dataset`]: images kept as `u8` RGB at the preset's input size,
//! the identity and modality of each image, the train/test splits and, for real data, the
//! evaluation protocol read from the dataset's own files.

use serde::{Deserialize, Serialize};

pub mod batches;
pub mod dataset;
pub mod real;
pub mod synthetic;

pub use dataset::{
    Dataset, IdentificationFold, ImageSet, LoadReport, Modality, Protocol, Sample, Splits,
    VerificationPair, report_text,
};
pub use real::{DatasetSpec, LoadError, LoadOptions, load_real};

/// Why a dataset could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Synthetic(#[from] synthetic::SyntheticError),
    #[error(transparent)]
    Real(#[from] real::LoadError),
}

/// Which dataset a run uses: the data layer's own settings (part of a run's config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// `synthetic`, `webcaricature:PATH`, `cavi:PATH` or `folder:PATH`.
    pub dataset: String,
    /// The synthetic set's sizes (used when `dataset` is `synthetic`).
    pub synthetic: synthetic::SyntheticConfig,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: "synthetic".into(),
            synthetic: synthetic::SyntheticConfig::default(),
        }
    }
}

/// Make the dataset `config` names, with images of `image_size`² pixels; `seed` drives the
/// synthetic faces and the identity split.
pub fn load(
    config: &DataConfig,
    seed: u64,
    image_size: usize,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<Dataset, DataError> {
    let spec: DatasetSpec = config.dataset.parse()?;
    match spec {
        DatasetSpec::Synthetic => {
            let mut synthetic = config.synthetic.clone();
            synthetic.seed = seed;
            synthetic.image_size = image_size;
            Ok(synthetic::generate(&synthetic, progress)?)
        }
        real => {
            let options = LoadOptions {
                image_size,
                seed,
                ..LoadOptions::default()
            };
            let mut dataset = load_real(&real, &options, progress)?;
            // The protocols cover every person, training identities included; evaluating on
            // people seen in training would flatter the model, so keep the protocol's pairs
            // and folds among the held-out identities only.
            if let Some(protocol) = &dataset.protocol {
                dataset.protocol = Some(real::protocol_open_only(
                    protocol,
                    &dataset.images,
                    &dataset.splits,
                ));
            }
            Ok(dataset)
        }
    }
}
