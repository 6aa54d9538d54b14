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
//! - **Splits** ([`seeded_splits`]) are always seeded identity splits, also when the dataset ships
//!   a protocol; see the dataset modules for how the protocol relates to them.

use std::time::Instant;

use crate::data::Dataset;

mod assemble;
mod cache;
pub mod cavi;
mod decode;
pub mod detect;
mod folder;
mod options;
mod read;
mod scan;
pub mod webcaricature;

pub use assemble::{protocol_open_only, seeded_splits};
pub use decode::{CropRect, decode_image, landmark_crop, parse_landmarks};
pub use detect::{EXPECTED_LAYOUTS, Layout, detect_layout};
pub use options::{
    DatasetSpec, LoadError, LoadOptions, MAX_IMAGE_ALLOC, MAX_IMAGE_FILE, MAX_IMAGE_SIDE,
    MAX_OUTPUT_SIDE, SPEC_FORMS, default_cache_dir,
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
    progress: &(dyn Fn(f32) + Sync),
) -> Result<Dataset, LoadError> {
    let path = match spec {
        DatasetSpec::Synthetic => return Err(LoadError::Synthetic),
        DatasetSpec::WebCaricature(p) | DatasetSpec::Cavi(p) | DatasetSpec::Folder(p) => p,
    };
    options::check_options(path, opts)?;
    let start = Instant::now();
    progress(0.0);
    let mut dataset = match spec {
        DatasetSpec::Synthetic => return Err(LoadError::Synthetic),
        DatasetSpec::WebCaricature(p) => webcaricature::load(p, opts, progress)?,
        DatasetSpec::Cavi(p) => cavi::load(p, opts, progress)?,
        DatasetSpec::Folder(p) => folder::load_folder(p, opts, progress)?,
    };
    dataset.name = spec.to_string();
    dataset.report.load_secs = start.elapsed().as_secs_f64();
    progress(1.0);
    Ok(dataset)
}
