#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ and runs each in turn for SECONDS (default 600), one at a
# time, then prints each target's executions, corpus and findings. Exits non-zero when any
# target found a crash, a timeout or an out-of-memory input (its input is in
# target/fuzz/artifacts/TARGET/, ready to copy into fuzz/regressions/TARGET/ once fixed).
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install --locked cargo-fuzz`). The committed
# corpus (fuzz/corpus/TARGET/) and the regressions are read, never written: what the run finds
# goes to target/fuzz/corpus/TARGET/. The committed corpus is kept small (it is replayed by
# tests/fuzz_corpus.rs): what libFuzzer's merge keeps (every feature) where that is small, the
# fewest inputs that cover the same edges where it is not, plus the seeds of scripts/fuzz-seeds.py. To fold a run into it (BIN: fuzz/target/x86_64-unknown-linux-gnu/release/TARGET):
#   mkdir ALL MIN && cp fuzz/corpus/TARGET/* target/fuzz/corpus/TARGET/* ALL/
#   BIN -use_counters=0 -set_cover_merge=1 MIN ALL   (or `cargo +nightly fuzz cmin`, which keeps more)
#   then MIN/* and the seed-* files become fuzz/corpus/TARGET/.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(lines journal archive csv_writer config geo_csv geo_mmdb)
fi

# Inputs longer than this are not tried: long enough for a buffer of log lines, a small archive
# or database, or the documented example configuration.
max_len() {
    case $1 in
        csv_writer) echo 1024 ;;
        lines) echo 4096 ;;
        journal | geo_csv) echo 8192 ;;
        *) echo 16384 ;;
    esac
}

# Debug assertions on: an arithmetic overflow is a finding too.
cargo +nightly fuzz build --fuzz-dir fuzz -O --debug-assertions

failed=0
summary=()
for t in "${targets[@]}"; do
    work=target/fuzz/corpus/$t
    artifacts=target/fuzz/artifacts/$t
    log=target/fuzz/logs/$t.log
    mkdir -p "$work" "$artifacts" "$(dirname "$log")" "fuzz/regressions/$t"
    echo "== $t: ${seconds}s" >&2
    status=0
    cargo +nightly fuzz run --fuzz-dir fuzz -O --debug-assertions "$t" "$work" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$(max_len "$t")" -timeout=10 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    found=$(grep -cE '^(==[0-9]+== ERROR: libFuzzer|SUMMARY: libFuzzer|thread .* panicked)' "$log" || true)
    files=$(find "$work" -type f | wc -l)
    bytes=$(du -sb "$work" | cut -f1)
    line="$t: ${seconds}s, ${runs:-?} executions, $files inputs kept ($bytes bytes), exit $status"
    if [ "$status" -ne 0 ]; then
        failed=1
        line="$line: FINDING ($found reports; see $log and $artifacts/)"
    fi
    summary+=("$line")
    echo "$line" >&2
done

echo
printf '%s\n' "${summary[@]}"
exit $failed
