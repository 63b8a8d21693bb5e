//! The modes of what maillogsentinel creates in the data directory: 0640 for files, 0750 for
//! directories. They hold account names and the addresses of users and attackers, which are for
//! the service and the admins of its group, not for every local user; set here rather than left
//! to the umask, which is 000 in some service managers and containers. A stricter umask still
//! applies (the modes are what `open` and `mkdir` are asked for). Files and directories that
//! already exist keep theirs: they may be the admin's choice.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The mode of a file created in the data directory.
pub const FILE_MODE: u32 = 0o640;
/// The mode of a directory created for the data directory or in it.
pub const DIR_MODE: u32 = 0o750;

/// `OpenOptions` that create a file with [`FILE_MODE`].
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates `dir` and the parents it needs with [`DIR_MODE`]; nothing when it exists.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `dir` with [`DIR_MODE`]; its parent must exist.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(dir)
}

/// Writes `bytes` to the new or existing file `path` (a new one with [`FILE_MODE`]).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    options().write(true).create(true).truncate(true).open(path)?.write_all(bytes)
}
