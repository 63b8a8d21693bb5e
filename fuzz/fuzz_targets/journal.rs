//! Fuzz target `journal`: its body is `entries::journal`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/journal/ and fuzz/regressions/journal/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::journal(data));
