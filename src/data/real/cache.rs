//! The decoded-pixel cache: one file per dataset tree and image size, keyed by every source
//! file's path, size and modification time.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::decode::{Decoded, Entry, Landmarks, decode_all};
use super::options::{LoadOptions, MAX_CACHE_FILE, default_cache_dir};
use super::read::open_bounded;
use crate::data::LoadReport;
use crate::data::dataset::LoadMonitor;

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
pub(crate) fn checksum(data: &[u8]) -> u64 {
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
    let file = match open_bounded(path, MAX_CACHE_FILE) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    // Every length below is checked against this size before it is read.
    let file_len = file.len;
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
    crate::atomic_file::write_atomically(path, |tmp| -> io::Result<()> {
        let mut w = BufWriter::new(File::create(tmp)?);
        w.write_all(CACHE_MAGIC)?;
        w.write_all(&CACHE_VERSION.to_le_bytes())?;
        w.write_all(&(meta_bytes.len() as u64).to_le_bytes())?;
        w.write_all(&meta_bytes)?;
        w.write_all(&(d.pixels.len() as u64).to_le_bytes())?;
        w.write_all(&d.pixels)?;
        w.write_all(&sum.to_le_bytes())?;
        w.flush()
    })
    .map_err(|e| format!("cannot write: {}", e.reason))?;
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
    progress: &dyn LoadMonitor,
    report: &mut LoadReport,
) -> Option<Decoded> {
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
    progress.fraction(0.02);
    match read_cache(&path, key, opts.image_size, entries.len()) {
        Ok(Some(decoded)) => {
            report.from_cache = true;
            report.cache_file = Some(path.display().to_string());
            progress.files(entries.len(), entries.len());
            progress.fraction(0.98);
            return Some(decoded);
        }
        Ok(None) => {}
        Err(reason) => report.skipped_images.push((
            path.display().to_string(),
            format!("cache file is corrupt ({reason}): ignored and rebuilt"),
        )),
    }
    let decoded = decode_all(root, entries, opts.image_size, progress, (0.02, 0.98))?;
    match write_cache(&path, key, opts.image_size, &decoded) {
        Ok(()) => report.cache_file = Some(path.display().to_string()),
        Err(reason) => report.skipped_images.push((
            path.display().to_string(),
            format!("cache not saved: {reason}"),
        )),
    }
    Some(decoded)
}
