//! The synthetic dataset's settings, their limits, and why it could not be made.

use crate::data::Modality;

use serde::{Deserialize, Serialize};

/// Refuse configs whose pixel buffer would exceed this, rather than abort on allocation.
pub(super) const MAX_PIXEL_BYTES: u64 = 8 << 30;
/// Most identities of each kind (training, held out) the generator makes.
pub const MAX_IDENTITIES: usize = 100_000;
/// Most photos (or caricatures) per identity.
pub const MAX_IMAGES_PER_MODALITY: usize = 10_000;

/// Settings of the synthetic dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// Identities the classifiers train on.
    pub train_identities: usize,
    /// Identities held out for open-set verification and C2P/P2C.
    pub open_identities: usize,
    pub photos_per_identity: usize,
    pub caricatures_per_identity: usize,
    /// Held-out images per training identity per modality, for closed-set identification.
    pub test_per_modality: usize,
    /// Side length of the stored square images.
    pub image_size: usize,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            train_identities: 200,
            open_identities: 50,
            photos_per_identity: 15,
            caricatures_per_identity: 15,
            test_per_modality: 5,
            image_size: 32,
        }
    }
}

impl SyntheticConfig {
    /// Checks that the config yields a usable dataset; the error names the offending field.
    pub fn validate(&self) -> Result<(), SyntheticError> {
        let bad = |field: &'static str, message: String| {
            Err(SyntheticError::InvalidConfig { field, message })
        };
        if self.train_identities == 0 {
            return bad(
                "train_identities",
                "must be at least 1: the classifiers need identities to train on".into(),
            );
        }
        if self.open_identities == 0 {
            return bad(
                "open_identities",
                "must be at least 1: open-set verification needs identities never seen in training"
                    .into(),
            );
        }
        if self.photos_per_identity == 0 {
            return bad("photos_per_identity", "must be at least 1".into());
        }
        if self.caricatures_per_identity == 0 {
            return bad("caricatures_per_identity", "must be at least 1".into());
        }
        if self.test_per_modality == 0 {
            return bad(
                "test_per_modality",
                "must be at least 1: the closed-set test would be empty".into(),
            );
        }
        if self.test_per_modality >= self.photos_per_identity {
            return bad(
                "test_per_modality",
                format!(
                    "({}) must be smaller than photos_per_identity ({}) so that training photos remain",
                    self.test_per_modality, self.photos_per_identity
                ),
            );
        }
        if self.test_per_modality >= self.caricatures_per_identity {
            return bad(
                "test_per_modality",
                format!(
                    "({}) must be smaller than caricatures_per_identity ({}) so that training caricatures remain",
                    self.test_per_modality, self.caricatures_per_identity
                ),
            );
        }
        if !(16..=512).contains(&self.image_size) {
            return bad(
                "image_size",
                format!("({}) must be between 16 and 512 pixels", self.image_size),
            );
        }
        for (field, value, limit) in [
            ("train_identities", self.train_identities, MAX_IDENTITIES),
            ("open_identities", self.open_identities, MAX_IDENTITIES),
            (
                "photos_per_identity",
                self.photos_per_identity,
                MAX_IMAGES_PER_MODALITY,
            ),
            (
                "caricatures_per_identity",
                self.caricatures_per_identity,
                MAX_IMAGES_PER_MODALITY,
            ),
        ] {
            if value > limit {
                return bad(field, format!("({value}) must be at most {limit}"));
            }
        }
        // Within the limits above every product fits in u64; checked all the same.
        let images = (self.identities() as u64).checked_mul(self.images_per_identity() as u64);
        let bytes =
            images.and_then(|n| n.checked_mul((self.image_size * self.image_size * 3) as u64));
        if bytes.is_none_or(|b| b > MAX_PIXEL_BYTES) {
            let gib = bytes.map_or("too many".into(), |b| {
                format!("{:.1}", b as f64 / (1u64 << 30) as f64)
            });
            return bad(
                "train_identities",
                format!(
                    "with the other counts gives {} images needing {gib} GiB; the limit is {} GiB \
                     (lower the identity/image counts or image_size)",
                    images.map_or("too many".into(), |n| n.to_string()),
                    MAX_PIXEL_BYTES >> 30
                ),
            );
        }
        Ok(())
    }

    pub(super) fn identities(&self) -> usize {
        self.train_identities + self.open_identities
    }

    pub(super) fn images_per_identity(&self) -> usize {
        self.photos_per_identity + self.caricatures_per_identity
    }

    /// Which image sits at dataset index `j`: identity-major, photos before caricatures.
    pub(super) fn locate(&self, j: usize) -> (usize, Modality, usize) {
        let per = self.images_per_identity();
        let (id, within) = (j / per, j % per);
        if within < self.photos_per_identity {
            (id, Modality::Photo, within)
        } else {
            (id, Modality::Caricature, within - self.photos_per_identity)
        }
    }
}

/// Why the synthetic dataset (or its contact sheet) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// A setting is out of range; `field` names it, `message` says what is allowed.
    #[error("invalid synthetic dataset setting `{field}`: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    /// The load was cancelled (the window's Cancel).
    #[error("making the synthetic faces was cancelled")]
    Cancelled,
    /// tiny-skia refused the render canvas (only possible for degenerate sizes).
    #[error("could not create a {size}×{size} render canvas")]
    Canvas { size: usize },
}
