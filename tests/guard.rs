//! The SIGBUS guard is the program's to install, never the library's: until the program has
//! installed it, the library maps no file (plain files are read instead). A test binary of its
//! own, with one test: the handler is process-wide, and the library's unit tests install it.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

use std::io::Write;

use maillogsentinel::source::guard;
use maillogsentinel::source::lines::{Chunk, LineReader};
use maillogsentinel::source::mapped::MappedLines;

#[test]
fn files_are_mapped_only_once_the_program_installed_the_guard() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"one\ntwo\n").unwrap();
    assert!(!guard::installed());
    let err = MappedLines::new(f.reopen().unwrap(), 0).err().expect("mapped without the guard");
    assert!(err.to_string().contains("not installed"), "{err}");
    // What the scan does then: read the file.
    let mut read = LineReader::new(f.reopen().unwrap(), 0);
    assert_eq!(read.next_chunk().unwrap(), Some(Chunk::Lines { offset: 0, data: b"one\ntwo\n" }));

    guard::install().unwrap();
    guard::install().unwrap();
    assert!(guard::installed());
    let mut mapped = MappedLines::new(f.reopen().unwrap(), 4).unwrap();
    assert_eq!(mapped.next_chunk().unwrap(), Some(Chunk::Lines { offset: 4, data: b"two\n" }));
}
