//! What every data source produces: images with their identity and modality, the splits, the
//! evaluation protocol a real dataset ships with, and the report of what a load skipped.

use serde::{Deserialize, Serialize};

/// Which kind of picture an image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Modality {
    Photo,
    Caricature,
}

impl Modality {
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Photo => "photo",
            Modality::Caricature => "caricature",
        }
    }
}

/// One image's metadata. Pixels live in [`ImageSet::pixels`] at index `i`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Index into [`ImageSet::identities`].
    pub identity: usize,
    pub modality: Modality,
    /// Where the image came from: a file path for real data, `synthetic:<id>/<p|c><k>` otherwise.
    pub source: String,
}

/// All images of a dataset, square RGB, row-major HWC `u8`.
#[derive(Clone, Debug, Default)]
pub struct ImageSet {
    /// Side length in pixels of every stored image.
    pub image_size: usize,
    /// Identity names, indexed by [`Sample::identity`].
    pub identities: Vec<String>,
    pub samples: Vec<Sample>,
    /// `samples.len() * image_size * image_size * 3` bytes.
    pub pixels: Vec<u8>,
}

impl ImageSet {
    pub fn image_len(&self) -> usize {
        self.image_size * self.image_size * 3
    }

    /// The HWC bytes of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let len = self.image_len();
        &self.pixels[index * len..(index + 1) * len]
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// How the samples are used. All entries are indices into [`ImageSet::samples`] except
/// `train_identities`/`open_identities`, which index [`ImageSet::identities`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    /// Identities the classifiers are trained on; class label = position in this list.
    pub train_identities: Vec<usize>,
    /// Training images (of `train_identities`).
    pub train: Vec<usize>,
    /// Held-out images of the training identities, for closed-set identification.
    pub closed_test: Vec<usize>,
    /// Identities never seen in training, for open-set verification and C2P/P2C.
    pub open_identities: Vec<usize>,
    /// All images of `open_identities`.
    pub open: Vec<usize>,
}

/// A caricature-photo pair for verification; indices into [`ImageSet::samples`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationPair {
    pub a: usize,
    pub b: usize,
    pub same: bool,
    /// Fold number, 0-based (10 folds in WebCaricature's View 2).
    pub fold: usize,
}

/// One gallery/probe split for C2P or P2C identification; indices into [`ImageSet::samples`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentificationFold {
    pub gallery: Vec<usize>,
    pub probes: Vec<usize>,
}

/// The evaluation protocol a real dataset ships with. Absent parts fall back to the
/// synthetic-style splits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub verification: Vec<VerificationPair>,
    pub c2p: Vec<IdentificationFold>,
    pub p2c: Vec<IdentificationFold>,
}

/// What a loader skipped or could not use, shown to the user after loading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// (path, reason) of every image that was not loaded.
    pub skipped_images: Vec<(String, String)>,
    /// Images cropped by the whole frame because their landmark file was missing.
    pub missing_landmarks: usize,
    /// Identities left out of a task, with why (e.g. "no caricatures: excluded from cari-id").
    pub excluded_identities: Vec<(String, String)>,
    /// "file:line: reason" for each protocol line that could not be used.
    pub protocol_problems: Vec<String>,
    /// Wall seconds spent loading.
    pub load_secs: f64,
    /// Whether the decoded images came from the cache.
    pub from_cache: bool,
}

/// Everything training and evaluation need.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Short name, e.g. `synthetic` or `webcaricature:/path`.
    pub name: String,
    pub images: ImageSet,
    pub splits: Splits,
    pub protocol: Option<Protocol>,
    pub report: LoadReport,
}

/// The load report as lines of text for the CLI and the window.
pub fn report_text(report: &LoadReport) -> String {
    let mut lines = Vec::new();
    lines.push(format!(
        "loaded in {:.2} s{}",
        report.load_secs,
        if report.from_cache {
            " (from cache)"
        } else {
            ""
        }
    ));
    if report.missing_landmarks > 0 {
        lines.push(format!(
            "{} images had no landmark file and were used uncropped",
            report.missing_landmarks
        ));
    }
    for (path, reason) in &report.skipped_images {
        lines.push(format!("skipped {path}: {reason}"));
    }
    for (identity, reason) in &report.excluded_identities {
        lines.push(format!("identity {identity}: {reason}"));
    }
    for problem in &report.protocol_problems {
        lines.push(format!("protocol: {problem}"));
    }
    lines.join("\n")
}
