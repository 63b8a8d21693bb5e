//! Where lines come from: log files, their rotated siblings, compressed archives.
//!
//! [`discover`] finds a log's rotated family in age order, [`open`] opens one file (decompressing
//! by magic bytes), [`readahead`] decompresses on a thread of its own, [`fingerprint`] identifies
//! a file by its content so that a renamed or compressed copy is recognised, and [`lines`] reads
//! complete lines in large chunks.

pub mod discover;
pub mod fingerprint;
pub mod lines;
pub mod open;
pub mod readahead;
