//! Fuzz target `geo_csv`: its body is `entries::geo_csv`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/geo_csv/ and fuzz/regressions/geo_csv/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::geo_csv(data));
