//! Every file the program writes goes through [`write_atomically`]: the content is written to a
//! temporary file in the same folder, flushed to disk, then renamed over the target. A crash or
//! an error never leaves a half-written file where the user's was. A leaf: imports nothing of
//! the crate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a file could not be written; names the file.
#[derive(Debug, thiserror::Error)]
#[error("could not write {}: {reason}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub reason: String,
}

/// A temporary name beside `path`, unique within this process and between processes.
fn temporary_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Write `path` by calling `write` on a temporary path beside it, then renaming.
pub fn write_atomically<E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), WriteError> {
    let fail = |reason: String| WriteError {
        path: path.to_path_buf(),
        reason,
    };
    let tmp = temporary_path(path);
    let written = write(&tmp)
        .map_err(|e| e.to_string())
        .and_then(|()| sync_file(&tmp));
    if let Err(reason) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(reason));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    sync_folder_of(path);
    Ok(())
}

/// Write bytes to `path` atomically unless a file is there: Ok(true) when written, Ok(false)
/// when one was (left as it is). Of two processes creating the same file at once, exactly one
/// writes it: the complete temporary file is linked to its name, which fails if it exists.
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<bool, WriteError> {
    let fail = |reason: String| WriteError {
        path: path.to_path_buf(),
        reason,
    };
    let tmp = temporary_path(path);
    if let Err(reason) = std::fs::write(&tmp, bytes)
        .map_err(|e| e.to_string())
        .and_then(|()| sync_file(&tmp))
    {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(reason));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_folder_of(path);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        // A file system without hard links: no race-free create, so the check and the write
        // are two steps (shards starting in the same instant may both write).
        Err(_) if path.exists() => Ok(false),
        Err(_) => write_bytes(path, bytes).map(|()| true),
    }
}

/// Write bytes to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically(path, |tmp| std::fs::write(tmp, bytes))
}

fn sync_file(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("could not flush to disk: {e}"))
}

/// Make a rename or removal in `path`'s folder durable (best effort: not every file system can
/// sync a folder). Files written in place and renamed later (a run's metrics) call this too.
pub fn sync_folder_of(path: &Path) {
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.txt");
        write_bytes(&path, b"old").unwrap();
        let err = write_atomically(&path, |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("data.txt") && err.to_string().contains("disk full"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
        write_bytes(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn create_new_writes_once_and_leaves_an_existing_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.json");
        assert!(create_new(&path, b"first").unwrap());
        assert!(!create_new(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("x.json");
        let err = write_bytes(&path, b"{}").unwrap_err().to_string();
        assert!(err.contains("absent/x.json"), "{err}");
    }
}
