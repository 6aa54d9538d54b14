//! Opening files for the loaders: only regular files are opened, and no read goes past a
//! stated limit.
//!
//! Every byte the loaders read (images, landmark files, protocol files, the cache) comes through
//! [`open_bounded`]. It looks at what the path resolves to before opening it (`fs::metadata`
//! follows links): opening a FIFO blocks until a writer appears, and a device such as
//! `/dev/zero` never ends, so anything but a regular file is refused unopened. The size on disk
//! is not trusted either (FIFOs and `/dev/zero` report 0 bytes, a file may grow while it is
//! read): the reader stops after `limit + 1` bytes, and getting that extra byte is an error.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::Path;

use super::options::MAX_TEXT_FILE;

/// Why a file was not read. The message gives the cause only: callers put it next to the path
/// (a report line `(path, reason)` or `file:line: reason`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// Missing, a dangling link, no permission, …
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    /// A FIFO, socket, device or folder.
    #[error("not a regular file ({0})")]
    NotRegular(&'static str),
    #[error("file too large ({len} bytes; at most {limit} are read)")]
    TooLarge { len: u64, limit: u64 },
    /// More bytes came than the size on disk allowed for (the file grew while it was read).
    #[error("file too large (more than {limit} bytes; at most {limit} are read)")]
    PastLimit { limit: u64 },
    #[error("cannot read: {0}")]
    Read(#[source] io::Error),
}

impl OpenError {
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, OpenError::Open(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// An open regular file that yields at most `limit + 1` bytes.
pub(crate) struct Bounded {
    reader: io::Take<File>,
    /// The size on disk when it was opened (at most `limit`).
    pub len: u64,
    limit: u64,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Bounded {
    /// The whole file; an error if more than `limit` bytes come.
    pub(crate) fn read_all(self) -> Result<Vec<u8>, OpenError> {
        let hint = usize::try_from(self.len).unwrap_or(0);
        read_capped(self.reader, self.limit, hint)
    }
}

/// Reads `reader` to its end, refusing it once more than `limit` bytes have come.
fn read_capped(reader: impl Read, limit: u64, hint: usize) -> Result<Vec<u8>, OpenError> {
    let mut data = Vec::with_capacity(hint);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(OpenError::Read)?;
    if data.len() as u64 > limit {
        return Err(OpenError::PastLimit { limit });
    }
    Ok(data)
}

/// Opens `path` for reading if it resolves to a regular file of at most `limit` bytes.
pub(crate) fn open_bounded(path: &Path, limit: u64) -> Result<Bounded, OpenError> {
    check(&fs::metadata(path).map_err(OpenError::Open)?, limit)?;
    let file = open_without_waiting(path).map_err(OpenError::Open)?;
    // The path may have been replaced between the look and the open: the handle decides.
    let meta = file.metadata().map_err(OpenError::Read)?;
    check(&meta, limit)?;
    Ok(Bounded {
        reader: file.take(limit.saturating_add(1)),
        len: meta.len(),
        limit,
    })
}

/// A whole regular file of at most `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, OpenError> {
    open_bounded(path, limit)?.read_all()
}

/// A small text file (landmarks, protocols), UTF-8 (lossy), at most [`MAX_TEXT_FILE`] bytes.
pub(crate) fn read_text(path: &Path) -> Result<String, OpenError> {
    let bytes = read_bounded(path, MAX_TEXT_FILE)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn check(meta: &Metadata, limit: u64) -> Result<(), OpenError> {
    if !meta.is_file() {
        return Err(OpenError::NotRegular(kind_name(meta)));
    }
    if meta.len() > limit {
        return Err(OpenError::TooLarge {
            len: meta.len(),
            limit,
        });
    }
    Ok(())
}

/// What a path that is not a regular file is, in words for report lines.
pub(crate) fn kind_name(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "fifo";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
    }
    "unknown file type"
}

/// Opens for reading. On Unix with `O_NONBLOCK`: had the path become a FIFO after it was looked
/// at, `open` returns at once instead of waiting for a writer (and the handle's type is refused
/// next); regular files ignore the flag.
#[cfg(unix)]
fn open_without_waiting(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ten.txt");
        fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_bounded(&file, 10).unwrap(), b"0123456789");
        let err = read_bounded(&file, 9).unwrap_err().to_string();
        assert_eq!(err, "file too large (10 bytes; at most 9 are read)");
        // A source that never ends (what /dev/zero is) is cut after limit + 1 bytes.
        let err = read_capped(io::repeat(0), 1000, 0).unwrap_err().to_string();
        assert_eq!(
            err,
            "file too large (more than 1000 bytes; at most 1000 are read)"
        );
        assert_eq!(read_capped(&b"abc"[..], 3, 0).unwrap(), b"abc");
        let err = read_bounded(dir.path(), 10).unwrap_err().to_string();
        assert_eq!(err, "not a regular file (folder)");
        let missing = read_bounded(&dir.path().join("nope"), 10).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_not_opened() {
        let err = read_bounded(Path::new("/dev/zero"), MAX_TEXT_FILE)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "not a regular file (character device)");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        super::super::test_util::mkfifo(&fifo);
        // Opening it would block until a writer came: this returns at once.
        let err = read_text(&fifo).unwrap_err().to_string();
        assert_eq!(err, "not a regular file (fifo)");
    }
}
