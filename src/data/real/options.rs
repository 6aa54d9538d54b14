//! What a real-data load is asked for and how it can fail: the dataset spec, the options,
//! the errors, and the limits on what is read.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Largest accepted image width or height; larger headers are refused before decoding.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Largest allocation the decoder may make for one image.
pub const MAX_IMAGE_ALLOC: u64 = 512 * 1024 * 1024;
/// Largest image file read.
pub const MAX_IMAGE_FILE: u64 = 256 * 1024 * 1024;
/// Largest accepted `image_size`.
pub const MAX_OUTPUT_SIDE: usize = 1024;
/// Largest landmark or protocol file read (bigger ones are reported, not read).
pub(crate) const MAX_TEXT_FILE: u64 = 64 * 1024 * 1024;
/// Largest cache file read: more than the decoded pixels of any set this program holds in memory
/// (WebCaricature at the largest `image_size` is about 38 GB); a bigger file is treated as corrupt.
pub(crate) const MAX_CACHE_FILE: u64 = 64 * 1024 * 1024 * 1024;
/// How deep the `folder:` layout looks for images below a `photo/` or `caricature/` folder, and
/// WebCaricature for protocol files below `EvaluationProtocols/`.
pub(crate) const MAX_NESTING: usize = 4;

/// Which dataset to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatasetSpec {
    /// The embedded generator; not loaded by [`load_real`].
    Synthetic,
    WebCaricature(PathBuf),
    Cavi(PathBuf),
    /// `PATH/<identity>/{photo,caricature}/…`
    Folder(PathBuf),
}

/// The accepted forms, for messages.
pub const SPEC_FORMS: &str = "`synthetic`, `webcaricature:PATH`, `cavi:PATH` or `folder:PATH`";

impl DatasetSpec {
    /// The folder of a real dataset (None for the synthetic set).
    pub fn path(&self) -> Option<&Path> {
        match self {
            DatasetSpec::Synthetic => None,
            DatasetSpec::WebCaricature(p) | DatasetSpec::Cavi(p) | DatasetSpec::Folder(p) => {
                Some(p)
            }
        }
    }
}

impl FromStr for DatasetSpec {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, LoadError> {
        let text = s.trim();
        let bad = || LoadError::BadSpec {
            spec: s.to_string(),
        };
        if text.eq_ignore_ascii_case("synthetic") {
            return Ok(DatasetSpec::Synthetic);
        }
        let (kind, path) = text.split_once(':').ok_or_else(bad)?;
        if path.is_empty() {
            return Err(bad());
        }
        let path = PathBuf::from(path);
        match kind.to_ascii_lowercase().as_str() {
            "webcaricature" => Ok(DatasetSpec::WebCaricature(path)),
            "cavi" => Ok(DatasetSpec::Cavi(path)),
            "folder" => Ok(DatasetSpec::Folder(path)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetSpec::Synthetic => write!(f, "synthetic"),
            DatasetSpec::WebCaricature(p) => write!(f, "webcaricature:{}", p.display()),
            DatasetSpec::Cavi(p) => write!(f, "cavi:{}", p.display()),
            DatasetSpec::Folder(p) => write!(f, "folder:{}", p.display()),
        }
    }
}

/// How to load a real dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Side of the stored square images, 1..=[`MAX_OUTPUT_SIDE`].
    pub image_size: usize,
    /// Seed of the identity split and of the closed-set test draw.
    pub seed: u64,
    /// Closed-set test images per training identity and modality (default 2). An identity with
    /// this many images of a modality or fewer keeps them all for training.
    pub test_per_modality: usize,
    /// Share of the identities that have both modalities held out as the open set (default 0.2).
    pub open_fraction: f64,
    /// Where the decoded-image cache lives; `None` = [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Read and write the cache.
    pub use_cache: bool,
    /// The published fold or split to use, 1-based; None = fold 1 for datasets that ship a
    /// protocol. Refused by layouts that have none.
    pub fold: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            image_size: 160,
            seed: 0,
            test_per_modality: 2,
            open_fraction: 0.2,
            cache_dir: None,
            use_cache: true,
            fold: None,
        }
    }
}

impl LoadOptions {
    /// The fold to use where the dataset ships folds: the one asked for, else fold 1.
    pub fn fold_or_first(&self) -> usize {
        self.fold.unwrap_or(1)
    }
}

/// How many published folds a dataset copy has, and where they come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldCount {
    pub count: usize,
    /// The files that define them, e.g. "View 2 of EvaluationProtocols/…/RestrictedView2.txt".
    pub source: String,
}

/// Why a real dataset could not be loaded. Every message names the path and the cause.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "the synthetic dataset is generated, not read from disk: use the synthetic generator instead of load_real"
    )]
    Synthetic,
    #[error("unknown dataset `{spec}`: expected {SPEC_FORMS}")]
    BadSpec { spec: String },
    #[error("invalid load options for {}: {detail}", path.display())]
    BadOptions { path: PathBuf, detail: String },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a folder", path.display())]
    NotADirectory { path: PathBuf },
    #[error("expected {expected} under {} ({layout} layout){hint}", path.display())]
    WrongLayout {
        path: PathBuf,
        expected: &'static str,
        layout: &'static str,
        /// Extra words, e.g. "; this looks like a CaVI tree: use cavi:PATH"; may be empty.
        hint: String,
    },
    #[error("no usable images under {}: {detail}", path.display())]
    NoImages { path: PathBuf, detail: String },
    #[error("fold {fold} asked of {}, which has no published folds: {why}; leave --fold out", path.display())]
    NoFolds {
        path: PathBuf,
        fold: usize,
        why: String,
    },
    #[error("fold {fold} does not exist in {}: its protocol has folds 1 to {count} ({source_files})", path.display())]
    NoSuchFold {
        path: PathBuf,
        fold: usize,
        count: usize,
        source_files: String,
    },
    #[error("cannot evaluate the protocol of {}: {detail}", path.display())]
    UnusableProtocol { path: PathBuf, detail: String },
    #[error("loading {} was cancelled", path.display())]
    Cancelled { path: PathBuf },
}

pub(crate) fn check_options(path: &Path, opts: &LoadOptions) -> Result<(), LoadError> {
    let bad = |detail: String| LoadError::BadOptions {
        path: path.to_path_buf(),
        detail,
    };
    if opts.image_size == 0 || opts.image_size > MAX_OUTPUT_SIDE {
        return Err(bad(format!(
            "image_size {} is outside 1..={MAX_OUTPUT_SIDE}",
            opts.image_size
        )));
    }
    if opts.fold == Some(0) {
        return Err(bad("fold 0: folds are numbered from 1".to_string()));
    }
    if !(0.0..=1.0).contains(&opts.open_fraction) {
        return Err(bad(format!(
            "open_fraction {} is outside 0..=1",
            opts.open_fraction
        )));
    }
    Ok(())
}

/// `$XDG_CACHE_HOME/cari-mtl`, else `$HOME/.cache/cari-mtl`, else `%LOCALAPPDATA%\cari-mtl`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(p) = var("XDG_CACHE_HOME") {
        return Some(p.join("cari-mtl"));
    }
    if let Some(p) = var("HOME") {
        return Some(p.join(".cache").join("cari-mtl"));
    }
    var("LOCALAPPDATA").map(|p| p.join("cari-mtl"))
}
