//! The small synthetic set the trainer's tests run on: four identities, three photos and three
//! caricatures each, fixed images (seed 5) at the preset's size.

use std::sync::Arc;

use crate::data::Dataset;
use crate::data::synthetic::{SyntheticConfig, generate};
use crate::model::Preset;

pub(super) fn small_synthetic(preset: Preset) -> Arc<Dataset> {
    let config = SyntheticConfig {
        seed: 5,
        train_identities: 4,
        open_identities: 2,
        photos_per_identity: 3,
        caricatures_per_identity: 3,
        test_per_modality: 1,
        image_size: preset.image_size(),
    };
    Arc::new(generate(&config, &|_| {}).unwrap())
}
