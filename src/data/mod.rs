//! Datasets: the embedded synthetic generator, loaders for real copies on disk, and batching.
//!
//! Every source produces one [`Dataset`]: images kept as `u8` RGB at the preset's input size,
//! the identity and modality of each image, the train/test splits and, for real data, the
//! evaluation protocol read from the dataset's own files.

pub use dataset::LoadMonitor;
use serde::{Deserialize, Serialize};

pub mod batches;
pub mod dataset;
pub mod real;
pub mod synthetic;

pub use dataset::{
    Dataset, IdentificationFold, ImageSet, LoadReport, Modality, Protocol, ProtocolFacts, Sample,
    Splits, VerificationPair, report_text,
};
pub use real::{DatasetSpec, FoldCount, LoadError, LoadOptions, load_real, published_folds};

/// Why a dataset could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Synthetic(#[from] synthetic::SyntheticError),
    #[error(transparent)]
    Real(#[from] real::LoadError),
    #[error(
        "fold {fold} asked of the synthetic dataset, which has no published folds (it holds out identities of its own); leave --fold out"
    )]
    SyntheticFold { fold: usize },
}

/// Which dataset a run uses: the data layer's own settings (part of a run's config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// `synthetic`, `webcaricature:PATH`, `cavi:PATH` or `folder:PATH`.
    pub dataset: String,
    /// The synthetic set's sizes (used when `dataset` is `synthetic`).
    pub synthetic: synthetic::SyntheticConfig,
    /// The published fold (or split) to train and evaluate on, 1-based, for datasets that ship
    /// a protocol (WebCaricature, CaVI with train/test lists); None means fold 1 there. The
    /// synthetic set, the `folder:` layout and CaVI with pair lists only hold out identities of
    /// their own and refuse a fold.
    pub fold: Option<usize>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: "synthetic".into(),
            synthetic: synthetic::SyntheticConfig::default(),
            fold: None,
        }
    }
}

/// Make the dataset `config` names, with images of `image_size`² pixels; `seed` drives the
/// synthetic faces and the seeded identity split (`config.fold` picks a published fold).
pub fn load(
    config: &DataConfig,
    seed: u64,
    image_size: usize,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, DataError> {
    let spec: DatasetSpec = config.dataset.parse()?;
    match spec {
        DatasetSpec::Synthetic => {
            if let Some(fold) = config.fold {
                return Err(DataError::SyntheticFold { fold });
            }
            let mut synthetic = config.synthetic.clone();
            synthetic.seed = seed;
            synthetic.image_size = image_size;
            Ok(synthetic::generate(&synthetic, progress)?)
        }
        real => {
            let options = LoadOptions {
                image_size,
                seed,
                fold: config.fold,
                ..LoadOptions::default()
            };
            let mut dataset = load_real(&real, &options, progress)?;
            dataset.published_folds = published_folds(&real)?.map(|folds| folds.count);
            Ok(dataset)
        }
    }
}

/// How many published folds the dataset `config` names has, read from its protocol files
/// only (no image is decoded); None when it has none (it holds out identities of its own).
pub fn fold_count(config: &DataConfig) -> Result<Option<FoldCount>, DataError> {
    match config.dataset.parse()? {
        DatasetSpec::Synthetic => Ok(None),
        real => Ok(published_folds(&real)?),
    }
}
