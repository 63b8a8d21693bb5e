#!/usr/bin/env bash
# Report benchmark: `maillogsentinel report` for one day and for a year, on a store of synthetic
# events made by examples/report_bench.rs.
#
#   bash bench/report.sh [EVENTS] [DAYS]     # defaults: 10000000 events over 365 days
#
# Environment: BENCH_DIR (default /tmp/mls-report-bench; the store is built once per EVENTS and
# DAYS and reused), RUNS (5), CARGO_TARGET_DIR (default <repo>/target), NO_HYPERFINE=1 (use the
# built-in timing loop), NO_BUILD=1 (use the binaries already built), MLS (binary to time instead
# of the built one).
set -euo pipefail

EVENTS=${1:-10000000}
DAYS=${2:-365}
RUNS=${RUNS:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/mls-report-bench}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
FILL=$TARGET/release/examples/report_bench
MLS=${MLS:-$TARGET/release/maillogsentinel}
# The store is stamped with the date its events end on (yesterday when built): a store built on
# another day is rebuilt, so that `--day yesterday` and `--since` always cover its events.
TODAY=$(date -u +%F)
DATA=$BENCH_DIR/store-$EVENTS-$DAYS-$TODAY

say() { printf '%s\n' "$*" >&2; }

if [[ -z ${NO_BUILD:-} ]]; then
    (cd "$ROOT" && cargo build --release --example report_bench --bin maillogsentinel)
fi
mkdir -p "$BENCH_DIR"
if [[ ! -e $DATA/maillogsentinel.sqlite3 ]]; then
    say "building the store: $EVENTS events over $DAYS days in $DATA"
    rm -rf "$DATA.tmp"
    "$FILL" "$DATA.tmp" "$EVENTS" "$DAYS" >&2
    mv "$DATA.tmp" "$DATA"
fi
DAY=$(date -u -d yesterday +%F)
SINCE=${DAYS}d
say "store: $DATA ($(du -sh "$DATA" | cut -f1)), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs"

day_cmd="$MLS report --data-dir $DATA --timezone UTC --day $DAY --format text --output /dev/null"
year_cmd="$MLS report --data-dir $DATA --timezone UTC --since $SINCE --format text --output /dev/null"

if command -v hyperfine >/dev/null && [[ -z ${NO_HYPERFINE:-} ]]; then
    hyperfine --warmup 1 --runs "$RUNS" -n "report --day $DAY" "$day_cmd" -n "report --since $SINCE" "$year_cmd"
    exit 0
fi

# `median N...`
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# `timed CMD...`: wall seconds of one run.
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
for name in day year; do
    cmd=${name}_cmd
    read -ra argv <<<"${!cmd}"
    "${argv[@]}" >/dev/null # warm-up
    times=()
    for _ in $(seq "$RUNS"); do times+=("$(timed "${argv[@]}")"); done
    printf '%-28s median %s s  (runs: %s)\n' "report ${argv[*]:6:2}" "$(median "${times[@]}")" "${times[*]}"
done
