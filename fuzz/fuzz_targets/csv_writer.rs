//! Fuzz target `csv_writer`: its body is `entries::csv_writer`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/csv_writer/ and fuzz/regressions/csv_writer/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::csv_writer(data));
