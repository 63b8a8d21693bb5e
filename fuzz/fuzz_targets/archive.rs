//! Fuzz target `archive`: its body is `entries::archive`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/archive/ and fuzz/regressions/archive/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::archive(data));
