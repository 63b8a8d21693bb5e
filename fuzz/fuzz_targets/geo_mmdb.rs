//! Fuzz target `geo_mmdb`: its body is `entries::geo_mmdb`, which tests/fuzz_corpus.rs also runs on
//! every committed input of fuzz/corpus/geo_mmdb/ and fuzz/regressions/geo_mmdb/.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::geo_mmdb(data));
