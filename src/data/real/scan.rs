//! Walking a dataset tree: listing folders with what each entry resolves to, visiting each real
//! folder and file once (the rules are in the module documentation of `data::real`), and
//! recognising images and annotation files.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::options::LoadError;
use super::read::kind_name;
use crate::data::LoadReport;

/// What a directory entry resolves to, links followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    /// A regular file.
    File,
    /// A FIFO, socket, device…: never opened.
    Special(&'static str),
    /// Cannot be resolved: a dangling link, a link loop, no permission to look.
    Unresolved(String),
}

/// One directory entry.
#[derive(Clone, Debug)]
pub(crate) struct DirItem {
    pub name: String,
    /// The path as walked (the listed folder's path joined with the name): names the entry in
    /// report lines and protocol keys.
    pub path: PathBuf,
    /// The path with every link resolved (`fs::canonicalize`); equal to `path` when unresolved.
    pub canonical: PathBuf,
    /// Whether a symbolic link lies on the way: this entry or a folder above it, up to where
    /// the walk started.
    pub linked: bool,
    pub kind: Kind,
}

impl DirItem {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// Why this entry cannot be read as a file, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match &self.kind {
            Kind::Dir => Some("is a folder".to_string()),
            Kind::File => None,
            Kind::Special(kind) => Some(format!("not a regular file ({kind})")),
            Kind::Unresolved(why) => Some(why.clone()),
        }
    }
}

/// A folder the walk starts from (a dataset root or a layout folder such as `OriginalImages/`).
/// It counts as linked when a link lies on its path: the root is canonical, so its real
/// sub-folders have canonical paths.
pub(crate) fn start_dir(path: &Path) -> Result<DirItem, LoadError> {
    let io_err = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let canonical = fs::canonicalize(path).map_err(io_err)?;
    if !fs::metadata(&canonical).map_err(io_err)?.is_dir() {
        return Err(LoadError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(DirItem {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        linked: canonical != path,
        canonical,
        kind: Kind::Dir,
    })
}

/// The entries of `dir`, sorted by name, each resolved (links followed) without opening it.
pub(crate) fn list_dir(dir: &DirItem) -> Result<Vec<DirItem>, LoadError> {
    let io_err = |source| LoadError::Io {
        path: dir.path.clone(),
        source,
    };
    let mut items = Vec::new();
    for entry in fs::read_dir(&dir.path).map_err(io_err)? {
        items.push(resolve(dir, &entry.map_err(io_err)?));
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(items)
}

/// The entries of the folder at `path` (not walked: no link bookkeeping), sorted by name.
pub(crate) fn list_path(path: &Path) -> Result<Vec<DirItem>, LoadError> {
    list_dir(&start_dir(path)?)
}

fn resolve(dir: &DirItem, entry: &fs::DirEntry) -> DirItem {
    let path = entry.path();
    let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
    // Below a canonical folder, an entry that is not a link is its own canonical path.
    let canonical = if is_link {
        fs::canonicalize(&path)
    } else {
        Ok(dir.canonical.join(entry.file_name()))
    };
    let resolved = canonical.and_then(|c| fs::metadata(&c).map(|m| (c, m)));
    let (canonical, kind) = match resolved {
        Ok((c, meta)) if meta.is_dir() => (c, Kind::Dir),
        Ok((c, meta)) if meta.is_file() => (c, Kind::File),
        Ok((c, meta)) => (c, Kind::Special(kind_name(&meta))),
        Err(e) => (path.clone(), Kind::Unresolved(unresolved(is_link, &e))),
    };
    DirItem {
        name: entry.file_name().to_string_lossy().into_owned(),
        path,
        canonical,
        linked: dir.linked || is_link,
        kind,
    }
}

fn unresolved(is_link: bool, e: &io::Error) -> String {
    match (is_link, e.kind()) {
        (true, io::ErrorKind::NotFound) => {
            "dangling symbolic link (its target does not exist)".to_string()
        }
        (true, _) => format!("symbolic link cannot be followed: {e}"),
        (false, _) => format!("cannot read: {e}"),
    }
}

/// Reason given in the first pass for a linked entry (that pass's report is thrown away).
const LEFT_FOR_SECOND_PASS: &str = "reached through a symbolic link: left for the second pass";

/// Which folders and files a loader's scan has taken, by canonical path.
///
/// A scan runs twice ([`walk_twice`]). The first pass takes only entries with no link on the
/// way: these are each folder's and file's own place in the tree, and since such paths form a
/// tree, that pass ends. The second pass takes those again and follows links, but refuses a
/// linked entry whose target the first pass took (it is read under its own name), or that this
/// pass took already (the first sighting in the sorted walk keeps it; a link back to an
/// enclosing folder is a loop). So every real folder is walked once and every file read once.
#[derive(Default)]
pub(crate) struct Walk {
    /// False during the first pass.
    follow_links: bool,
    /// Canonical path → path as walked, taken in the first pass.
    real_dirs: HashMap<PathBuf, PathBuf>,
    real_files: HashMap<PathBuf, PathBuf>,
    /// The same for the second pass.
    dirs: HashMap<PathBuf, PathBuf>,
    files: HashMap<PathBuf, PathBuf>,
}

/// Runs `scan` in the first pass, then in the second, and returns the second result.
pub(crate) fn walk_twice<T>(
    mut scan: impl FnMut(&mut Walk) -> Result<T, LoadError>,
) -> Result<T, LoadError> {
    let mut walk = Walk::default();
    scan(&mut walk)?;
    walk.follow_links = true;
    scan(&mut walk)
}

impl Walk {
    /// Whether to walk into the folder `item`; `Err(reason)` for a repeat or a loop.
    pub fn enter(&mut self, item: &DirItem) -> Result<(), String> {
        if !item.is_dir() {
            return Err(item.problem().unwrap_or_else(|| "not a folder".to_string()));
        }
        let first = Self::take_path(item, self.follow_links, &mut self.real_dirs, &mut self.dirs)?;
        match first {
            None => Ok(()),
            Some(first) if item.path.starts_with(&first) => Err(format!(
                "symbolic link loop: leads back to {}",
                first.display()
            )),
            Some(first) => Err(format!("same folder as {}", first.display())),
        }
    }

    /// Whether to read the file `item`: `Err(reason)` for a special or unresolved entry, or a
    /// file already taken under another name.
    pub fn take(&mut self, item: &DirItem) -> Result<(), String> {
        if let Some(why) = item.problem() {
            return Err(why);
        }
        self.first_sighting(item)
    }

    /// Like [`Walk::take`] without looking at the entry's type (for files whose reader reports it).
    pub fn first_sighting(&mut self, item: &DirItem) -> Result<(), String> {
        let first = Self::take_path(
            item,
            self.follow_links,
            &mut self.real_files,
            &mut self.files,
        )?;
        match first {
            None => Ok(()),
            Some(first) => Err(format!("same file as {}", first.display())),
        }
    }

    /// Records `item` as taken: `Ok(None)` if it is, `Ok(Some(first path))` for a repeat.
    fn take_path(
        item: &DirItem,
        follow_links: bool,
        real: &mut HashMap<PathBuf, PathBuf>,
        seen: &mut HashMap<PathBuf, PathBuf>,
    ) -> Result<Option<PathBuf>, String> {
        let c = &item.canonical;
        let first = match (follow_links, item.linked) {
            (false, true) => return Err(LEFT_FOR_SECOND_PASS.to_string()),
            (false, false) => real.get(c),
            (true, true) => real.get(c).or_else(|| seen.get(c)),
            // A real entry is refused only when a loader walks the same folder twice.
            (true, false) => seen.get(c),
        };
        if let Some(first) = first {
            return Ok(Some(first.clone()));
        }
        let taken = if follow_links { seen } else { real };
        taken.insert(c.clone(), item.path.clone());
        Ok(None)
    }
}

/// The person folders in `dir` (a `<root>/<Person>/` layout), sorted by name, each entered in
/// `walk`: system files are skipped silently; other files, and folders that are repeats or
/// loops, are reported in `report` as not read.
pub(crate) fn person_dirs(
    walk: &mut Walk,
    dir: &DirItem,
    report: &mut LoadReport,
) -> Result<Vec<DirItem>, LoadError> {
    let mut people = Vec::new();
    for item in list_dir(dir)? {
        if is_ignored_file(&item.name) {
            continue;
        }
        let outcome = if item.is_dir() {
            walk.enter(&item)
        } else {
            Err(item
                .problem()
                .unwrap_or_else(|| "not inside a person folder: not read".to_string()))
        };
        match outcome {
            Ok(()) => people.push(item),
            Err(why) => report
                .skipped_images
                .push((item.path.display().to_string(), why)),
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

/// `Ok` for an image file name, else [`NOT_AN_IMAGE`].
pub(crate) fn image_name(name: &str) -> Result<(), String> {
    if has_image_extension(name) {
        Ok(())
    } else {
        Err(NOT_AN_IMAGE.to_string())
    }
}

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
