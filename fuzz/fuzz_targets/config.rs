//! Fuzz target `config`: its body is `entries::config`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/config/ and fuzz/regressions/config/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::config(data));
