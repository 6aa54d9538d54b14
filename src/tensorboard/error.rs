//! The one error type of the TensorBoard writers; every variant names the file or the byte
//! where things went wrong.

use std::path::PathBuf;

use crate::atomic_file::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum TensorBoardError {
    /// The file system refused a file (the error names it).
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("could not create folder {}: {source}", path.display())]
    CreateFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The input cannot make a file TensorBoard would read; names the file it was meant for.
    #[error("cannot write {}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    /// Bytes that are not a well-formed TFRecord (bad length, checksum, or truncation).
    #[error("corrupt TFRecord at byte {offset}: {reason}")]
    Corrupt { offset: usize, reason: String },
    /// A record's payload that is not an Event as we write them.
    #[error("undecodable event: {reason}")]
    Decode { reason: String },
}

/// Create `dir` (and its parents), so a caller may hand a fresh export folder.
pub fn create_folder(dir: &std::path::Path) -> Result<(), TensorBoardError> {
    std::fs::create_dir_all(dir).map_err(|source| TensorBoardError::CreateFolder {
        path: dir.to_path_buf(),
        source,
    })
}
