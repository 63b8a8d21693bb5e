//! Where lines come from: log files, their rotated siblings, compressed archives.
//!
//! [`discover`] finds a log's rotated family in age order, [`open`] opens one file (decompressing
//! by magic bytes), [`readahead`] decompresses on a thread of its own, [`fingerprint`] identifies
//! a file by its content so that a renamed or compressed copy is recognised. Complete lines come
//! in [`chunk`]s: [`lines`] reads them in large buffers, and [`mapped`] hands out those of a plain
//! file from a memory map, which [`guard`] keeps from killing the process when the file shrinks
//! under it. The guard is a process-wide signal handler: the program installs it
//! ([`guard::install`]; the binary does at startup), the library never does, and plain files are
//! read rather than mapped until it is. [`limits`] raises the limit of open files a plan needs.

pub mod chunk;
pub mod discover;
pub mod fingerprint;
pub mod guard;
pub mod journal;
pub mod limits;
pub mod lines;
pub mod mapped;
pub mod open;
pub mod readahead;
