//! Times the scan's hot path on a log held in memory: the prefilter alone (which counts the lines
//! too), then the prefilter with parsing, then parsing per kind of candidate line.
//!
//! ```text
//! cargo run --release --example parse_bench -- /tmp/mls-bench/mail.log [MEGABYTES] [PASSES]
//! ```
//!
//! Only the first MEGABYTES (default 256) of the log are read, so that the page cache and the
//! disk play no part; each figure is the best of PASSES (default 5). On a machine whose speed
//! varies (a shared VM), count instructions instead, which do not vary:
//! `valgrind --tool=callgrind target/release/examples/parse_bench LOG 16 1`, then
//! `callgrind_annotate --inclusive=yes` (look for `parse_line` and `prefilter`).

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Instant;

use maillogsentinel::parse::{Prefilter, parse_line};

/// `println!` that returns the write's error instead of panicking (a closed pipe, as under `head`).
macro_rules! say {
    ($($arg:tt)*) => { writeln!(std::io::stdout(), $($arg)*) };
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: parse_bench LOG [MEGABYTES]")?;
    let mb: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(256);
    let passes: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let mut data = Vec::new();
    std::fs::File::open(&path)?.take(mb << 20).read_to_end(&mut data)?;
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    data.truncate(end);
    let lines = bytecount::count(&data, b'\n');
    let prefilter = Prefilter::default();
    say!("{path}: {:.1} MB, {lines} lines", data.len() as f64 / 1e6)?;

    let best = |f: &mut dyn FnMut() -> usize| {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..passes.max(1) {
            let t = Instant::now();
            n = f();
            times.push(t.elapsed().as_secs_f64());
        }
        (times.into_iter().fold(f64::MAX, f64::min), n)
    };
    let (t, candidates) = best(&mut || prefilter_only(&prefilter, &data));
    report("prefilter + lines", t, data.len(), candidates)?;
    let (t, events) = best(&mut || prefilter_and_parse(&prefilter, &data));
    report("prefilter + parse", t, data.len(), events)?;

    // Parsing alone, per kind of candidate line (the program that wrote it, and for Dovecot the
    // process), each on a copy of its lines.
    let mut kinds: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut candidates = Vec::new();
    prefilter.scan(&data, |r, _| candidates.push(r));
    for r in candidates {
        let line = &data[r];
        let kind = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .nth(4)
            .map(|w| {
                let w = String::from_utf8_lossy(w);
                let w = w.split('[').next().unwrap_or_default().trim_end_matches(':').to_string();
                if w == "dovecot" {
                    let next = line.split(|&b| b == b' ').filter(|w| !w.is_empty()).nth(5).unwrap_or_default();
                    format!("dovecot {}", String::from_utf8_lossy(next).split('(').next().unwrap_or_default())
                } else {
                    w
                }
            })
            .unwrap_or_default();
        let buf = kinds.entry(kind).or_default();
        buf.extend_from_slice(line);
        buf.push(b'\n');
    }
    for (kind, buf) in &kinds {
        let n = bytecount::count(buf, b'\n');
        if n < 1000 {
            continue;
        }
        let (t, parsed) = best(&mut || parse_each(buf));
        say!("  {kind:32} {n:>8} lines {:>7.1} ns/line ({parsed} events)", t * 1e9 / n as f64)?;
    }
    Ok(())
}

// Each stage is a function of its own, so that a profiler can tell them apart.

#[inline(never)]
fn prefilter_only(prefilter: &Prefilter, data: &[u8]) -> usize {
    let mut n = 0;
    prefilter.scan(data, |_, _| n += 1);
    n
}

#[inline(never)]
fn prefilter_and_parse(prefilter: &Prefilter, data: &[u8]) -> usize {
    let mut n = 0;
    prefilter.scan(data, |r, _| n += usize::from(parse_line(&data[r]).is_some()));
    n
}

#[inline(never)]
fn parse_each(lines: &[u8]) -> usize {
    lines.split(|&b| b == b'\n').filter(|l| parse_line(l).is_some()).count()
}

fn report(what: &str, secs: f64, bytes: usize, n: usize) -> std::io::Result<()> {
    say!("{what:20} {:>7.1} ms {:>8.0} MB/s  ({n})", secs * 1e3, bytes as f64 / secs / 1e6)
}
