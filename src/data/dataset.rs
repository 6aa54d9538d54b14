//! What every data source produces: images with their identity and modality, the splits, the
//! evaluation protocol a real dataset ships with, and the report of what a load skipped.

use std::collections::BTreeMap;

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
    /// The fold the pair is listed in, 0-based (WebCaricature's View 2 fold 3 is 2). Named in
    /// [`Protocol::fold_names`].
    pub fold: usize,
}

/// One gallery/probe split for C2P or P2C identification; indices into [`ImageSet::samples`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentificationFold {
    pub gallery: Vec<usize>,
    pub probes: Vec<usize>,
}

/// The evaluation protocol of one published fold (or split) of a real dataset, as its files
/// list it: what is scored, and what only chooses the verification thresholds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// The pairs the verification figures are computed on, every one the fold lists (those
    /// naming an image that could not be read are reported in the load report).
    pub verification: Vec<VerificationPair>,
    /// Pairs that only choose the verification thresholds and are never scored (e.g. View 2's
    /// other folds). Empty: the thresholds are chosen by cross-validation over the folds of
    /// `verification`, each fold scored with a threshold chosen on the others.
    pub calibration: Vec<VerificationPair>,
    /// C2P gallery/probe lists (caricature probes), as given; empty when the protocol has none.
    pub c2p: Vec<IdentificationFold>,
    /// P2C gallery/probe lists (photo probes), as given.
    pub p2c: Vec<IdentificationFold>,
    /// Fold number → where it is listed, e.g. `RestrictedView2.txt fold 3`, for messages.
    pub fold_names: BTreeMap<usize, String>,
}

impl Protocol {
    /// Where the pairs of `fold` are listed, for messages.
    pub fn fold_name(&self, fold: usize) -> String {
        self.fold_names
            .get(&fold)
            .cloned()
            .unwrap_or_else(|| format!("fold {}", fold + 1))
    }
}

/// What was evaluated, in facts: shown in the window and written to `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolFacts {
    /// E.g. "WebCaricature Restricted View 2 / C2P / P2C" or "synthetic held-out identities".
    pub name: String,
    /// The published fold or split evaluated (1-based); None for a held-out split of our own.
    pub fold: Option<usize>,
    /// Matched (same person) verification pairs scored.
    pub pairs_matched: usize,
    /// Mismatched verification pairs scored.
    pub pairs_mismatched: usize,
    /// Names of the identities the classifiers are trained on.
    pub train_identities: Vec<String>,
    /// Names of the identities the evaluation's pairs and galleries are drawn from.
    pub test_identities: Vec<String>,
}

impl ProtocolFacts {
    /// Facts of a held-out split of our own: the test identities are the open set.
    pub fn held_out(name: &str, images: &ImageSet, splits: &Splits) -> ProtocolFacts {
        let names = |ids: &[usize]| -> Vec<String> {
            ids.iter()
                .filter_map(|&i| images.identities.get(i).cloned())
                .collect()
        };
        ProtocolFacts {
            name: name.to_string(),
            fold: None,
            pairs_matched: 0,
            pairs_mismatched: 0,
            train_identities: names(&splits.train_identities),
            test_identities: names(&splits.open_identities),
        }
    }

    /// The counts of `pairs`, matched and mismatched.
    pub fn count_pairs(&mut self, pairs: &[VerificationPair]) {
        self.pairs_matched = pairs.iter().filter(|p| p.same).count();
        self.pairs_mismatched = pairs.len() - self.pairs_matched;
    }

    /// The facts in words (counts, not the name lists), e.g. "WebCaricature … fold 3: 100
    /// matched + 100 mismatched pairs; 113 training identities, 139 test identities".
    pub fn sentence(&self) -> String {
        let fold = self.fold.map_or(String::new(), |k| format!(", fold {k}"));
        format!(
            "{}{fold}: {} matched + {} mismatched pairs; {} training identities, {} test identities",
            self.name,
            self.pairs_matched,
            self.pairs_mismatched,
            self.train_identities.len(),
            self.test_identities.len()
        )
    }
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
    /// "file:line: reason" for each protocol line that could not be used, and every way the
    /// copy's protocol breaks its own rules (e.g. folds that share people).
    pub protocol_problems: Vec<String>,
    /// Which protocol, fold and files the splits and the evaluation come from, in words.
    pub protocol_used: Vec<String>,
    /// Wall seconds spent loading.
    pub load_secs: f64,
    /// Whether the decoded images came from the cache.
    pub from_cache: bool,
    /// The cache file the decoded images were read from or saved to (None: not cached).
    pub cache_file: Option<String>,
}

/// Everything training and evaluation need.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Short name, e.g. `synthetic` or `webcaricature:/path`.
    pub name: String,
    pub images: ImageSet,
    pub splits: Splits,
    /// The published protocol's fold, for real data that ships one; None: the held-out split.
    pub protocol: Option<Protocol>,
    /// What is evaluated, in facts (pair counts filled in at load for a published protocol,
    /// by the evaluation for generated pairs).
    pub facts: ProtocolFacts,
    /// How many published folds the copy has (None: it holds out identities of its own), so
    /// the window can offer the others.
    pub published_folds: Option<usize>,
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
    for line in &report.protocol_used {
        lines.push(format!("protocol used: {line}"));
    }
    for problem in &report.protocol_problems {
        lines.push(format!("protocol: {problem}"));
    }
    lines.join("\n")
}

/// What a load reports and obeys: how far it is (for a bar), how many files it has decoded of
/// how many, and whether it should stop. A closure `Fn(f32)` is a monitor that only hears the
/// fraction and never cancels.
pub trait LoadMonitor: Sync {
    /// Non-decreasing values in 0..=1, from any thread.
    fn fraction(&self, fraction: f32);
    /// Files decoded so far of the total (from any thread).
    fn files(&self, _done: usize, _total: usize) {}
    /// Whether the load should stop as soon as it can (it then fails as cancelled).
    fn cancelled(&self) -> bool {
        false
    }
}

impl<F: Fn(f32) + Sync> LoadMonitor for F {
    fn fraction(&self, fraction: f32) {
        self(fraction)
    }
}
