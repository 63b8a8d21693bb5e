//! One scan at a time per data directory.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = ".maillogsentinel.lock";

/// An exclusive lock on a data directory, released when dropped (or when the process dies: it is
/// an `flock`, so a killed scan never leaves a stale lock behind).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another maillogsentinel (pid {holder}) is using {path}; wait for it to finish, or check that \
         it is not hung"
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The pid written by the holder, or `unknown`.
        holder: String,
    },
    /// The lock file could not be created or locked: the data directory cannot be used (not
    /// writable by this user, read-only file system, ...). Not a sign of another process.
    #[error(
        "data directory {dir}: cannot create or lock {path}: {source}; the directory must be writable by \
         the user running maillogsentinel: fix its owner or permissions, or pass --data-dir",
        dir = path.parent().unwrap_or(path).display(),
        path = path.display()
    )]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl DataDirLock {
    /// Takes the lock on `data_dir` without waiting.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io { path: path.clone(), source };
        let mut file =
            super::files::options().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder =
                    if holder.is_empty() { "unknown".to_string() } else { crate::text::visible(holder.as_bytes()) };
                return Err(LockError::Busy { path, holder });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_lock_file_that_cannot_be_opened_is_an_io_error_naming_the_cause_not_busy() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the lock file should be: open() fails with EISDIR, even as root.
        std::fs::create_dir(dir.path().join(LOCK_FILE)).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains("another maillogsentinel"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()) && text.contains("writable"), "{text}");
    }
}
