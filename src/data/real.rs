//! Loading real caricature/photo datasets from the user's disk.
//!
//! Three layouts are understood (see [`DatasetSpec`]):
//! - `webcaricature:PATH`: WebCaricature (`OriginalImages/`, `FacialPoints/`, `EvaluationProtocols/`),
//!   see [`super::webcaricature`];
//! - `cavi:PATH`: CaVI (`CaVI_Dataset/{Caricature,Real}/<Name>/…`), see [`super::cavi`];
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, UNIX_EPOCH};

use image::imageops::{self, FilterType};
use image::{ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    Dataset, IdentificationFold, ImageSet, LoadReport, Modality, Protocol, Sample, Splits,
};

/// Largest accepted image width or height; larger headers are refused before decoding.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Largest allocation the decoder may make for one image.
pub const MAX_IMAGE_ALLOC: u64 = 512 * 1024 * 1024;
/// Largest image file read.
pub const MAX_IMAGE_FILE: u64 = 256 * 1024 * 1024;
/// Largest accepted `image_size`.
pub const MAX_OUTPUT_SIDE: usize = 1024;
/// Largest landmark or protocol file read (bigger ones are reported, not read).
const MAX_TEXT_FILE: u64 = 64 * 1024 * 1024;

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
        }
    }
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
}

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
    check_options(path, opts)?;
    let start = Instant::now();
    progress(0.0);
    let mut dataset = match spec {
        DatasetSpec::Synthetic => return Err(LoadError::Synthetic),
        DatasetSpec::WebCaricature(p) => super::webcaricature::load(p, opts, progress)?,
        DatasetSpec::Cavi(p) => super::cavi::load(p, opts, progress)?,
        DatasetSpec::Folder(p) => load_folder(p, opts, progress)?,
    };
    dataset.name = spec.to_string();
    dataset.report.load_secs = start.elapsed().as_secs_f64();
    progress(1.0);
    Ok(dataset)
}

fn check_options(path: &Path, opts: &LoadOptions) -> Result<(), LoadError> {
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

// ---------------------------------------------------------------------------------------------
// File-system helpers shared by the loaders.

/// One directory entry, following symbolic links.
pub(crate) struct DirItem {
    pub name: String,
    pub path: PathBuf,
    pub is_dir: bool,
}

/// The entries of `dir`, sorted by name. Entries whose metadata cannot be read are treated as files
/// (opening them later reports the cause).
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<DirItem>, LoadError> {
    let io_err = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut items = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        let is_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        items.push(DirItem {
            name: entry.file_name().to_string_lossy().into_owned(),
            path,
            is_dir,
        });
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(items)
}

/// The person folders in `dir` (a `<root>/<Person>/` layout), sorted by name: system files are
/// skipped silently, any other file is reported in `report` as not read.
pub(crate) fn person_dirs(dir: &Path, report: &mut LoadReport) -> Result<Vec<DirItem>, LoadError> {
    let mut people = Vec::new();
    for item in list_dir(dir)? {
        if is_ignored_file(&item.name) {
            continue;
        }
        if item.is_dir {
            people.push(item);
        } else {
            report.skipped_images.push((
                item.path.display().to_string(),
                "not inside a person folder: not read".to_string(),
            ));
        }
    }
    Ok(people)
}

/// The sub-folder of `dir` called `name`, matched exactly first, then ignoring letter case.
pub(crate) fn find_child_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    let exact = dir.join(name);
    if exact.is_dir() {
        return Some(exact);
    }
    let entries = fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(name))
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

/// System files skipped without a report line (`Thumbs.db`, `desktop.ini`, dot files).
pub(crate) fn is_ignored_file(name: &str) -> bool {
    name.starts_with('.')
        || name.eq_ignore_ascii_case("thumbs.db")
        || name.eq_ignore_ascii_case("desktop.ini")
}

/// Whether the extension is one we decode (`.jpg`, `.jpeg`, `.png`, any case).
pub(crate) fn has_image_extension(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".jpg") || lower.ends_with(".jpeg") || lower.ends_with(".png")
}

pub(crate) const NOT_AN_IMAGE: &str = "not an image file (only .jpg, .jpeg and .png are read)";

/// `name` without its last extension.
pub(crate) fn file_stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// The canonical form of a dataset root, or the error saying why it cannot be used.
pub(crate) fn check_root(path: &Path) -> Result<PathBuf, LoadError> {
    let meta = fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    fs::canonicalize(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Which layout `root` looks like, for hints in wrong-layout errors.
pub(crate) fn layout_hint(root: &Path, asked: &str) -> String {
    let guess = if find_child_dir(root, "OriginalImages").is_some() {
        Some(("a WebCaricature", "webcaricature"))
    } else if find_child_dir(root, "CaVI_Dataset").is_some()
        || (find_child_dir(root, "Caricature").is_some() && find_child_dir(root, "Real").is_some())
    {
        Some(("a CaVI", "cavi"))
    } else if looks_like_folder_layout(root) {
        Some(("a <identity>/{photo,caricature}", "folder"))
    } else {
        None
    };
    match guess {
        Some((what, kind)) if kind != asked => {
            format!(
                "; this looks like {what} tree: use {kind}:{}",
                root.display()
            )
        }
        _ => String::new(),
    }
}

/// Reads a small text file (landmarks, protocols) as UTF-8 (lossy).
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_TEXT_FILE {
        return Err(format!("file too large ({} bytes)", meta.len()));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `path` relative to `root` with `/` separators, for report lines.
pub(crate) fn rel_display(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

// ---------------------------------------------------------------------------------------------
// Decoding, cropping, resizing.

/// Decodes one image with size limits. The content decides the format, not the extension.
pub fn decode_image(path: &Path) -> Result<RgbImage, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len == 0 {
        return Err("empty file (0 bytes)".to_string());
    }
    if len > MAX_IMAGE_FILE {
        return Err(format!(
            "file too large ({len} bytes; at most {MAX_IMAGE_FILE} are read)"
        ));
    }
    let mut data = Vec::with_capacity(len as usize);
    file.read_to_end(&mut data)
        .map_err(|e| format!("cannot read: {e}"))?;
    let format = match image::guess_format(&data[..data.len().min(32)]) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        Ok(other) => {
            return Err(format!(
                "unsupported image format {other:?} (only JPEG and PNG are read)"
            ));
        }
        Err(_) => return Err("not a JPEG or PNG image (unrecognised content)".to_string()),
    };
    // The JPEG decoder fills a cut-off scan with grey instead of failing: refuse it here.
    if format == ImageFormat::Jpeg && !jpeg_has_end(&data) {
        return Err(format!(
            "truncated JPEG: no end-of-image marker after the image data ({len} bytes)"
        ));
    }
    let mut reader = ImageReader::with_format(io::Cursor::new(&data), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| describe_image_error(&e))?;
    if img.width() == 0 || img.height() == 0 {
        return Err("image has no pixels (0 width or height)".to_string());
    }
    Ok(img.into_rgb8())
}

/// Whether an end-of-image marker (FF D9) follows the first start-of-scan marker (FF DA).
/// Inside entropy-coded data FF is always followed by 00 or a restart marker, so FF D9 there is
/// the real end; bytes after it (some cameras append data) are allowed.
fn jpeg_has_end(data: &[u8]) -> bool {
    let Some(sos) = data.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    data[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn describe_image_error(e: &ImageError) -> String {
    match e {
        ImageError::Limits(l) => format!(
            "refused before decoding: {l} (at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels)"
        ),
        ImageError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            format!("truncated image: {io}")
        }
        ImageError::IoError(io) => format!("read error: {io}"),
        ImageError::Decoding(d) => format!("corrupt or truncated image: {d}"),
        ImageError::Unsupported(u) => format!("unsupported image: {u}"),
        other => format!("cannot decode: {other}"),
    }
}

/// A crop rectangle in source pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The authors' crop: the landmarks' bounding box around its centre, widened ×1.5 and heightened
/// ×1.2, clipped to the image (edges rounded outwards). `None` when nothing of it lies inside.
pub fn landmark_crop(points: &[(f64, f64)], width: u32, height: u32) -> Option<CropRect> {
    let first = points.first()?;
    let (mut x0, mut y0, mut x1, mut y1) = (first.0, first.1, first.0, first.1);
    for &(x, y) in points {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (hw, hh) = ((x1 - x0) * 1.5 / 2.0, (y1 - y0) * 1.2 / 2.0);
    let left = (cx - hw).floor().max(0.0);
    let top = (cy - hh).floor().max(0.0);
    let right = (cx + hw).ceil().min(f64::from(width));
    let bottom = (cy + hh).ceil().min(f64::from(height));
    if right - left < 1.0 || bottom - top < 1.0 {
        return None;
    }
    // All four are integral and within 0..=u32::MAX here.
    Some(CropRect {
        x: left as u32,
        y: top as u32,
        width: (right - left) as u32,
        height: (bottom - top) as u32,
    })
}

/// Parses a WebCaricature landmark file: 17 lines `x y` (blank lines ignored).
/// On failure: (1-based line, reason).
pub fn parse_landmarks(text: &str) -> Result<Vec<(f64, f64)>, (usize, String)> {
    const WANT: usize = 17;
    let mut points = Vec::with_capacity(WANT);
    let mut last_line = 1;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            continue;
        }
        last_line = line_no;
        if fields.len() != 2 {
            return Err((
                line_no,
                format!("expected `x y`, found {} fields", fields.len()),
            ));
        }
        let parse = |f: &str| f.parse::<f64>().ok().filter(|v| v.is_finite());
        match (parse(fields[0]), parse(fields[1])) {
            (Some(x), Some(y)) => points.push((x, y)),
            _ => return Err((line_no, format!("`{}` is not two numbers", line.trim()))),
        }
    }
    if points.len() != WANT {
        return Err((
            last_line,
            format!("expected {WANT} points, found {}", points.len()),
        ));
    }
    Ok(points)
}

/// Where an image's crop comes from.
#[derive(Clone, Debug)]
pub(crate) enum Landmarks {
    /// The layout has no landmarks: whole image, nothing counted.
    NotUsed,
    /// Landmark file to read.
    File(PathBuf),
    /// The layout has landmarks but this image has none: whole image, counted as missing.
    Missing,
}

/// One image file to load.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub path: PathBuf,
    /// Index into the loader's identity names.
    pub identity: usize,
    pub modality: Modality,
    /// Loader-specific lookup key used by protocol files.
    pub key: String,
    pub landmarks: Landmarks,
}

/// The result of decoding all entries (also what the cache stores).
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Per entry: `None` = loaded, `Some(reason)` = skipped.
    pub outcomes: Vec<Option<String>>,
    /// The loaded images in entry order, `image_size² × 3` bytes each.
    pub pixels: Vec<u8>,
    /// Landmark-file problems, `"file:line: reason; whole image used"` (path relative to the root).
    pub landmark_notes: Vec<String>,
    pub missing_landmarks: usize,
}

struct EntryResult {
    outcome: Option<String>,
    note: Option<String>,
    missing: bool,
}

fn process_entry(root: &Path, entry: &Entry, size: u32, out: &mut [u8]) -> EntryResult {
    let img = match decode_image(&entry.path) {
        Ok(img) => img,
        Err(reason) => {
            return EntryResult {
                outcome: Some(reason),
                note: None,
                missing: false,
            };
        }
    };
    let (w, h) = img.dimensions();
    let mut note = None;
    let mut missing = false;
    let crop = match &entry.landmarks {
        Landmarks::NotUsed => None,
        Landmarks::Missing => {
            missing = true;
            None
        }
        Landmarks::File(file) => match read_text(file) {
            Err(reason) => {
                let file = rel_display(root, file);
                note = Some(format!("{file}:1: {reason}; whole image used"));
                None
            }
            Ok(text) => match parse_landmarks(&text) {
                Err((line, reason)) => {
                    let file = rel_display(root, file);
                    note = Some(format!("{file}:{line}: {reason}; whole image used"));
                    None
                }
                Ok(points) => {
                    let rect = landmark_crop(&points, w, h);
                    if rect.is_none() {
                        note = Some(format!(
                            "{}:1: landmarks lie outside the {w}x{h} image; whole image used",
                            rel_display(root, file)
                        ));
                    }
                    rect
                }
            },
        },
    };
    let rect = crop.unwrap_or(CropRect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    });
    let view = imageops::crop_imm(&img, rect.x, rect.y, rect.width, rect.height);
    let resized = imageops::resize(&*view, size, size, FilterType::Triangle);
    out.copy_from_slice(resized.as_raw());
    EntryResult {
        outcome: None,
        note,
        missing,
    }
}

/// Decodes every entry in parallel. Progress goes from `from` to `to`.
pub(crate) fn decode_all(
    root: &Path,
    entries: &[Entry],
    image_size: usize,
    progress: &(dyn Fn(f32) + Sync),
    (from, to): (f32, f32),
) -> Decoded {
    let len = image_size * image_size * 3;
    let size = u32::try_from(image_size).unwrap_or(u32::MAX);
    let mut pixels = vec![0u8; entries.len() * len];
    let total = entries.len().max(1);
    let done = AtomicUsize::new(0);
    let last_step = Mutex::new(0usize);
    let results: Vec<EntryResult> = pixels
        .par_chunks_mut(len)
        .zip(entries.par_iter())
        .map(|(out, entry)| {
            let r = process_entry(root, entry, size, out);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let step = n * 200 / total;
            if let Ok(mut last) = last_step.lock()
                && step > *last
            {
                *last = step;
                progress(from + (to - from) * step as f32 / 200.0);
            }
            r
        })
        .collect();
    let mut decoded = Decoded::default();
    let mut write = 0;
    for (i, r) in results.into_iter().enumerate() {
        if r.outcome.is_none() {
            if write != i {
                pixels.copy_within(i * len..(i + 1) * len, write * len);
            }
            write += 1;
        }
        decoded.missing_landmarks += usize::from(r.missing && r.outcome.is_none());
        decoded.landmark_notes.extend(r.note);
        decoded.outcomes.push(r.outcome);
    }
    pixels.truncate(write * len);
    decoded.pixels = pixels;
    decoded
}

// ---------------------------------------------------------------------------------------------
// Cache.

const CACHE_MAGIC: &[u8; 8] = b"CARIMTL\x01";
const CACHE_VERSION: u32 = 1;

/// 128-bit FNV-1a, stable across builds (for the cache key and file name).
struct Fnv128(u128);

impl Fnv128 {
    fn new() -> Self {
        Fnv128(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }
    fn bytes(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u128::from(b);
            self.0 = self
                .0
                .wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
        // Separator so that ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self
            .0
            .wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn path(&mut self, p: &Path) {
        self.bytes(p.as_os_str().as_encoded_bytes());
    }
}

/// A fast checksum of a large buffer (corruption detection, not security).
fn checksum(data: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let chunk_hash = |chunk: &[u8]| {
        let mut h = 0x9e37_79b9_7f4a_7c15u64;
        let mut words = chunk.chunks_exact(8);
        for w in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(w);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        for &b in words.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        h
    };
    let parts: Vec<u64> = data.par_chunks(1 << 20).map(chunk_hash).collect();
    let mut h = (data.len() as u64).wrapping_mul(K);
    for p in parts {
        h = (h.rotate_left(5) ^ p).wrapping_mul(K);
    }
    h
}

/// (size, modification time in ns since the epoch) of a file.
type Stamp = (u64, u128);

fn file_stamp(path: &Path) -> Stamp {
    match fs::metadata(path) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (m.len(), mtime)
        }
        Err(_) => (u64::MAX, 0),
    }
}

/// Hash of everything the decoded pixels depend on.
fn cache_key(kind: &str, root: &Path, image_size: usize, entries: &[Entry]) -> u128 {
    let stamps: Vec<(Stamp, Option<Stamp>)> = entries
        .par_iter()
        .map(|e| {
            let lm = match &e.landmarks {
                Landmarks::File(p) => Some(file_stamp(p)),
                _ => None,
            };
            (file_stamp(&e.path), lm)
        })
        .collect();
    let mut h = Fnv128::new();
    h.u64(u64::from(CACHE_VERSION));
    h.bytes(kind.as_bytes());
    h.path(root);
    h.u64(image_size as u64);
    h.u64(entries.len() as u64);
    for (e, ((len, mtime), lm)) in entries.iter().zip(stamps) {
        h.path(&e.path);
        h.u64(len);
        h.bytes(&mtime.to_le_bytes());
        h.u64(e.identity as u64);
        h.bytes(e.modality.as_str().as_bytes());
        match (&e.landmarks, lm) {
            (Landmarks::File(p), Some((l, t))) => {
                h.path(p);
                h.u64(l);
                h.bytes(&t.to_le_bytes());
            }
            (Landmarks::Missing, _) => h.bytes(b"missing"),
            _ => h.bytes(b"none"),
        }
    }
    h.0
}

#[derive(Serialize, Deserialize)]
struct CacheMeta {
    key: String,
    image_size: usize,
    outcomes: Vec<Option<String>>,
    landmark_notes: Vec<String>,
    missing_landmarks: usize,
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// `Ok(None)`: no cache or a stale one. `Err`: the file is corrupt.
fn read_cache(
    path: &Path,
    key: u128,
    image_size: usize,
    n: usize,
) -> Result<Option<Decoded>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut r = BufReader::new(file);
    let io = |e: io::Error| format!("truncated or unreadable: {e}");
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(io)?;
    if &magic != CACHE_MAGIC {
        return Err("not a cari-mtl cache file (bad magic)".to_string());
    }
    let mut version = [0u8; 4];
    r.read_exact(&mut version).map_err(io)?;
    if u32::from_le_bytes(version) != CACHE_VERSION {
        // An older format: rebuilt silently, like a stale cache.
        return Ok(None);
    }
    let meta_len = read_u64(&mut r).map_err(io)?;
    if meta_len > file_len {
        return Err(format!("header claims {meta_len} bytes of metadata"));
    }
    let mut meta_bytes = vec![0u8; meta_len as usize];
    r.read_exact(&mut meta_bytes).map_err(io)?;
    let meta: CacheMeta =
        serde_json::from_slice(&meta_bytes).map_err(|e| format!("bad metadata: {e}"))?;
    if meta.key != format!("{key:032x}") {
        return Ok(None);
    }
    let image_len = image_size * image_size * 3;
    let ok = meta.outcomes.iter().filter(|o| o.is_none()).count();
    if meta.image_size != image_size || meta.outcomes.len() != n {
        return Err("metadata does not match the dataset".to_string());
    }
    let pixels_len = read_u64(&mut r).map_err(io)?;
    let expected_file = 8 + 4 + 8 + meta_len + 8 + pixels_len + 8;
    if pixels_len != (ok * image_len) as u64 || expected_file != file_len {
        return Err(format!(
            "size mismatch ({file_len} bytes on disk, {expected_file} expected)"
        ));
    }
    let mut pixels = vec![0u8; pixels_len as usize];
    r.read_exact(&mut pixels).map_err(io)?;
    let stored = read_u64(&mut r).map_err(io)?;
    let mut head = Fnv128::new();
    head.bytes(&meta_bytes);
    let sum = checksum(&pixels) ^ (head.0 as u64);
    if sum != stored {
        return Err("checksum mismatch".to_string());
    }
    Ok(Some(Decoded {
        outcomes: meta.outcomes,
        pixels,
        landmark_notes: meta.landmark_notes,
        missing_landmarks: meta.missing_landmarks,
    }))
}

fn write_cache(path: &Path, key: u128, image_size: usize, d: &Decoded) -> Result<(), String> {
    let dir = path.parent().ok_or("cache path has no folder")?;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = CacheMeta {
        key: format!("{key:032x}"),
        image_size,
        outcomes: d.outcomes.clone(),
        landmark_notes: d.landmark_notes.clone(),
        missing_landmarks: d.missing_landmarks,
    };
    let meta_bytes = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
    let mut head = Fnv128::new();
    head.bytes(&meta_bytes);
    let sum = checksum(&d.pixels) ^ (head.0 as u64);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let tmp = dir.join(format!(
        ".{file_name}.tmp{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let mut w = BufWriter::new(File::create(&tmp)?);
        w.write_all(CACHE_MAGIC)?;
        w.write_all(&CACHE_VERSION.to_le_bytes())?;
        w.write_all(&(meta_bytes.len() as u64).to_le_bytes())?;
        w.write_all(&meta_bytes)?;
        w.write_all(&(d.pixels.len() as u64).to_le_bytes())?;
        w.write_all(&d.pixels)?;
        w.write_all(&sum.to_le_bytes())?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(format!("cannot write: {e}"));
    }
    Ok(())
}

/// Whether `dir` (existing or not) is `root` or lies below it (`root` canonical).
fn lies_inside(dir: &Path, root: &Path) -> bool {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(dir),
            Err(_) => return false,
        }
    };
    abs.ancestors()
        .find_map(|a| fs::canonicalize(a).ok())
        .is_some_and(|c| c.starts_with(root))
}

/// Decodes the entries, or reads them from the cache when the key matches; writes the cache after
/// decoding. Cache problems become report lines. Progress runs from 0.02 to 0.98.
pub(crate) fn decode_with_cache(
    kind: &str,
    root: &Path,
    entries: &[Entry],
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
    report: &mut LoadReport,
) -> Decoded {
    let cache_dir = if opts.use_cache {
        opts.cache_dir.clone().or_else(default_cache_dir)
    } else {
        None
    };
    let Some(cache_dir) = cache_dir else {
        return decode_all(root, entries, opts.image_size, progress, (0.02, 0.98));
    };
    if lies_inside(&cache_dir, root) {
        report.skipped_images.push((
            cache_dir.display().to_string(),
            "cache folder lies inside the dataset folder: cache not used".to_string(),
        ));
        return decode_all(root, entries, opts.image_size, progress, (0.02, 0.98));
    }
    let mut name_hash = Fnv128::new();
    name_hash.bytes(kind.as_bytes());
    name_hash.path(root);
    name_hash.u64(opts.image_size as u64);
    let path = cache_dir.join(format!(
        "{kind}-{:016x}-{}.bin",
        name_hash.0 as u64, opts.image_size
    ));
    let key = cache_key(kind, root, opts.image_size, entries);
    progress(0.02);
    match read_cache(&path, key, opts.image_size, entries.len()) {
        Ok(Some(decoded)) => {
            report.from_cache = true;
            progress(0.98);
            return decoded;
        }
        Ok(None) => {}
        Err(reason) => report.skipped_images.push((
            path.display().to_string(),
            format!("cache file is corrupt ({reason}): ignored and rebuilt"),
        )),
    }
    let decoded = decode_all(root, entries, opts.image_size, progress, (0.02, 0.98));
    if let Err(reason) = write_cache(&path, key, opts.image_size, &decoded) {
        report.skipped_images.push((
            path.display().to_string(),
            format!("cache not saved: {reason}"),
        ));
    }
    decoded
}

// ---------------------------------------------------------------------------------------------
// Assembling the image set.

/// The loaded images, plus lookups for protocol parsing.
pub(crate) struct Assembled {
    pub images: ImageSet,
    /// Entry key → sample index, for loaded images.
    pub by_key: HashMap<String, usize>,
    /// Keys of entries that were found but not loaded.
    pub skipped_keys: HashSet<String>,
}

/// Builds the image set from decoded entries: skipped files and landmark notes go to the report,
/// identities without any loaded image are dropped (and listed as excluded).
pub(crate) fn assemble(
    root: &Path,
    identity_names: &[String],
    entries: &[Entry],
    decoded: Decoded,
    image_size: usize,
    report: &mut LoadReport,
) -> Result<Assembled, LoadError> {
    report.missing_landmarks += decoded.missing_landmarks;
    report
        .protocol_problems
        .extend(decoded.landmark_notes.iter().cloned());
    let mut used = vec![false; identity_names.len()];
    for (e, o) in entries.iter().zip(&decoded.outcomes) {
        if o.is_none() {
            used[e.identity] = true;
        }
    }
    let mut remap = vec![usize::MAX; identity_names.len()];
    let mut identities = Vec::new();
    for (i, name) in identity_names.iter().enumerate() {
        if used[i] {
            remap[i] = identities.len();
            identities.push(name.clone());
        } else {
            report.excluded_identities.push((
                name.clone(),
                "no usable images: left out of every task".to_string(),
            ));
        }
    }
    let mut samples = Vec::new();
    let mut by_key = HashMap::new();
    let mut skipped_keys = HashSet::new();
    for (e, o) in entries.iter().zip(decoded.outcomes) {
        match o {
            None => {
                by_key.insert(e.key.clone(), samples.len());
                samples.push(Sample {
                    identity: remap[e.identity],
                    modality: e.modality,
                    source: e.path.display().to_string(),
                });
            }
            Some(reason) => {
                skipped_keys.insert(e.key.clone());
                report
                    .skipped_images
                    .push((e.path.display().to_string(), reason));
            }
        }
    }
    if samples.is_empty() {
        let detail = match report.skipped_images.first() {
            None => "no image files found".to_string(),
            Some((p, why)) => format!(
                "{} file(s) found, none could be read (first: {p}: {why})",
                report.skipped_images.len()
            ),
        };
        return Err(LoadError::NoImages {
            path: root.to_path_buf(),
            detail,
        });
    }
    Ok(Assembled {
        images: ImageSet {
            image_size,
            identities,
            samples,
            pixels: decoded.pixels,
        },
        by_key,
        skipped_keys,
    })
}

// ---------------------------------------------------------------------------------------------
// Splits.

/// Seeded identity split (used with and without a protocol).
///
/// - Identities with both modalities: a share `open_fraction` (rounded) is held out as the open
///   set (at least one stays in training when no other identity can be trained on).
/// - Identities with one modality always go to training (they cannot form caricature-photo pairs)
///   and are listed in `excluded` for the tasks they cannot serve.
/// - For each training identity and modality, `test_per_modality` random images go to
///   `closed_test` when it has more than that many, else all stay in `train`.
pub fn seeded_splits(images: &ImageSet, opts: &LoadOptions) -> (Splits, Vec<(String, String)>) {
    let n = images.identities.len();
    let mut by_id: Vec<[Vec<usize>; 2]> = vec![[Vec::new(), Vec::new()]; n];
    for (i, s) in images.samples.iter().enumerate() {
        let m = usize::from(s.modality == Modality::Caricature);
        if let Some(slot) = by_id.get_mut(s.identity) {
            slot[m].push(i);
        }
    }
    let mut both = Vec::new();
    let mut single = Vec::new();
    let mut excluded = Vec::new();
    for (id, [photos, caris]) in by_id.iter().enumerate() {
        match (photos.is_empty(), caris.is_empty()) {
            (false, false) => both.push(id),
            (true, true) => {}
            (photo_less, _) => {
                single.push(id);
                let reason = if photo_less {
                    "no photos: trained for verif and cari-id only; excluded from visual-id and from open-set evaluation"
                } else {
                    "no caricatures: trained for verif and visual-id only; excluded from cari-id and from open-set evaluation"
                };
                excluded.push((images.identities[id].clone(), reason.to_string()));
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut order = both.clone();
    order.shuffle(&mut rng);
    let want = (opts.open_fraction.clamp(0.0, 1.0) * both.len() as f64).round() as usize;
    let keep = usize::from(single.is_empty());
    let n_open = want.min(both.len().saturating_sub(keep));
    let mut open_identities = order[..n_open].to_vec();
    let mut train_identities: Vec<usize> = order[n_open..].iter().chain(&single).copied().collect();
    open_identities.sort_unstable();
    train_identities.sort_unstable();
    let mut splits = Splits::default();
    for &id in &train_identities {
        for list in &by_id[id] {
            let mut list = list.clone();
            if list.len() > opts.test_per_modality {
                list.shuffle(&mut rng);
                splits
                    .closed_test
                    .extend_from_slice(&list[..opts.test_per_modality]);
                splits
                    .train
                    .extend_from_slice(&list[opts.test_per_modality..]);
            } else {
                splits.train.extend(list);
            }
        }
    }
    for &id in &open_identities {
        splits.open.extend(by_id[id].iter().flatten());
    }
    splits.train.sort_unstable();
    splits.closed_test.sort_unstable();
    splits.open.sort_unstable();
    splits.train_identities = train_identities;
    splits.open_identities = open_identities;
    (splits, excluded)
}

/// The part of a protocol that only involves open-set (never trained on) identities: the honest
/// subset when training used [`seeded_splits`]. Pairs keep their fold numbers; identification
/// folds keep their order and may become empty.
pub fn protocol_open_only(protocol: &Protocol, images: &ImageSet, splits: &Splits) -> Protocol {
    let open: HashSet<usize> = splits.open_identities.iter().copied().collect();
    let is_open = |i: usize| {
        images
            .samples
            .get(i)
            .is_some_and(|s| open.contains(&s.identity))
    };
    let folds = |list: &[IdentificationFold]| {
        list.iter()
            .map(|f| IdentificationFold {
                gallery: f.gallery.iter().copied().filter(|&i| is_open(i)).collect(),
                probes: f.probes.iter().copied().filter(|&i| is_open(i)).collect(),
            })
            .collect()
    };
    Protocol {
        verification: protocol
            .verification
            .iter()
            .filter(|p| is_open(p.a) && is_open(p.b))
            .cloned()
            .collect(),
        c2p: folds(&protocol.c2p),
        p2c: folds(&protocol.p2c),
    }
}

/// Decode, assemble and split: the common tail of every loader.
pub(crate) fn finish(
    kind: &str,
    root: &Path,
    identity_names: &[String],
    entries: &[Entry],
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
    mut report: LoadReport,
) -> Result<(Assembled, Splits, LoadReport), LoadError> {
    let decoded = decode_with_cache(kind, root, entries, opts, progress, &mut report);
    let assembled = assemble(
        root,
        identity_names,
        entries,
        decoded,
        opts.image_size,
        &mut report,
    )?;
    let (splits, excluded) = seeded_splits(&assembled.images, opts);
    report.excluded_identities.extend(excluded);
    Ok((assembled, splits, report))
}

// ---------------------------------------------------------------------------------------------
// The generic `folder:` layout.

fn modality_folder(name: &str) -> Option<Modality> {
    match name.to_ascii_lowercase().as_str() {
        "photo" | "photos" => Some(Modality::Photo),
        "caricature" | "caricatures" => Some(Modality::Caricature),
        _ => None,
    }
}

fn looks_like_folder_layout(root: &Path) -> bool {
    let Ok(ids) = fs::read_dir(root) else {
        return false;
    };
    ids.flatten().take(64).any(|id| {
        fs::read_dir(id.path()).is_ok_and(|subs| {
            subs.flatten().any(|s| {
                modality_folder(&s.file_name().to_string_lossy()).is_some() && s.path().is_dir()
            })
        })
    })
}

/// Collects image files under `dir` (recursively, up to `depth` levels), reporting non-images.
fn collect_images(dir: &Path, depth: usize, out: &mut Vec<PathBuf>, report: &mut LoadReport) {
    let items = match list_dir(dir) {
        Ok(items) => items,
        Err(e) => {
            report
                .skipped_images
                .push((dir.display().to_string(), format!("folder not read: {e}")));
            return;
        }
    };
    for item in items {
        if is_ignored_file(&item.name) {
            continue;
        }
        if item.is_dir {
            if depth > 0 {
                collect_images(&item.path, depth - 1, out, report);
            } else {
                report.skipped_images.push((
                    item.path.display().to_string(),
                    "folder nested too deep: not read".to_string(),
                ));
            }
        } else if has_image_extension(&item.name) {
            out.push(item.path);
        } else {
            report
                .skipped_images
                .push((item.path.display().to_string(), NOT_AN_IMAGE.to_string()));
        }
    }
}

/// Loads `PATH/<identity>/{photo,caricature}/…`. No protocol.
pub(crate) fn load_folder(
    path: &Path,
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<Dataset, LoadError> {
    let root = check_root(path)?;
    let wrong = |hint: String| LoadError::WrongLayout {
        path: root.clone(),
        expected: "<identity>/photo/ and <identity>/caricature/ folders",
        layout: "folder",
        hint,
    };
    // A WebCaricature or CaVI tree would be misread as identities named `CaVI_Dataset` etc.
    let hint = layout_hint(&root, "folder");
    if !hint.is_empty() {
        return Err(wrong(hint));
    }
    let mut report = LoadReport::default();
    let mut names = Vec::new();
    let mut entries = Vec::new();
    let mut any_layout = false;
    for id in list_dir(&root)? {
        if !id.is_dir || is_ignored_file(&id.name) {
            continue;
        }
        let subs = match list_dir(&id.path) {
            Ok(subs) => subs,
            Err(e) => {
                report
                    .excluded_identities
                    .push((id.name.clone(), format!("{e}: left out of every task")));
                continue;
            }
        };
        let mut per_modality: BTreeMap<&'static str, (Modality, Vec<PathBuf>)> = BTreeMap::new();
        let mut strays = Vec::new();
        for sub in subs {
            if is_ignored_file(&sub.name) {
                continue;
            }
            match modality_folder(&sub.name) {
                Some(m) if sub.is_dir => {
                    let slot = per_modality
                        .entry(m.as_str())
                        .or_insert_with(|| (m, Vec::new()));
                    collect_images(&sub.path, 4, &mut slot.1, &mut report);
                }
                _ => strays.push((
                    sub.path.display().to_string(),
                    "not inside a photo/ or caricature/ folder: not read".to_string(),
                )),
            }
        }
        if per_modality.is_empty() {
            report.excluded_identities.push((
                id.name.clone(),
                "no photo/ or caricature/ folder: left out of every task".to_string(),
            ));
            continue;
        }
        report.skipped_images.extend(strays);
        any_layout = true;
        let identity = names.len();
        names.push(id.name.clone());
        for (m, files) in per_modality.into_values() {
            for file in files {
                let key = rel_display(&root, &file);
                entries.push(Entry {
                    path: file,
                    identity,
                    modality: m,
                    key,
                    landmarks: Landmarks::NotUsed,
                });
            }
        }
    }
    if !any_layout {
        return Err(wrong(String::new()));
    }
    let (assembled, splits, report) =
        finish("folder", &root, &names, &entries, opts, progress, report)?;
    Ok(Dataset {
        name: format!("folder:{}", root.display()),
        images: assembled.images,
        splits,
        protocol: None,
        report,
    })
}

// ---------------------------------------------------------------------------------------------
// Test helpers shared by the loader modules' tests.

#[cfg(test)]
pub(crate) mod test_util {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::time::SystemTime;

    /// Writes a small JPEG of one colour.
    pub fn write_jpeg(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
        img.save_with_format(path, image::ImageFormat::Jpeg)
            .unwrap();
    }

    pub fn write_png(path: &Path, img: &image::RgbImage) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        img.save_with_format(path, image::ImageFormat::Png).unwrap();
    }

    pub fn write_text(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG whose (valid, CRC-correct) header claims `w`×`h` pixels, with no pixel data.
    pub fn huge_png_bytes(w: u32, h: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        out
    }

    /// Every file under `root` with its bytes and mtime.
    pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let m = fs::metadata(&p).unwrap();
                if m.is_dir() {
                    stack.push(p);
                } else {
                    out.insert(p.clone(), (fs::read(&p).unwrap(), m.modified().unwrap()));
                }
            }
        }
        out
    }

    pub fn no_progress(_: f32) {}
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    fn opts(cache: &Path) -> LoadOptions {
        LoadOptions {
            image_size: 16,
            seed: 7,
            test_per_modality: 2,
            open_fraction: 0.25,
            cache_dir: Some(cache.to_path_buf()),
            use_cache: true,
        }
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(
            "synthetic".parse::<DatasetSpec>().unwrap(),
            DatasetSpec::Synthetic
        );
        assert_eq!(
            "webcaricature:/data/Web Caricature"
                .parse::<DatasetSpec>()
                .unwrap(),
            DatasetSpec::WebCaricature(PathBuf::from("/data/Web Caricature"))
        );
        assert_eq!(
            "cavi:C:\\x".parse::<DatasetSpec>().unwrap(),
            DatasetSpec::Cavi(PathBuf::from("C:\\x"))
        );
        assert_eq!(
            "folder:rel/dir".parse::<DatasetSpec>().unwrap(),
            DatasetSpec::Folder(PathBuf::from("rel/dir"))
        );
        for bad in ["", "webcaricature:", "lfw:/x", "/data/x"] {
            let msg = bad.parse::<DatasetSpec>().unwrap_err().to_string();
            assert!(msg.contains("`webcaricature:PATH`"), "{msg}");
            assert!(msg.contains("`cavi:PATH`") && msg.contains("`folder:PATH`"));
        }
        let spec = DatasetSpec::Folder(PathBuf::from("/a b"));
        assert_eq!(spec.to_string().parse::<DatasetSpec>().unwrap(), spec);
    }

    #[test]
    fn synthetic_is_refused() {
        let err = load_real(
            &DatasetSpec::Synthetic,
            &LoadOptions::default(),
            &no_progress,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("synthetic generator"), "{err}");
    }

    #[test]
    fn crop_rule_in_pixels() {
        // x 40..80 (w 40 → 60 around 60), y 50..100 (h 50 → 60 around 75).
        let pts = [(40.0, 50.0), (80.0, 100.0), (60.0, 70.0)];
        assert_eq!(
            landmark_crop(&pts, 200, 200),
            Some(CropRect {
                x: 30,
                y: 45,
                width: 60,
                height: 60
            })
        );
        // Clipped at the left/top and right/bottom edges.
        let pts = [(2.0, 3.0), (42.0, 53.0)];
        assert_eq!(
            landmark_crop(&pts, 50, 50),
            Some(CropRect {
                x: 0,
                y: 0,
                width: 50,
                height: 50
            })
        );
        // Fractional edges round outwards: x 10.5..20.5 → 15.5 ± 7.5 = 8..23.
        let pts = [(10.5, 10.0), (20.5, 20.0)];
        assert_eq!(
            landmark_crop(&pts, 100, 100),
            Some(CropRect {
                x: 8,
                y: 9,
                width: 15,
                height: 12
            })
        );
        assert_eq!(landmark_crop(&[(500.0, 500.0)], 100, 100), None);
        assert_eq!(landmark_crop(&[], 100, 100), None);
    }

    #[test]
    fn landmark_parsing() {
        let good: String = (0..17).map(|i| format!("{i} {}.5\r\n", i * 2)).collect();
        let pts = parse_landmarks(&format!("{good}\r\n\r\n")).unwrap();
        assert_eq!(pts.len(), 17);
        assert_eq!(pts[3], (3.0, 6.5));
        let short: String = (0..16).map(|i| format!("{i} {i}\n")).collect();
        assert_eq!(
            parse_landmarks(&short).unwrap_err(),
            (16, "expected 17 points, found 16".to_string())
        );
        let bad = "1 2\n3 x\n";
        assert_eq!(parse_landmarks(bad).unwrap_err().0, 2);
        assert_eq!(parse_landmarks("1 2 3\n").unwrap_err().0, 1);
        assert_eq!(parse_landmarks("nan 2\n").unwrap_err().0, 1);
    }

    #[test]
    fn bad_images_are_described() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ok = d.join("ok.jpg");
        write_jpeg(&ok, 40, 30, [200, 10, 10]);
        assert_eq!(decode_image(&ok).unwrap().dimensions(), (40, 30));
        // A PNG named .jpg decodes (content decides).
        let png = d.join("png.jpg");
        write_png(&png, &image::RgbImage::new(5, 5));
        assert!(decode_image(&png).is_ok());
        let zero = d.join("zero.jpg");
        fs::write(&zero, b"").unwrap();
        assert_eq!(decode_image(&zero).unwrap_err(), "empty file (0 bytes)");
        let text = d.join("text.jpg");
        fs::write(&text, "hello, I am not a picture\n").unwrap();
        assert!(
            decode_image(&text)
                .unwrap_err()
                .contains("not a JPEG or PNG")
        );
        let huge = d.join("huge.png");
        fs::write(&huge, huge_png_bytes(100_000, 100_000)).unwrap();
        let msg = decode_image(&huge).unwrap_err();
        assert!(msg.starts_with("refused before decoding"), "{msg}");
        // A noisy JPEG cut to a third still "decodes" (grey fill) in the JPEG decoder.
        let mut noisy = image::RgbImage::new(64, 64);
        for (i, p) in noisy.pixels_mut().enumerate() {
            *p = image::Rgb([(i * 7) as u8, (i * 13) as u8, (i * 29) as u8]);
        }
        let noisy_jpg = d.join("noisy.jpg");
        noisy
            .save_with_format(&noisy_jpg, image::ImageFormat::Jpeg)
            .unwrap();
        let mut bytes = fs::read(&noisy_jpg).unwrap();
        bytes.extend_from_slice(b"trailing bytes after EOI are fine");
        fs::write(&noisy_jpg, &bytes).unwrap();
        assert!(decode_image(&noisy_jpg).is_ok());
        let trunc = d.join("trunc.jpg");
        fs::write(&trunc, &bytes[..bytes.len() / 3]).unwrap();
        let msg = decode_image(&trunc).unwrap_err();
        assert!(msg.starts_with("truncated JPEG"), "{msg}");
        let trunc_png = d.join("trunc.png");
        write_png(&trunc_png, &noisy);
        let bytes = fs::read(&trunc_png).unwrap();
        fs::write(&trunc_png, &bytes[..bytes.len() / 2]).unwrap();
        let msg = decode_image(&trunc_png).unwrap_err();
        eprintln!("truncated PNG: {msg}");
        assert!(
            decode_image(&d.join("missing.jpg"))
                .unwrap_err()
                .starts_with("cannot open")
        );
    }

    fn folder_tree(root: &Path) {
        for id in 0..5 {
            let name = format!("person {id}");
            for k in 0..4 {
                write_jpeg(
                    &root.join(&name).join("photo").join(format!("p{k}.jpg")),
                    20,
                    20,
                    [id * 40, 0, 0],
                );
                write_jpeg(
                    &root
                        .join(&name)
                        .join("Caricatures")
                        .join("sub")
                        .join(format!("c{k}.jpeg")),
                    20,
                    20,
                    [0, id * 40, 0],
                );
            }
        }
        // Photo-only identity, and one with no modality folder.
        write_jpeg(&root.join("solo/photo/a.jpg"), 20, 20, [1, 2, 3]);
        write_jpeg(&root.join("solo/photo/b.jpg"), 20, 20, [1, 2, 3]);
        write_text(&root.join("nobody/readme.txt"), "x");
        write_text(&root.join("README.md"), "top-level files are ignored");
        write_text(&root.join("person 0/photo/Thumbs.db"), "x");
        write_text(&root.join("person 0/photo/notes.txt"), "x");
    }

    #[test]
    fn folder_layout_counts_and_splits() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree(&root);
        let before = snapshot(&root);
        let spec = DatasetSpec::Folder(root.clone());
        let ds = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
        assert_eq!(ds.images.identities.len(), 6);
        assert_eq!(ds.images.len(), 5 * 8 + 2);
        assert_eq!(ds.images.pixels.len(), ds.images.len() * 16 * 16 * 3);
        assert!(ds.protocol.is_none());
        let r = &ds.report;
        assert_eq!(r.skipped_images.len(), 1, "{:?}", r.skipped_images);
        assert!(r.skipped_images[0].0.ends_with("notes.txt"));
        assert!(
            r.excluded_identities
                .iter()
                .any(|(n, why)| n == "nobody" && why.contains("no photo/ or caricature/ folder"))
        );
        assert!(
            r.excluded_identities
                .iter()
                .any(|(n, why)| n == "solo" && why.starts_with("no caricatures"))
        );
        let s = &ds.splits;
        // 5 identities with both modalities, 0.25 → 1 open.
        assert_eq!(s.open_identities.len(), 1);
        assert_eq!(s.train_identities.len(), 5);
        let solo = ds
            .images
            .identities
            .iter()
            .position(|n| n == "solo")
            .unwrap();
        assert!(s.train_identities.contains(&solo));
        assert!(!s.open_identities.contains(&solo));
        // 4 training identities × 2 modalities × 2 test images; solo has only 2 photos → all train.
        assert_eq!(s.closed_test.len(), 16);
        assert_eq!(s.open.len(), 8);
        assert_eq!(
            s.train.len() + s.closed_test.len() + s.open.len(),
            ds.images.len()
        );
        // Same seed, same split; the pixels of a known sample are its colour.
        let again = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
        assert_eq!(again.splits, ds.splits);
        assert!(again.report.from_cache);
        assert_eq!(again.images.pixels, ds.images.pixels);
        assert_eq!(snapshot(&root), before);
        // A cache folder inside the dataset is refused (nothing written there).
        let inside = opts(&root.join("cache/sub"));
        let third = load_real(&spec, &inside, &no_progress).unwrap();
        assert!(!third.report.from_cache);
        assert!(
            third
                .report
                .skipped_images
                .iter()
                .any(|(p, why)| p.ends_with("cache/sub")
                    && why == "cache folder lies inside the dataset folder: cache not used")
        );
        assert_eq!(snapshot(&root), before);
        assert!(!root.join("cache").exists());
    }

    #[test]
    fn wrong_and_empty_folders() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let o = opts(cache.path());
        let empty = dir.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        let msg = load_real(&DatasetSpec::Folder(empty.clone()), &o, &no_progress)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("expected <identity>/photo/ and <identity>/caricature/ folders under")
                && msg.contains("(folder layout)"),
            "{msg}"
        );
        let missing = dir.path().join("nope");
        let msg = load_real(&DatasetSpec::Folder(missing), &o, &no_progress)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("cannot read ") && msg.contains("nope"),
            "{msg}"
        );
        // A CaVI tree given as folder: is refused rather than misread.
        let cavi = dir.path().join("cavi");
        write_jpeg(
            &cavi.join("CaVI_Dataset/Caricature/Ann/Ann_c_1.jpg"),
            8,
            8,
            [0; 3],
        );
        write_jpeg(
            &cavi.join("CaVI_Dataset/Real/Ann/Ann_r_1.jpg"),
            8,
            8,
            [0; 3],
        );
        let msg = load_real(&DatasetSpec::Folder(cavi), &o, &no_progress)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("this looks like a CaVI tree: use cavi:"),
            "{msg}"
        );
        // All images unusable → one error naming the path and the first cause.
        let bad = dir.path().join("bad");
        write_text(&bad.join("x/photo/a.jpg"), "not a jpeg");
        let msg = load_real(&DatasetSpec::Folder(bad.clone()), &o, &no_progress)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("no usable images under"), "{msg}");
        assert!(msg.contains("not a JPEG or PNG"), "{msg}");
        // Bad options.
        let mut zero = o.clone();
        zero.image_size = 0;
        let msg = load_real(&DatasetSpec::Folder(bad), &zero, &no_progress)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("image_size 0"), "{msg}");
    }

    #[test]
    fn cache_corruption_is_reported_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree(&root);
        let spec = DatasetSpec::Folder(root.clone());
        let first = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
        assert!(!first.report.from_cache);
        let files: Vec<PathBuf> = fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        // Flip one pixel byte near the end.
        let mut bytes = fs::read(&files[0]).unwrap();
        let n = bytes.len();
        bytes[n - 20] ^= 0x55;
        fs::write(&files[0], &bytes).unwrap();
        let second = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
        assert!(!second.report.from_cache);
        let note = second
            .report
            .skipped_images
            .iter()
            .find(|(p, _)| p.ends_with(".bin"))
            .unwrap();
        assert!(note.1.contains("checksum mismatch") && note.1.contains("rebuilt"));
        assert_eq!(second.images.pixels, first.images.pixels);
        // Truncated cache.
        fs::write(&files[0], &bytes[..100]).unwrap();
        let third = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
        assert!(!third.report.from_cache);
        let fourth = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
        assert!(fourth.report.from_cache);
        assert!(
            !fourth
                .report
                .skipped_images
                .iter()
                .any(|(p, _)| p.ends_with(".bin"))
        );
        // No cache at all.
        let mut off = opts(cache.path());
        off.use_cache = false;
        let fifth = load_real(&spec, &off, &no_progress).unwrap();
        assert!(!fifth.report.from_cache);
        // Progress goes from 0 to 1, never backwards.
        let seen = Mutex::new(Vec::new());
        let record = |f: f32| seen.lock().unwrap().push(f);
        load_real(&spec, &off, &record).unwrap();
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.first(), Some(&0.0));
        assert_eq!(seen.last(), Some(&1.0));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    }

    #[test]
    fn open_only_protocol() {
        let images = ImageSet {
            image_size: 1,
            identities: vec!["a".into(), "b".into()],
            samples: vec![
                Sample {
                    identity: 0,
                    modality: Modality::Photo,
                    source: String::new(),
                },
                Sample {
                    identity: 1,
                    modality: Modality::Caricature,
                    source: String::new(),
                },
                Sample {
                    identity: 1,
                    modality: Modality::Photo,
                    source: String::new(),
                },
            ],
            pixels: vec![0; 9],
        };
        let splits = Splits {
            train_identities: vec![0],
            open_identities: vec![1],
            ..Splits::default()
        };
        let p = Protocol {
            verification: vec![
                super::super::VerificationPair {
                    a: 1,
                    b: 2,
                    same: true,
                    fold: 3,
                },
                super::super::VerificationPair {
                    a: 1,
                    b: 0,
                    same: false,
                    fold: 3,
                },
            ],
            c2p: vec![IdentificationFold {
                gallery: vec![0, 2],
                probes: vec![1],
            }],
            p2c: vec![],
        };
        let o = protocol_open_only(&p, &images, &splits);
        assert_eq!(o.verification.len(), 1);
        assert_eq!(o.c2p[0].gallery, vec![2]);
    }
}
