//! Every committed fuzz input, replayed on stable: each file of `fuzz/corpus/TARGET/` and
//! `fuzz/regressions/TARGET/` goes through the fuzz target's own body (`fuzz/entries.rs`), so a
//! regression on an input the fuzzer found shows in the ordinary test suite, without nightly.
//! `scripts/fuzz.sh` runs the targets themselves.
#![allow(unused_crate_dependencies)]

#[path = "../fuzz/entries.rs"]
mod entries;

use std::path::{Path, PathBuf};

/// The files of `fuzz/DIR/TARGET/`, sorted; an absent directory is none.
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir).join(target);
    let Ok(list) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = list.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Runs `entry` on every input of `target`, naming the input that fails. The corpus must be
/// there and not empty: a test that finds nothing to replay must not pass.
fn replay(target: &str, entry: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ is missing or empty");
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target}: the input {} fails (replay it with scripts/fuzz.sh)", path.display());
    }
}

#[test]
fn lines() {
    replay("lines", entries::lines);
}

#[test]
fn journal() {
    replay("journal", entries::journal);
}

#[test]
fn archive() {
    replay("archive", entries::archive);
}

#[test]
fn csv_writer() {
    replay("csv_writer", entries::csv_writer);
}

#[test]
fn config() {
    replay("config", entries::config);
}

#[test]
fn geo_csv() {
    replay("geo_csv", entries::geo_csv);
}

#[test]
fn geo_mmdb() {
    replay("geo_mmdb", entries::geo_mmdb);
}
