//! Decoding, cropping and resizing images (in parallel), and reading landmark files.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::imageops::{self, FilterType};
use image::{ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use rayon::prelude::*;

use super::options::{MAX_IMAGE_ALLOC, MAX_IMAGE_FILE, MAX_IMAGE_SIDE};
use super::read::{read_bounded, read_text};
use super::scan::rel_display;
use crate::data::Modality;
use crate::data::dataset::LoadMonitor;

/// Decodes one image with size limits. The content decides the format, not the extension.
pub fn decode_image(path: &Path) -> Result<RgbImage, String> {
    let data = read_bounded(path, MAX_IMAGE_FILE).map_err(|e| e.to_string())?;
    let len = data.len();
    if len == 0 {
        return Err("empty file (0 bytes)".to_string());
    }
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

impl EntryResult {
    fn skipped(reason: &str) -> EntryResult {
        EntryResult {
            outcome: Some(reason.to_string()),
            note: None,
            missing: false,
        }
    }
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

/// Decodes every entry in parallel. Progress goes from `from` to `to`; None when the monitor
/// cancelled the load (entries not yet started are then skipped).
pub(crate) fn decode_all(
    root: &Path,
    entries: &[Entry],
    image_size: usize,
    progress: &dyn LoadMonitor,
    (from, to): (f32, f32),
) -> Option<Decoded> {
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
            if progress.cancelled() {
                return EntryResult::skipped("cancelled");
            }
            let r = process_entry(root, entry, size, out);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.files(n, entries.len());
            let step = n * 200 / total;
            if let Ok(mut last) = last_step.lock()
                && step > *last
            {
                *last = step;
                progress.fraction(from + (to - from) * step as f32 / 200.0);
            }
            r
        })
        .collect();
    if progress.cancelled() {
        return None;
    }
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
    Some(decoded)
}
