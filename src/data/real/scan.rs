//! Walking a dataset tree: listing folders, recognising images and
//! annotation files (they are read by `read`).

use std::fs;
use std::path::{Path, PathBuf};

use super::options::LoadError;
use crate::data::LoadReport;

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

/// `path` relative to `root` with `/` separators, for report lines.
pub(crate) fn rel_display(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
