//! Fuzz target `lines`: its body is `entries::lines`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/lines/ and fuzz/regressions/lines/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::lines(data));
