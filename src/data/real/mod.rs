//! Loading real caricature/photo datasets from the user's disk.
//!
//! Three layouts are understood (see [`DatasetSpec`]):
//! - `webcaricature:PATH`: WebCaricature (`OriginalImages/`, `FacialPoints/`, `EvaluationProtocols/`),
//!   see [`webcaricature`];
//! - `cavi:PATH`: CaVI (`CaVI_Dataset/{Caricature,Real}/<Name>/…`), see [`cavi`];
//! - `folder:PATH`: a generic tree `PATH/<identity>/{photo,caricature}/…` (also `photos/`,
//!   `caricatures/`, any letter case; images may sit in sub-folders of those two folders).
//!
//! What every loader shares, implemented here:
//! - **Read-only.** Files are only opened for reading; nothing is ever written under the dataset
//!   folder (the cache lives in the cache folder, and is not written at all if that folder lies
//!   inside the dataset folder).
//! - **Only regular files are opened, and never read past a limit.** What a path resolves to is
//!   looked at before it is opened: FIFOs (opening one waits for a writer), sockets and devices
//!   (`/dev/zero` never ends) are listed in [`LoadReport::skipped_images`] as `"not a regular
//!   file (fifo)"` and never opened; a landmark or protocol file of that kind is a
//!   `protocol_problems` line. Every read stops one byte past its limit ([`MAX_IMAGE_FILE`] for
//!   images, 64 MiB for text files, 64 GiB for the cache), since the size on disk can lie.
//! - **Each real folder is walked once and each real file read once.** Links are followed, and
//!   every folder and file is known by its canonical path (`fs::canonicalize`). The walk runs
//!   twice: first without following any link, which takes every folder and file at its own place
//!   in the tree (its path has no link on the way); then following links, when a link to
//!   something already taken, or to an enclosing folder, is not followed. So:
//!   - a file reached under two names keeps its own place: `Bob/` a link to `Ann/` loads Ann's
//!     images once, as Ann's, and `Bob` is reported `"same folder as …/Ann"`; a link in `Ann/`
//!     to one of Bob's files is reported `"same file as …"`, and the image stays Bob's;
//!   - a link to `.`, `..` or any enclosing folder is reported `"symbolic link loop: leads back
//!     to …"` and not followed; a link chain that never ends (`a → b → a`) and a dangling link
//!     are reported with the reason;
//!   - a link to something outside the dataset root (or outside the folders its layout reads) is
//!     followed: the data is the user's to arrange. It is de-duplicated all the same, and when two
//!     links reach the same such target, the first in the sorted walk keeps it.
//!
//!   Repeated person folders are listed in `skipped_images` with the reason. Identity is the
//!   canonical path: hard links and copies of a file are separate files.
//! - **Bad files are skipped, never fatal.** Zero-byte, truncated, unreadable files, files whose
//!   content is not JPEG/PNG whatever their extension, and images whose header claims more than
//!   [`MAX_IMAGE_SIDE`] pixels a side (refused before any pixel is decoded) are listed in
//!   [`LoadReport::skipped_images`] with the reason. Loading fails only when nothing usable remains,
//!   or when the folder does not have the expected layout (one error saying what was expected).
//! - **Decoding** runs in parallel (rayon): decode → crop (landmark box or whole frame) → resize to
//!   `image_size`² with a triangle filter (the crop is stretched to a square, as the authors'
//!   code does) → `u8` RGB.
//! - **Cache.** The decoded pixels are stored in one binary file in the cache folder
//!   (`$XDG_CACHE_HOME/cari-mtl` or `$HOME/.cache/cari-mtl` by default), named after the dataset kind,
//!   canonical root and image size, and holding a key that hashes every source file's path, size and
//!   modification time (images and landmark files). Any change in the tree changes the key and the
//!   cache is rebuilt. The file is written to a temporary name and renamed; it ends with a checksum,
//!   and a corrupt cache is ignored, rebuilt, and mentioned in the report.
//! - **Report lines without a dedicated field.** [`LoadReport`] has no free-form notes field, so
//!   a malformed landmark file goes to `protocol_problems` (it is an annotation file, written
//!   `"file:line: reason; whole image used"`), and a cache problem goes to `skipped_images` as
//!   `(cache file path, reason)`.
//! - **Splits follow the published protocol** where the copy has one: WebCaricature's fold `k`
//!   (View 2's pairs, C2P/P2C split `k`, training on everyone else) and CaVI's own train/test
//!   lists; `LoadOptions::fold` picks the fold (default 1). A fold that cannot be evaluated (e.g.
//!   no mismatched pair) is a [`LoadError::UnusableProtocol`] naming the file and the fold.
//!   Data without a published protocol (the `folder:` layout, CaVI with pair lists only,
//!   WebCaricature without protocol files) gets the seeded identity split of [`seeded_splits`]
//!   and refuses a fold. The report's `protocol_used` lines say which applied.

use std::time::Instant;

use crate::data::Dataset;
use crate::data::dataset::LoadMonitor;

mod assemble;
mod cache;
pub mod cavi;
mod decode;
pub mod detect;
mod folder;
mod options;
mod protocol;
mod read;
mod scan;
pub mod webcaricature;

pub use assemble::seeded_splits;
pub use decode::{CropRect, decode_image, landmark_crop, parse_landmarks};
pub use detect::{EXPECTED_LAYOUTS, Layout, detect_layout};
pub use options::{
    DatasetSpec, FoldCount, LoadError, LoadOptions, MAX_IMAGE_ALLOC, MAX_IMAGE_FILE,
    MAX_IMAGE_SIDE, MAX_OUTPUT_SIDE, SPEC_FORMS, default_cache_dir,
};

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;

/// Loads a real dataset. `progress` receives a fraction in `0..=1` (non-decreasing; it may be
/// called from worker threads).
pub fn load_real(
    spec: &DatasetSpec,
    opts: &LoadOptions,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, LoadError> {
    let path = match spec {
        DatasetSpec::Synthetic => return Err(LoadError::Synthetic),
        DatasetSpec::WebCaricature(p) | DatasetSpec::Cavi(p) | DatasetSpec::Folder(p) => p,
    };
    options::check_options(path, opts)?;
    let start = Instant::now();
    progress.fraction(0.0);
    let mut dataset = match spec {
        DatasetSpec::Synthetic => return Err(LoadError::Synthetic),
        DatasetSpec::WebCaricature(p) => webcaricature::load(p, opts, progress)?,
        DatasetSpec::Cavi(p) => cavi::load(p, opts, progress)?,
        DatasetSpec::Folder(p) => folder::load_folder(p, opts, progress)?,
    };
    dataset.name = spec.to_string();
    dataset.report.load_secs = start.elapsed().as_secs_f64();
    progress.fraction(1.0);
    Ok(dataset)
}

/// The published folds of the copy `spec` names, read from its protocol files only (no image is
/// decoded); None when it has none (the `folder:` layout, CaVI with pair lists only,
/// WebCaricature without protocol files).
pub fn published_folds(spec: &DatasetSpec) -> Result<Option<FoldCount>, LoadError> {
    match spec {
        DatasetSpec::Synthetic => Err(LoadError::Synthetic),
        DatasetSpec::WebCaricature(p) => webcaricature::fold_count(p),
        DatasetSpec::Cavi(p) => cavi::fold_count(p),
        DatasetSpec::Folder(_) => Ok(None),
    }
}
